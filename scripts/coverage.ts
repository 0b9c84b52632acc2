// The coverage gate, per workspace (every packages/* and examples/* with a src/ folder, so a
// package added later is gated without a line of configuration):
//   - reads coverage/coverage-summary.json, written by `vitest run --coverage` (the root config
//     includes packages/*/src and examples/*/src; a package's figure counts every test of the
//     suite that runs its code, e.g. testkit's conformance suites run by the packages);
//   - fails below 90% of lines or 80% of branches (unless .ci/allow-list names the package);
//   - fails when docs/coverage.json, which the READMEs' coverage sections are generated from,
//     claims more than the run measured (beyond a small tolerance for timing-dependent paths).
//   node scripts/coverage.ts           the gate (CI, after `npm test -- --coverage`)
//   node scripts/coverage.ts --write   record the measured figures in docs/coverage.json
//   npm run coverage                   run the suite with coverage, record, regenerate READMEs
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, relative, sep } from 'node:path'
import { loadAllowList } from './allow-list.ts'
import { workspaces } from './workspaces.ts'

export const FLOOR = { lines: 90, branches: 80 } as const
/** How far a recorded figure may exceed a new measurement before the README counts as untrue. */
const TOLERANCE = 2

interface Counter {
  total: number
  covered: number
}
type Summary = Record<string, { lines: Counter; branches: Counter }>
export interface CoverageRecord {
  date: string
  packages: Record<string, { lines: number; branches: number }>
}

const root = process.cwd()
const summaryFile = join(root, 'coverage', 'coverage-summary.json')
const recordFile = join(root, 'docs', 'coverage.json')
if (!existsSync(summaryFile)) {
  console.error('coverage: no coverage/coverage-summary.json; run `npm test -- --coverage` first')
  process.exit(1)
}
const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as Summary
const measured = perWorkspace(summary)
const record: CoverageRecord = existsSync(recordFile)
  ? (JSON.parse(readFileSync(recordFile, 'utf8')) as CoverageRecord)
  : { date: '', packages: {} }

if (process.argv.includes('--write')) {
  const packages = Object.fromEntries(
    [...measured].map(([name, m]) => [name, { lines: m.lines, branches: m.branches }]),
  )
  const next: CoverageRecord = { date: new Date().toISOString().slice(0, 10), packages }
  mkdirSync(join(root, 'docs'), { recursive: true })
  writeFileSync(recordFile, `${JSON.stringify(next, null, 2)}\n`)
  console.log(`coverage: recorded ${measured.size} packages in docs/coverage.json; run \`npm run docs\``)
  process.exit(0)
}

const below = new Set<string>()
const rows = ['package      lines   branches  recorded (docs/coverage.json)']
let untrue = 0
for (const [name, m] of [...measured].sort((a, b) => a[0].localeCompare(b[0]))) {
  const low = m.lines < FLOOR.lines || m.branches < FLOOR.branches
  if (low) below.add(name)
  const rec = record.packages[name]
  let note = rec ? `${rec.lines}% / ${rec.branches}%` : 'none: run `npm run coverage`'
  if (rec && (rec.lines > m.lines + TOLERANCE || rec.branches > m.branches + TOLERANCE)) {
    untrue++
    note += '  OVERSTATED: run `npm run coverage` and commit'
  }
  rows.push(
    `${name.padEnd(12)} ${`${m.lines}%`.padStart(6)}  ${`${m.branches}%`.padStart(8)}  ${note}${low ? '  BELOW THE FLOOR' : ''}`,
  )
}
console.log(`coverage per package (floor: ${FLOOR.lines}% lines, ${FLOOR.branches}% branches)\n${rows.join('\n')}`)
const blocking = loadAllowList(root).settle('coverage', below) + untrue
if (untrue > 0) console.error(`coverage: ${untrue} README figure(s) claim more than this run measured`)
process.exit(blocking > 0 ? 1 : 0)

/** Lines and branches per workspace with a src/ folder, in percent with one decimal. */
function perWorkspace(s: Summary): Map<string, { lines: number; branches: number }> {
  const totals = new Map<string, { lines: Counter; branches: Counter }>()
  for (const w of workspaces(root)) {
    if (existsSync(join(w.dir, 'src'))) totals.set(short(w.dir), { lines: zero(), branches: zero() })
  }
  for (const [file, c] of Object.entries(s)) {
    if (file === 'total') continue
    const parts = relative(root, file).split(sep)
    const t = totals.get(`${parts[0]}/${parts[1]}`.replace(/^(packages|examples)\//, ''))
    if (!t || parts[2] !== 'src') continue
    t.lines.total += c.lines.total
    t.lines.covered += c.lines.covered
    t.branches.total += c.branches.total
    t.branches.covered += c.branches.covered
  }
  const pct = (c: Counter): number => (c.total === 0 ? 100 : Math.floor((1000 * c.covered) / c.total) / 10)
  return new Map([...totals].map(([k, t]) => [k, { lines: pct(t.lines), branches: pct(t.branches) }]))
}

function short(dir: string): string {
  return relative(root, dir).split(sep).slice(1).join('/')
}

function zero(): Counter {
  return { total: 0, covered: 0 }
}
