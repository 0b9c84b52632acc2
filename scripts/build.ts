// Builds every package's dist/ in dependency order (each build reads its siblings' .d.ts).
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { workspaces } from './workspaces.ts'

const tsc = join(process.cwd(), 'node_modules', '.bin', 'tsc')
for (const w of workspaces()) {
  const config = join(w.dir, 'tsconfig.build.json')
  if (!existsSync(config)) continue
  console.log(`build ${w.name}`)
  execFileSync(tsc, ['-p', config], { stdio: 'inherit' })
}
