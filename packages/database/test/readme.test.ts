// The README's quick start runs as written: every ```ts run block, on SQLite, and again, and on
// the real MariaDB and PostgreSQL (the same code, DATABASE_URL alone), exiting on its own.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { requireService } from '@beaver-kit/testkit'
import { testDatabase } from './helpers.ts'

const packageDir = fileURLToPath(new URL('..', import.meta.url))
const blocks = [...readFileSync(join(packageDir, 'README.md'), 'utf8').matchAll(/```ts run\n([\s\S]*?)```/g)].map(
  (m) => m[1] as string,
)
const servers = [
  ['mariadb', await requireService('mariadb')],
  ['postgres', await requireService('postgres')],
] as const
const cwd = mkdtempSync(join(tmpdir(), 'beaver-readme-'))

afterAll(async () => {
  rmSync(cwd, { recursive: true, force: true })
  for (const [, url] of servers) {
    if (!url) continue
    const d = testDatabase(url)
    await d.exec('drop table if exists quickstart_notes')
    await d.close()
  }
})

/** Runs a block the way CI does: written into the package folder, run from a clean directory. */
function run(code: string, env: Record<string, string>): ReturnType<typeof spawnSync> {
  const file = join(packageDir, `readme-block-${process.pid}.tmp.ts`)
  writeFileSync(file, code)
  try {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(BEAVER_|DATABASE_URL)/.test(k)))
    return spawnSync(process.execPath, ['--conditions=@beaver-kit/source', '--no-warnings', file], {
      cwd,
      env: { ...clean, ...env },
      encoding: 'utf8',
      timeout: 60_000,
    })
  } finally {
    rmSync(file, { force: true })
  }
}

describe('README quick start', () => {
  it('has a runnable block', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(1)
  })

  it('runs on SQLite with nothing configured, twice, and exits 0', () => {
    for (const code of blocks) {
      for (let i = 0; i < 2; i++) {
        const r = run(code, {})
        expect(r.stderr).toBe('')
        expect(r.status).toBe(0)
        expect(r.stdout).toMatch(/hello from the quick start \(sqlite, [\d.]+ ms\)/)
      }
    }
  })

  for (const [name, url] of servers) {
    it.runIf(url)(`runs on ${name} by DATABASE_URL alone, twice`, () => {
      for (const code of blocks) {
        for (let i = 0; i < 2; i++) {
          const r = run(code, { DATABASE_URL: url as string })
          expect(r.stderr).toBe('')
          expect(r.status).toBe(0)
          expect(r.stdout).toContain(`(${name === 'mariadb' ? 'mysql' : name},`)
        }
      }
    })
  }
})
