import { defineProject } from 'vitest/config'
import { projectConfig } from '../../vitest.shared.ts'

// Vitest hands resolve.conditions to the worker as Node --conditions. The shared list has
// "import" and "module", which make Node's own require() of a dual package pick its ESM entry:
// pg's require('pg-pool') then gets a module namespace and fails with "Class extends value
// [object Module]". Keep only the source condition (Vite adds import/require per import kind).
const base = projectConfig('database')
const conditions = ['@beaver-kit/source', 'node']

export default defineProject({
  ...base,
  resolve: { ...base.resolve, conditions },
  ssr: { ...base.ssr, resolve: { ...base.ssr?.resolve, conditions } },
})
