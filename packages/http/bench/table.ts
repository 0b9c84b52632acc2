// Writes the benchmark table of README.md (between <!-- bench:start --> and <!-- bench:end -->)
// from bench/results.json, so the docs show what the last run measured.
//   node bench/table.ts
import { readFileSync, writeFileSync } from 'node:fs'

interface Result {
  case: string
  contender: string
  opsPerSec: number
  p99Ms?: number
  nsPerOp?: number
}
const file = JSON.parse(readFileSync(new URL('./results.json', import.meta.url), 'utf8')) as {
  node: string
  date: string
  cpu: string
  quick: boolean
  loadAverage?: number
  results: Result[]
}
const network = file.results.filter((r) => r.p99Ms !== undefined)
const cases = [...new Set(network.map((r) => r.case))]
const contenders = ['beaver-kit', 'undici.request', 'undici.fetch', 'got', 'axios']
const at = (c: string, who: string): Result | undefined => network.find((r) => r.case === c && r.contender === who)
const fmt = (r: Result | undefined): string => (r ? `${r.opsPerSec.toLocaleString('en-US')} / ${r.p99Ms} ms` : '–')
const ratio = (c: string, who: string): string => {
  const kit = at(c, 'beaver-kit')?.opsPerSec
  const other = at(c, who)?.opsPerSec
  return kit && other ? `${(kit / other).toFixed(2)}x` : '–'
}
const lines = [
  `Measured ${file.date.slice(0, 10)}, Node ${file.node}, ${file.cpu}, a machine shared with other work` +
    `${file.loadAverage === undefined ? '' : ` (1-minute load average ${file.loadAverage.toFixed(1)} at the end of the run)`}${file.quick ? ', BENCH_QUICK' : ''}.`,
  '',
  `| Case | ${contenders.map((c) => `${c} req/s / p99`).join(' | ')} | kit ÷ raw | kit ÷ fetch | kit ÷ got | kit ÷ axios |`,
  `|---|${contenders.map(() => '---:').join('|')}|---:|---:|---:|---:|`,
  ...cases.map(
    (c) =>
      `| ${c} | ${contenders.map((who) => fmt(at(c, who))).join(' | ')} | ${ratio(c, 'undici.request')} | ${ratio(c, 'undici.fetch')} | ${ratio(c, 'got')} | ${ratio(c, 'axios')} |`,
  ),
  '',
  '| In process (no sockets, median ns per call) | ns |',
  '|---|---:|',
  ...file.results.filter((r) => r.nsPerOp !== undefined).map((r) => `| ${r.case} (${r.contender}) | ${r.nsPerOp} |`),
]
const readme = new URL('../README.md', import.meta.url)
const text = readFileSync(readme, 'utf8')
const START = '<!-- bench:start -->'
const END = '<!-- bench:end -->'
const start = text.indexOf(START)
const end = text.indexOf(END)
if (start < 0 || end < start) throw new Error(`README.md needs ${START} and ${END}`)
writeFileSync(readme, `${text.slice(0, start + START.length)}\n\n${lines.join('\n')}\n\n${text.slice(end)}`)
console.log('README.md benchmark table written')
