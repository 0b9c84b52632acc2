// Publishing metadata (scripts/package-metadata.ts), then publint and attw (esm-only profile) on
// every publishable package; run after `npm run build`.
import { execFileSync, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { workspaces } from './workspaces.ts'

const bin = (name: string): string => join(process.cwd(), 'node_modules', '.bin', name)
let failed = 0
const metadata = spawnSync(process.execPath, ['scripts/package-metadata.ts', '--check'], { stdio: 'inherit' })
if (metadata.status !== 0) failed++
for (const w of workspaces()) {
  if (w.private) continue
  for (const [tool, args] of [
    ['publint', ['--strict']],
    ['attw', ['--pack', '--profile', 'esm-only', '--format', 'table-flipped']],
  ] as const) {
    try {
      execFileSync(bin(tool), [...args], { cwd: w.dir, stdio: 'pipe' })
      console.log(`${tool} ${w.name}: ok`)
    } catch (err) {
      failed++
      const e = err as { stdout?: Buffer; stderr?: Buffer }
      console.error(`${tool} ${w.name}: FAILED\n${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? ''}`)
    }
  }
}
process.exit(failed ? 1 : 0)
