// Regenerates the env table of every package README from its config schema, between
// <!-- env:start --> and <!-- env:end -->. `--check` fails (for CI) when a README is stale.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { isSchema, renderEnvTable, type Schema } from '@beaver-kit/config'
import { workspaces } from './workspaces.ts'

const check = process.argv.includes('--check')
// `--package @beaver-kit/cache` (or `cache`) limits the run to one package.
const only = process.argv[process.argv.indexOf('--package') + 1]
const wanted = process.argv.includes('--package') && only ? only.replace(/^@beaver-kit\//, '') : undefined
const START = '<!-- env:start -->'
const END = '<!-- env:end -->'
let stale = 0

for (const w of workspaces()) {
  if (wanted && w.name.replace(/^@beaver-kit\//, '') !== wanted) continue
  const configFile = join(w.dir, 'src', 'config.ts')
  if (!existsSync(configFile)) continue
  const mod = (await import(pathToFileURL(configFile).href)) as Record<string, unknown>
  const schemas = Object.values(mod).filter(isSchema) as Schema[]
  if (schemas.length === 0) continue
  const table = schemas
    .map((s) => (schemas.length > 1 ? `#### ${s.title}\n\n${renderEnvTable(s)}` : renderEnvTable(s)))
    .join('\n\n')
  const readmePath = join(w.dir, 'README.md')
  const readme = existsSync(readmePath) ? readFileSync(readmePath, 'utf8') : ''
  const start = readme.indexOf(START)
  const end = readme.indexOf(END)
  if (start < 0 || end < start) {
    console.error(`${w.name}: README.md needs ${START} and ${END} markers where the env table goes`)
    stale++
    continue
  }
  const next = `${readme.slice(0, start + START.length)}\n\n${table}\n\n${readme.slice(end)}`
  if (next === readme) {
    console.log(`${w.name}: env table up to date`)
  } else if (check) {
    console.error(`${w.name}: env table in README.md is stale; run npm run docs`)
    stale++
  } else {
    writeFileSync(readmePath, next)
    console.log(`${w.name}: env table written`)
  }
}
process.exit(stale ? 1 : 0)
