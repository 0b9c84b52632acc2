import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'

const script = join(import.meta.dirname, '..', 'import-cycles.ts')
let dir: string | undefined
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
  dir = undefined
})

/** A repository of the given files (path → text); the checker's exit code and output. */
function cycles(files: Record<string, string>): { status: number | null; out: string } {
  dir = mkdtempSync(join(tmpdir(), 'cycles-'))
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    writeFileSync(join(dir, path), text)
  }
  const r = spawnSync(process.execPath, [script], { cwd: dir, encoding: 'utf8' })
  return { status: r.status, out: `${r.stdout}${r.stderr}` }
}

const pkg = (name: string): string =>
  JSON.stringify({ name: `@beaver-kit/${name}`, exports: { '.': { '@beaver-kit/source': './src/index.ts' } } })

describe('scripts/import-cycles.ts', () => {
  it('finds a cycle that runs through a sibling package', () => {
    const r = cycles({
      'packages/a/package.json': pkg('a'),
      'packages/a/src/index.ts': "export { x } from './x.ts'\n",
      'packages/a/src/x.ts': "import { b } from '@beaver-kit/b'\nexport const x = b\n",
      'packages/b/package.json': pkg('b'),
      'packages/b/src/index.ts': "import { x } from '@beaver-kit/a'\nexport const b = 1\nvoid x\n",
    })
    expect(r.status).toBe(1)
    expect(r.out).toContain(
      'packages/a/src/index.ts -> packages/a/src/x.ts -> packages/b/src/index.ts -> packages/a/src/index.ts',
    )
  })

  it('ignores type-only imports and exports, tests, and follows literal dynamic imports', () => {
    const typeOnly = cycles({
      'packages/a/package.json': pkg('a'),
      'packages/a/src/index.ts':
        "import type { T } from './types.ts'\nexport type { U } from './types.ts'\nexport const a: T = 1\n",
      'packages/a/src/types.ts': "import { a } from './index.ts'\nexport type T = typeof a\nexport type U = T\n",
      'packages/a/test/a.test.ts': "import { a } from '../src/index.ts'\n",
    })
    expect(typeOnly).toEqual({ status: 0, out: 'import cycles: none among 2 source files\n' })
    const lazy = cycles({
      'packages/a/package.json': pkg('a'),
      'packages/a/src/index.ts': "export const load = () => import('./driver.ts')\n",
      'packages/a/src/driver.ts': "import { load } from './index.ts'\nexport const d = load\n",
    })
    expect(lazy.status).toBe(1)
    expect(lazy.out).toContain('packages/a/src/driver.ts -> packages/a/src/index.ts -> packages/a/src/driver.ts')
  })

  it('lets .ci/allow-list excuse a package by name, and says when the excuse is stale', () => {
    const files = {
      'packages/a/package.json': pkg('a'),
      'packages/a/src/index.ts': "import './x.ts'\n",
      'packages/a/src/x.ts': "import './index.ts'\n",
      '.ci/allow-list': 'cycles a  # being split\ncycles b  # fixed already\n',
    }
    const r = cycles(files)
    expect(r.status).toBe(0)
    expect(r.out).toContain('cycles: a FAILED, allowed by .ci/allow-list (being split)')
    expect(r.out).toContain('cycles: b passes now: delete "cycles b" from .ci/allow-list')
    expect(cycles({ ...files, '.ci/allow-list': 'cycles a\n' }).out).toContain('say why a may fail cycles')
  })
})
