// Regenerates the generated sections of every package README:
//   <!-- env:start --> ... <!-- env:end -->            the env table, from the schemas in src/config.ts
//   <!-- channels:start --> ... <!-- channels:end -->  the Diagnostics table, from src/channels.ts
//   <!-- bench:start --> ... <!-- bench:end -->        the benchmark tables, from bench/results*.json
//   <!-- coverage:start --> ... <!-- coverage:end -->  lines and branches covered, from docs/coverage.json
// `--check` fails (for CI) when a README is stale or a section's markers are missing;
// `--package cache` limits the run to one package.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { isSchema, renderEnvTable, type Schema } from '@beaver-kit/config'
import { isDeclaredChannels, listChannels, type ChannelInfo } from '@beaver-kit/core'
import { renderBenchMarkdown, type BenchReport } from '@beaver-kit/testkit/bench'
import { workspaces } from './workspaces.ts'
import type { CoverageRecord } from './coverage.ts'

const check = process.argv.includes('--check')
const only = process.argv[process.argv.indexOf('--package') + 1]
const wanted = process.argv.includes('--package') && only ? only.replace(/^@beaver-kit\//, '') : undefined
let failures = 0

interface Section {
  marker: string
  render: () => Promise<string | undefined>
}

for (const w of workspaces()) {
  if (wanted && w.name.replace(/^@beaver-kit\//, '') !== wanted) continue
  const readmePath = join(w.dir, 'README.md')
  let readme = existsSync(readmePath) ? readFileSync(readmePath, 'utf8') : ''
  const original = readme
  const sections: Section[] = [
    { marker: 'env', render: () => envTable(w.dir) },
    { marker: 'channels', render: () => channelsTable(w.dir) },
    { marker: 'bench', render: () => Promise.resolve(benchTables(w.dir)) },
    { marker: 'coverage', render: () => Promise.resolve(coverageLine(w.dir)) },
  ]
  for (const section of sections) {
    let body: string | undefined
    try {
      body = await section.render()
    } catch (err) {
      console.error(`${w.name}: ${(err as Error).message}`)
      failures++
      continue
    }
    if (body === undefined) continue
    const start = `<!-- ${section.marker}:start -->`
    const end = `<!-- ${section.marker}:end -->`
    const i = readme.indexOf(start)
    const j = readme.indexOf(end)
    if (i < 0 || j < i) {
      console.error(`${w.name}: README.md needs ${start} and ${end} markers where the ${section.marker} section goes`)
      failures++
      continue
    }
    readme = `${readme.slice(0, i + start.length)}\n\n${body}\n\n${readme.slice(j)}`
  }
  if (readme === original) {
    console.log(`${w.name}: README up to date`)
  } else if (check) {
    console.error(`${w.name}: generated sections of README.md are stale; run npm run docs`)
    failures++
  } else {
    writeFileSync(readmePath, readme)
    console.log(`${w.name}: README sections written`)
  }
}
process.exit(failures ? 1 : 0)

async function envTable(dir: string): Promise<string | undefined> {
  const file = join(dir, 'src', 'config.ts')
  if (!existsSync(file)) return undefined
  const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>
  const schemas = Object.values(mod).filter(isSchema) as Schema[]
  if (schemas.length === 0) return undefined
  return schemas
    .map((s) => (schemas.length > 1 ? `#### ${s.title}\n\n${renderEnvTable(s)}` : renderEnvTable(s)))
    .join('\n\n')
}

async function channelsTable(dir: string): Promise<string | undefined> {
  const file = join(dir, 'src', 'channels.ts')
  if (!existsSync(file)) return undefined
  const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>
  const declared = Object.values(mod).filter(isDeclaredChannels)
  // core's channels.ts holds the mechanism, not channels of its own: nothing to list.
  if (declared.length === 0) return undefined
  const rows: ChannelInfo[] = declared.flatMap((d) => [...listChannels(d)])
  const lines = ['| Channel | Kind | Published when | Payload |', '| --- | --- | --- | --- |']
  for (const c of rows) lines.push(`| \`${c.name}\` | ${c.kind} | ${c.doc} | ${c.payload} |`)
  return lines.join('\n')
}

function benchTables(dir: string): string | undefined {
  const benchDir = join(dir, 'bench')
  if (!existsSync(benchDir)) return undefined
  const files = readdirSync(benchDir)
    .filter((f) => /^results(-[a-z0-9-]+)?\.json$/.test(f))
    .sort((a, b) => (a === 'results.json' ? -1 : b === 'results.json' ? 1 : a.localeCompare(b)))
  if (files.length === 0) return undefined
  const parts: string[] = []
  for (const f of files) {
    const report = JSON.parse(readFileSync(join(benchDir, f), 'utf8')) as Partial<BenchReport>
    if (typeof report.package !== 'string' || typeof report.command !== 'string' || !Array.isArray(report.goals)) {
      throw new Error(`bench/${f} is not on the shared harness schema (@beaver-kit/testkit/bench); rerun its bench`)
    }
    if (report.quick) throw new Error(`bench/${f} holds a BENCH_QUICK run; rerun the full bench`)
    parts.push(renderBenchMarkdown(report as BenchReport))
  }
  return parts.join('\n\n')
}

function coverageLine(dir: string): string | undefined {
  if (!existsSync(join(dir, 'src'))) return undefined
  const file = join(process.cwd(), 'docs', 'coverage.json')
  const record = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as CoverageRecord) : undefined
  const name = dir.split(/[\\/]/).at(-1) as string
  const figures = record?.packages[name]
  const gate = 'CI fails a package below 90% of lines or 80% of branches (`scripts/coverage.ts`).'
  if (!record || !figures) return `Not measured yet: run \`npm run coverage\`. ${gate}`
  return (
    `Lines ${figures.lines}%, branches ${figures.branches}% of \`src/\`, by the whole test suite ` +
    `(\`npm run coverage\`, ${record.date}). ${gate}`
  )
}
