// Measures bare pino over sonic-boom in each candidate output mode, on a burst, so that the
// kit's default (sync vs async, minLength) is chosen by numbers. Run: node bench/modes.ts
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import sonicBoom, { type SonicBoom as SonicBoomType } from 'sonic-boom'

// sonic-boom is CommonJS: its named export is invisible to ESM, and its typings mistype the default.
const SonicBoom = sonicBoom as unknown as typeof SonicBoomType
type SonicBoom = SonicBoomType

const LINES = Number(process.env.LINES ?? (process.env.BENCH_QUICK === '1' ? 30_000 : 300_000))
const dir = mkdtempSync(join(tmpdir(), 'beaver-log-modes-'))
const modes = [
  { name: 'sync', sync: true, minLength: 0 },
  { name: 'async minLength=0', sync: false, minLength: 0 },
  { name: 'async minLength=4kb', sync: false, minLength: 4096 },
  { name: 'async minLength=8kb', sync: false, minLength: 8192 },
  { name: 'sync minLength=4kb', sync: true, minLength: 4096 },
  { name: 'sync minLength=8kb', sync: true, minLength: 8192 },
]
for (const target of ['/dev/null', 'file']) {
  for (const mode of modes) {
    const dest = target === 'file' ? join(dir, `${mode.name.replace(/\W/g, '_')}.log`) : '/dev/null'
    const stream = new SonicBoom({ dest, sync: mode.sync, minLength: mode.minLength })
    const log = pino(stream)
    const start = performance.now()
    for (let i = 0; i < LINES; i++) log.info({ a: i, b: 'hello', c: true })
    await new Promise<void>((resolve) => {
      stream.once('close', () => resolve())
      stream.end()
    })
    const ms = performance.now() - start
    console.log(
      `${target.padEnd(10)} ${mode.name.padEnd(22)} ${Math.round((LINES / ms) * 1000).toLocaleString('en')} lines/s (incl. drain)`,
    )
  }
}
rmSync(dir, { recursive: true, force: true })
