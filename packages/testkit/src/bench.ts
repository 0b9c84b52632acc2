// The one benchmark harness of the kit. Every package's bench/ uses it, so every results.json
// has the same shape and every README table is rendered the same way (`npm run docs`).
//
// Rules (../shared/anchors/performance-anchors.md §1): contenders run in the same process
// and run, interleaved over several rounds (in pairs, an order and its reverse, each pair
// rotated one further, so no contender always runs warm or cold), and goals are the median of per-round ratios, which
// cancels most of the drift of a shared 2-core machine. `BENCH_QUICK=1` runs every case once,
// briefly, as a smoke check.
import { writeFileSync } from 'node:fs'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { clockReadNs, type BenchConditions } from './bench-conditions.ts'
import { measureCalls, median, type Measurement } from './bench-measure.ts'

export { clockReadNs, type BenchConditions } from './bench-conditions.ts'
export { cpuClock, measureCalls, median, type CallOptions } from './bench-measure.ts'

/** `beaver-kit`, the npm name of the library users would otherwise pick, or `floor` (raw primitive). */
export type ContenderName = 'beaver-kit' | 'floor' | (string & {})

export type { Measurement } from './bench-measure.ts'

export interface BenchContender {
  contender: ContenderName
  /** A variant of the same contender (`sieve`, `lru`, `pipelined`): a separate column. */
  variant?: string
  /** One operation, sync or async. Either `fn` or `measure`. */
  fn?: () => unknown
  /** A whole measurement done by the bench itself (a child process, a server): returns ops/s. */
  measure?: (window: { warmMs: number; measureMs: number }) => Promise<Measurement>
  /**
   * For a sync `fn` whose work is partly deferred (buffered writes flushed at the end of the
   * event-loop turn, a stream that writes later): resolves once that work is done. The calls
   * then run in batches, each followed by `settle()`, and the time includes it, so a contender
   * that defers its work pays for it in its figure instead of piling it up unmeasured.
   */
  settle?: () => Promise<void>
  /** Runs before each round's measurement of this contender; `teardown` after it. */
  setup?: () => unknown
  teardown?: () => unknown
}

export interface BenchCase {
  name: string
  /** Operations one call of `fn` performs (a batch of 100 keys counts 100). Default 1. */
  opsPerCall?: number
  /** Calls in flight at once for async contenders. Default 1. */
  concurrency?: number
  /** Record each call's latency (p50/p99). Costs two clock reads per call; off for micro cases. */
  latency?: boolean
  contenders: BenchContender[]
}

/** A goal stated as a ratio between two contenders of a case: `value = of ÷ over ≥ target`. */
export interface RatioGoal {
  goal: string
  case: string
  /** Default `beaver-kit`. */
  of?: ContenderRef
  over: ContenderRef
  target: number
}

/** `'lru-cache'`, or `{ contender: 'beaver-kit', variant: 'sieve' }`. */
export type ContenderRef = ContenderName | { contender: ContenderName; variant?: string }

/** A goal the bench computes itself (memory per entry, loader calls): `met` says which way is good. */
export interface GoalResult {
  goal: string
  value: number
  target: number
  met: boolean
}

export interface BenchResult {
  case: string
  contender: ContenderName
  variant?: string
  opsPerSec: number
  /** Slowest and fastest round. */
  minOpsPerSec?: number
  maxOpsPerSec?: number
  p50Ms?: number
  p99Ms?: number
}

/** The schema of every `bench/results*.json`. */
export interface BenchReport {
  package: string
  /** The command that produced it. */
  command: string
  node: string
  date: string
  /** `<model> (<n> vCPU)`. */
  cpu: string
  quick: boolean
  rounds: number
  results: BenchResult[]
  goals: GoalResult[]
  /** What the machine was doing: 1-minute load average at the start and end, and what one clock read costs. */
  conditions?: BenchConditions
  /** Other measured facts (bytes per entry, peak RSS), printed under the table. */
  notes?: string[]
}

export interface BenchOptions {
  /** The package (`cache`); the command is `npm run bench -w @beaver-kit/<package>`. */
  package: string
  /** `import.meta.url` of the bench script: results are written beside it. */
  url: string
  /** Results file suffix: `results-<name>.json` instead of `results.json`. */
  name?: string
  /** The script name when it is not `bench` (`bench:tiered`). */
  script?: string
  cases: BenchCase[]
  goals?: RatioGoal[]
  /** Rounds in full mode. Default 5. */
  rounds?: number
  /** Measuring time per contender per round. Default 1 s (quick: 150 ms). */
  measureMs?: number
  /** Warm-up per contender per round. Default 300 ms (quick: 50 ms). */
  warmMs?: number
  /** Called after all rounds with the results, for goals the bench computes itself. */
  extraGoals?: (results: BenchResult[]) => GoalResult[] | Promise<GoalResult[]>
  notes?: string[] | (() => string[] | Promise<string[]>)
  /** Print progress and the table (default true). */
  print?: boolean
}

export const isQuick = (): boolean => process.env.BENCH_QUICK === '1'

/**
 * `BENCH_ONLY=<text>` runs only the cases whose name contains the text (`a|b`: either), and the
 * goals on them, for profiling one case; like a quick run, such a partial run writes nothing.
 */
export const onlyCases = (): string | undefined => process.env.BENCH_ONLY || undefined

/** The label of a contender in tables: `beaver-kit`, `beaver-kit (sieve)`. */
export function contenderLabel(ref: ContenderRef): string {
  if (typeof ref === 'string') return ref
  return ref.variant ? `${ref.contender} (${ref.variant})` : ref.contender
}

/** The machine as every results.json names it. */
export function cpuLabel(): string {
  const cpus = os.cpus()
  const model = (cpus[0]?.model ?? 'unknown CPU').replace(/\s+/g, ' ').trim()
  return `${model} (${cpus.length} vCPU)`
}

/**
 * Runs every case's contenders interleaved over rounds, prints ops/s and the goals, writes
 * `bench/results*.json` and returns the report.
 * @example
 * await runBench({ package: 'cache', url: import.meta.url, cases: [{ name: 'get hit', contenders: [
 *   { contender: 'beaver-kit', fn: () => c.getSync('k') },
 *   { contender: 'lru-cache', fn: () => lru.get('k') },
 *   { contender: 'floor', fn: () => map.get('k') },
 * ] }], goals: [{ goal: 'get hit ≥ 1.0x lru-cache', case: 'get hit', over: 'lru-cache', target: 1 }] })
 */
export async function runBench(allOptions: BenchOptions): Promise<BenchReport> {
  const only = onlyCases()
  const options = only === undefined ? allOptions : selectCases(allOptions, only)
  const quick = isQuick()
  const rounds = quick ? 1 : (options.rounds ?? 5)
  const measureMs = quick ? 150 : (options.measureMs ?? 1000)
  const warmMs = quick ? 50 : (options.warmMs ?? 300)
  const print = options.print !== false
  const loadStart = os.loadavg()[0] as number
  // perRound[caseName][label] = measurement of each round
  const perRound = new Map<string, Map<string, Measurement[]>>()
  for (const c of options.cases) {
    const labels = c.contenders.map(contenderLabel)
    const twice = labels.find((l, i) => labels.indexOf(l) !== i)
    // Two contenders with one label would share one list of rounds and pair the wrong ratios.
    if (twice !== undefined)
      throw new Error(`bench case "${c.name}": two contenders are labelled "${twice}"; give one a variant`)
  }

  for (let round = 0; round < rounds; round++) {
    for (const c of options.cases) {
      const order = rotate(c.contenders, round)
      const byLabel = perRound.get(c.name) ?? new Map<string, Measurement[]>()
      perRound.set(c.name, byLabel)
      for (const contender of order) {
        const label = contenderLabel(contender)
        await contender.setup?.()
        let m: Measurement
        try {
          m = contender.measure
            ? await contender.measure({ warmMs, measureMs })
            : await measureFn(contender, c, warmMs, measureMs)
        } finally {
          await contender.teardown?.()
        }
        if (!(m.opsPerSec > 0) || !Number.isFinite(m.opsPerSec)) {
          // A ratio over a contender that did nothing is Infinity, and a goal over it "met".
          throw new Error(
            `bench case "${c.name}": ${label} measured ${m.opsPerSec} ops/s in round ${round + 1}: it did no work; fix the contender (a ratio over it means nothing)`,
          )
        }
        const list = byLabel.get(label) ?? []
        list.push(m)
        byLabel.set(label, list)
        if (print) {
          console.log(
            `round ${round + 1}/${rounds}  ${c.name.padEnd(40)} ${label.padEnd(28)} ${formatOps(m.opsPerSec).padStart(8)} ops/s${m.p99Ms === undefined ? '' : `  p99 ${m.p99Ms.toFixed(3)} ms`}`,
          )
        }
      }
    }
  }

  const results: BenchResult[] = []
  for (const c of options.cases) {
    const byLabel = perRound.get(c.name) as Map<string, Measurement[]>
    for (const contender of c.contenders) {
      const ms = byLabel.get(contenderLabel(contender)) ?? []
      const ops = ms.map((m) => m.opsPerSec)
      const result: BenchResult = {
        case: c.name,
        contender: contender.contender,
        ...(contender.variant ? { variant: contender.variant } : {}),
        opsPerSec: Math.round(median(ops)),
      }
      if (rounds > 1) {
        result.minOpsPerSec = Math.round(Math.min(...ops))
        result.maxOpsPerSec = Math.round(Math.max(...ops))
      }
      const p50 = ms.map((m) => m.p50Ms).filter((v): v is number => v !== undefined)
      const p99 = ms.map((m) => m.p99Ms).filter((v): v is number => v !== undefined)
      if (p50.length > 0) result.p50Ms = round3(median(p50))
      if (p99.length > 0) result.p99Ms = round3(median(p99))
      results.push(result)
    }
  }

  const goals: GoalResult[] = (options.goals ?? []).map((g) => {
    const byLabel = perRound.get(g.case)
    const a = byLabel?.get(contenderLabel(g.of ?? 'beaver-kit'))
    const b = byLabel?.get(contenderLabel(g.over))
    if (!a || !b) throw new Error(`bench goal "${g.goal}": case "${g.case}" lacks one of its contenders`)
    const ratios = a.map((m, i) => m.opsPerSec / (b[i] as Measurement).opsPerSec)
    const value = Math.round(median(ratios) * 100) / 100
    return { goal: g.goal, value, target: g.target, met: value >= g.target }
  })
  if (options.extraGoals) goals.push(...(await options.extraGoals(results)))
  const notes = typeof options.notes === 'function' ? await options.notes() : options.notes

  const script = options.script ?? 'bench'
  const report: BenchReport = {
    package: options.package,
    command: `npm run ${script} -w @beaver-kit/${options.package}`,
    node: process.version,
    date: new Date().toISOString(),
    cpu: cpuLabel(),
    quick,
    rounds,
    results,
    goals,
    conditions: {
      loadStart: round2(loadStart),
      loadEnd: round2(os.loadavg()[0] as number),
      clockReadNs: clockReadNs(),
    },
    ...(notes && notes.length > 0 ? { notes } : {}),
  }
  const file = new URL(options.name ? `results-${options.name}.json` : 'results.json', options.url)
  // A quick or partial run is a smoke check: it never overwrites the measured figures the README shows.
  if (!quick && only === undefined) writeFileSync(fileURLToPath(file), `${JSON.stringify(report, null, 2)}\n`)
  if (print) {
    console.log(`\n${renderBenchMarkdown(report)}`)
    if (quick) console.log('\n(BENCH_QUICK=1: results not written)')
    else if (only !== undefined) console.log(`\n(BENCH_ONLY=${only}: results not written)`)
  }
  return report
}

/** The options with only the cases whose name contains `text`, and their goals. */
function selectCases(options: BenchOptions, text: string): BenchOptions {
  const parts = text.split('|')
  const cases = options.cases.filter((c) => parts.some((part) => c.name.includes(part)))
  if (cases.length === 0) throw new Error(`BENCH_ONLY=${text}: no case of ${options.package} has that in its name`)
  const names = new Set(cases.map((c) => c.name))
  return {
    ...options,
    cases,
    goals: (options.goals ?? []).filter((g) => names.has(g.case)),
    extraGoals: undefined,
    notes: undefined,
  }
}

async function measureFn(
  contender: BenchContender,
  c: BenchCase,
  warmMs: number,
  measureMs: number,
): Promise<Measurement> {
  const fn = contender.fn
  if (!fn) throw new Error(`bench case "${c.name}": contender ${contenderLabel(contender)} has neither fn nor measure`)
  return measureCalls(fn, { warmMs, measureMs }, { ...c, settle: contender.settle })
}

/**
 * The order of a case's contenders in a round. Rounds go in pairs, an order and its reverse, and
 * each pair starts one contender further on, so every contender runs first (right after the
 * previous case's work, such as a large file's writeback) as often as the others over the rounds.
 * Shifting by one every round and reversing the odd ones instead gives two contenders the same
 * order every round: the first one always ran first.
 */
function rotate<T>(list: readonly T[], round: number): T[] {
  const n = list.length
  const shift = Math.floor(round / 2)
  const shifted = list.map((_, i) => list[(i + shift) % n] as T)
  return round % 2 === 1 ? shifted.reverse() : shifted
}

const round3 = (n: number): number => Math.round(n * 1000) / 1000
const round2 = (n: number): number => Math.round(n * 100) / 100

export function formatOps(ops: number): string {
  if (ops >= 1e6) return `${(ops / 1e6).toFixed(ops >= 1e7 ? 1 : 2)}M`
  if (ops >= 1e3) return `${(ops / 1e3).toFixed(ops >= 1e4 ? 0 : 1)}k`
  return ops >= 100 ? String(Math.round(ops)) : ops.toFixed(1)
}

/**
 * The README section of a report: the header line (date, Node, machine, command), one table
 * row per case with each contender's ops/s and the kit's ratio over it, then the goals.
 */
export function renderBenchMarkdown(report: BenchReport): string {
  const labels: string[] = []
  for (const r of report.results) {
    const label = contenderLabel(r)
    if (!labels.includes(label)) labels.push(label)
  }
  // The kit's columns first, then rivals in order of appearance, the floor last.
  labels.sort((a, b) => rank(a) - rank(b))
  const cases = [...new Set(report.results.map((r) => r.case))]
  const lines: string[] = []
  const when = report.date.slice(0, 10)
  lines.push(
    `Measured ${when} with \`${report.command}\` on Node ${report.node}, ${report.cpu}; ${report.rounds} interleaved round${report.rounds === 1 ? '' : 's'}, median ops/s. In brackets: beaver-kit ÷ that contender.`,
  )
  lines.push('')
  lines.push(`| Case | ${labels.join(' | ')} |`)
  lines.push(`| --- |${labels.map(() => ' ---: |').join('')}`)
  for (const name of cases) {
    const rows = report.results.filter((r) => r.case === name)
    // The ratios are the kit's default configuration over each contender, not one of its variants.
    const kit =
      rows.find((r) => r.contender === 'beaver-kit' && !r.variant) ?? rows.find((r) => r.contender === 'beaver-kit')
    const cells = labels.map((label) => {
      const r = rows.find((x) => contenderLabel(x) === label)
      if (!r) return ''
      const p99 = r.p99Ms === undefined ? '' : `, p99 ${r.p99Ms} ms`
      if (r.contender === 'beaver-kit' || !kit) return `${formatOps(r.opsPerSec)}${p99}`
      return `${formatOps(r.opsPerSec)}${p99} (${(kit.opsPerSec / r.opsPerSec).toFixed(2)}x)`
    })
    lines.push(`| ${name} | ${cells.join(' | ')} |`)
  }
  if (report.goals.length > 0) {
    lines.push('')
    lines.push('| Goal | Measured | Target | Met |')
    lines.push('| --- | ---: | ---: | :---: |')
    for (const g of report.goals) lines.push(`| ${g.goal} | ${g.value} | ${g.target} | ${g.met ? 'yes' : 'no'} |`)
  }
  if (report.notes && report.notes.length > 0) {
    lines.push('')
    for (const n of report.notes) lines.push(`- ${n}`)
  }
  const c = report.conditions
  if (c !== undefined) {
    lines.push('')
    lines.push(
      `Conditions: 1-minute load average ${c.loadStart} at the start and ${c.loadEnd} at the end (${report.cpu}); one \`performance.now()\` costs ${c.clockReadNs} ns here.`,
    )
  }
  return lines.join('\n')
}

function rank(label: string): number {
  if (label.startsWith('beaver-kit')) return 0
  if (label.startsWith('floor')) return 2
  return 1
}
