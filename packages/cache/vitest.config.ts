import { defineProject } from 'vitest/config'
import { projectConfig } from '../../vitest.shared.ts'

// Vitest hands resolve.conditions to the worker as Node --conditions. The shared list has
// "import" and "module", which make Node's own require() of a dual package pick its ESM entry
// (pg's require('pg-pool') then fails with "Class extends value [object Module]" when the
// database driver runs). Keep only the source condition, as packages/database does.
const base = projectConfig('cache')
const conditions = ['@beaver-kit/source', 'node']

export default defineProject({
  ...base,
  resolve: { ...base.resolve, conditions },
  ssr: { ...base.ssr, resolve: { ...base.ssr?.resolve, conditions } },
})
