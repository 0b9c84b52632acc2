import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'

const script = join(import.meta.dirname, '..', 'coverage.ts')
let dir = ''
afterEach(() => rmSync(dir, { recursive: true, force: true }))

const counter = (covered: number, total: number) => ({ covered, total, skipped: 0, pct: (100 * covered) / total })

/** A repository with packages a and b (and examples/demo), the given per-file summary and record. */
function gate(summary: Record<string, [number, number, number, number]>, record?: object, args: string[] = []) {
  dir = mkdtempSync(join(tmpdir(), 'coverage-'))
  const files: Record<string, string> = {
    'packages/a/package.json': '{"name":"@beaver-kit/a"}',
    'packages/b/package.json': '{"name":"@beaver-kit/b"}',
    'examples/demo/package.json': '{"name":"@beaver-kit/demo","private":true}',
    'coverage/coverage-summary.json': JSON.stringify(
      Object.fromEntries(
        Object.entries(summary).map(([f, [lc, lt, bc, bt]]) => [
          join(dir, f),
          { lines: counter(lc, lt), branches: counter(bc, bt) },
        ]),
      ),
    ),
  }
  if (record) files['docs/coverage.json'] = JSON.stringify(record)
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    writeFileSync(join(dir, path), text)
  }
  for (const w of ['packages/a', 'packages/b', 'examples/demo']) mkdirSync(join(dir, w, 'src'), { recursive: true })
  const r = spawnSync(process.execPath, [script, ...args], { cwd: dir, encoding: 'utf8' })
  return { status: r.status, out: `${r.stdout}${r.stderr}` }
}

describe('scripts/coverage.ts', () => {
  const healthy: Record<string, [number, number, number, number]> = {
    'packages/a/src/x.ts': [90, 100, 40, 50],
    'packages/a/src/y.ts': [10, 10, 10, 10], // a: 100/110 lines, 50/60 branches
    'packages/b/src/index.ts': [95, 100, 9, 10],
    'examples/demo/src/app.ts': [99, 100, 99, 100],
  }

  it('sums files per package and passes at or above 90% lines and 80% branches', () => {
    const r = gate(healthy, { date: 'd', packages: { a: { lines: 90.9, branches: 83.3 } } })
    expect(r.status).toBe(0)
    expect(r.out).toMatch(/a\s+90\.9%\s+83\.3%\s+90\.9% \/ 83\.3%/)
    expect(r.out).toMatch(/b\s+95%\s+90%\s+none: run `npm run coverage`/)
    expect(r.out).toMatch(/demo\s+99%\s+99%/)
  })

  it('fails a package below either floor, a package added later included', () => {
    const r = gate({ ...healthy, 'packages/b/src/index.ts': [95, 100, 7, 10] })
    expect(r.status).toBe(1)
    expect(r.out).toMatch(/b\s+95%\s+70%.*BELOW THE FLOOR/)
    const unloaded = gate(healthy)
    mkdirSync(join(dir, 'packages', 'c', 'src'), { recursive: true })
    writeFileSync(join(dir, 'packages', 'c', 'package.json'), '{"name":"@beaver-kit/c"}')
    expect(unloaded.status).toBe(0)
    const withC = spawnSync(process.execPath, [script], { cwd: dir, encoding: 'utf8' })
    expect(withC.status).toBe(0) // a src/ with no file in the summary has nothing to cover
    expect(withC.stdout).toMatch(/c\s+100%\s+100%/)
  })

  it('fails when the recorded README figures claim more than the run measured', () => {
    const r = gate(healthy, { date: 'd', packages: { b: { lines: 98, branches: 90 } } })
    expect(r.status).toBe(1)
    expect(r.out).toContain('OVERSTATED: run `npm run coverage` and commit')
  })

  it('--write records the figures for the README sections', () => {
    const r = gate(healthy, undefined, ['--write'])
    expect(r.status).toBe(0)
    const record = JSON.parse(readFileSync(join(dir, 'docs', 'coverage.json'), 'utf8')) as { packages: object }
    expect(record.packages).toEqual({
      a: { lines: 90.9, branches: 83.3 },
      b: { lines: 95, branches: 90 },
      demo: { lines: 99, branches: 99 },
    })
  })
})
