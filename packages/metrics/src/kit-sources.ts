import type * as prom from 'prom-client'
import { readCounters, watchRetiredCounters, type CounterReading } from '@beaver-kit/core'
import type { CardinalityGuard } from './guard.ts'

// Counts the kit's instances keep themselves (a cache's hits and misses, a database's
// statements), read when /metrics is rendered: the hot path pays nothing for them, and the
// values are the instances' own, exact whatever the rate.

type Labels = Record<string, string>

/** One series of a sourced counter: its labels and value. */
export type SourcedSeries = readonly [labels: Labels, value: number]

// Past this many label sets, the totals of closed instances with a new label set are not kept.
const MAX_RETIRED = 4096

const keyOf = (labels: Readonly<Record<string, string>>): string => JSON.stringify(Object.entries(labels))

/**
 * The readings of one package: its live instances' counts now, plus the last counts of the
 * instances closed since this started (so a counter never goes back when a cache is closed).
 */
export class PackageCounters {
  readonly #pkg: string
  readonly #retired = new Map<string, { labels: Readonly<Record<string, string>>; counts: Record<string, number> }>()
  readonly #unwatch: () => void

  constructor(pkg: string) {
    this.#pkg = pkg
    this.#unwatch = watchRetiredCounters((from, readings) => {
      if (from === pkg) for (const r of readings) this.#retire(r)
    })
  }

  #retire(reading: CounterReading): void {
    const key = keyOf(reading.labels)
    let kept = this.#retired.get(key)
    if (kept === undefined) {
      if (this.#retired.size >= MAX_RETIRED) return
      this.#retired.set(key, (kept = { labels: reading.labels, counts: {} }))
    }
    for (const [name, value] of Object.entries(reading.counts)) kept.counts[name] = (kept.counts[name] ?? 0) + value
  }

  /** Every reading, live and retired. */
  read(): CounterReading[] {
    const out = readCounters(this.#pkg)
    for (const kept of this.#retired.values()) out.push(kept)
    return out
  }

  close(): void {
    this.#unwatch()
  }
}

interface Value {
  labels: Labels
  value: number
}

/**
 * A counter whose series are computed when the registry reads it (prom-client's metric shape:
 * `get()`), summed by label set, with every label bounded by the cardinality guard.
 */
export class SourcedCounter {
  readonly type = 'counter'
  name: string
  readonly help: string
  readonly aggregator: prom.Aggregator
  readonly #collect: () => Iterable<SourcedSeries>
  readonly #guard: CardinalityGuard
  readonly #labelNames: readonly string[]

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    collect: () => Iterable<SourcedSeries>,
    guard: CardinalityGuard,
    aggregator: prom.Aggregator = 'sum',
  ) {
    this.name = name
    this.help = help
    this.#labelNames = labelNames
    this.#collect = collect
    this.#guard = guard
    this.aggregator = aggregator
  }

  async get(): Promise<{ name: string; help: string; type: 'counter'; values: Value[]; aggregator: prom.Aggregator }> {
    const summed = new Map<string, Value>()
    for (const [raw, value] of this.#collect()) {
      const labels = this.#guard.apply(raw) as Labels
      const key = this.#labelNames.map((n) => labels[n] ?? '').join('\u0000')
      const cell = summed.get(key)
      if (cell === undefined) summed.set(key, { labels: { ...labels }, value })
      else cell.value += value
    }
    return {
      name: this.name,
      help: this.help,
      type: 'counter',
      values: [...summed.values()],
      aggregator: this.aggregator,
    }
  }

  /** The values come from the instances: there is nothing of this counter's own to reset. */
  reset(): void {
    this.#guard.clear()
  }
}
