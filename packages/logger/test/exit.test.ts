import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

const fixture = fileURLToPath(new URL('./fixtures/fatal-exit.ts', import.meta.url))
let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'beaver-log-exit-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

function run(file: string, mode: string): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--conditions=@beaver-kit/source', fixture, file, mode],
      { maxBuffer: 64 * 1024 * 1024 },
      (err, stdout) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout })
      },
    )
  })
}

describe('fatal then process.exit()', () => {
  for (const mode of ['buffered', 'sync', 'async']) {
    it(`still writes every line, the fatal one last, to a file and to stdout (${mode} mode)`, async () => {
      const file = join(dir, 'app.log')
      const { code, stdout } = await run(file, mode)
      expect(code).toBe(3)
      for (const text of [await readFile(file, 'utf8'), stdout]) {
        const lines = text.split('\n').filter(Boolean)
        expect(lines).toHaveLength(1_001)
        expect(JSON.parse(lines.at(-1) as string)).toMatchObject({ level: 60, code: 'BOOM', msg: 'fatal: giving up' })
      }
    })
  }
})
