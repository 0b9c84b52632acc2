import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const repo = join(import.meta.dirname, '..', '..')
let dir = ''
let result: { status: number | null; out: string }

const readme = (blocks: string[]): string => blocks.map((b) => `Some text.\n\n${b}\n`).join('\n')

// One run of the runner over a small repository: a package whose README has a good block, a
// block that throws, one that never exits and one with a type error; a package without any.
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'readme-run-'))
  const files: Record<string, string> = {
    'tsconfig.base.json': JSON.stringify({
      compilerOptions: {
        target: 'es2023',
        module: 'nodenext',
        strict: true,
        types: ['node'],
        allowImportingTsExtensions: true,
        noEmit: true,
      },
    }),
    'packages/good/package.json': '{"name":"@beaver-kit/good","type":"module"}',
    'packages/good/README.md': readme([
      "```ts run\nimport { writeFileSync } from 'node:fs'\nwriteFileSync('ran.txt', process.cwd())\n```",
      '```ts\nthis is only a fragment\n```',
    ]),
    'packages/bad/package.json': '{"name":"@beaver-kit/bad","type":"module"}',
    'packages/bad/README.md': readme([
      "```ts run\nthrow new Error('boom')\n```",
      '```ts run timeout=3s\nsetInterval(() => {}, 1000)\n```',
      "```ts run\nconst n: number = 'text'\nconsole.log(n)\n```",
    ]),
    'packages/none/package.json': '{"name":"@beaver-kit/none","type":"module"}',
    'packages/none/README.md': '# none\n',
  }
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    writeFileSync(join(dir, path), text)
  }
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'))
  const r = spawnSync(process.execPath, [join(repo, 'scripts', 'readme-run.ts'), '--once'], {
    cwd: dir,
    encoding: 'utf8',
  })
  result = { status: r.status, out: `${r.stdout}${r.stderr}` }
}, 120_000)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('scripts/readme-run.ts', () => {
  it('runs a block in its package folder and leaves no temporary file behind', () => {
    expect(result.out).toContain('ok   packages/good/README.md:3')
    expect(existsSync(join(dir, 'packages', 'good', 'ran.txt'))).toBe(true)
    expect(readdirSync(join(dir, 'packages', 'good')).filter((f) => f.startsWith('.readme-run'))).toEqual([])
  })

  it('fails a block that exits non-zero, one that never exits, and one with a type error', () => {
    expect(result.status).toBe(1)
    expect(result.out).toContain('FAIL packages/bad/README.md:3  exited with code 1')
    expect(result.out).toContain('Error: boom')
    expect(result.out).toContain('FAIL packages/bad/README.md:9  still running after 3s')
    expect(result.out).toContain('end the block with `await shutdown()`')
    expect(result.out).toMatch(/packages\/bad\/README.md:16: error TS2322/)
  })

  it('fails a public package whose README has no run block', () => {
    expect(result.out).toContain('@beaver-kit/none: its README has no ```ts run block')
    expect(result.out).toContain('readme blocks: 1 of 4 ran (1x each), 2 package(s) failing')
  })
})
