import type * as prom from 'prom-client'

// The kit's own counters and histograms record on every cache read and every query, where
// prom-client's per-call work (a label object checked and hashed into a string key) costs more
// than the operation. These keep one plain cell per label set instead, found once through a
// bound child, and are read by the registry like any prom-client metric (same `get()` shape, so
// the text, OpenMetrics and cluster aggregation paths are prom-client's own).
// Exemplars need prom-client's histogram: with OpenMetrics on, the kit uses prom-client's.

type Labels = Record<string, string | number>
type Aggregator = prom.Aggregator

interface Value {
  labels: Labels
  value: number
  metricName?: string
}

/** What a registry reads (prom-client's metric interface, the parts `Registry` uses). */
interface Readable {
  readonly name: string
  readonly help: string
  readonly type: 'counter' | 'histogram'
  readonly aggregator: Aggregator
  get(): Promise<{ name: string; help: string; type: 'counter' | 'histogram'; values: Value[]; aggregator: Aggregator }>
  reset(): void
}

function keyOf(labelNames: readonly string[], labels: Labels): string {
  let key = ''
  for (const name of labelNames) key += `${String(labels[name] ?? '')}\u0000`
  return key
}

function checkLabels(labelNames: readonly string[], labels: Labels): Labels {
  const out: Labels = {}
  for (const name in labels) {
    if (!labelNames.includes(name)) throw new Error(`Added label "${name}" is not included in initial labelset`)
    const value = labels[name]
    if (value !== undefined) out[name] = value
  }
  return out
}

interface CounterCell {
  labels: Labels
  value: number
}

/** A counter of the kit: `labels()` gives a child whose `inc` adds to a number. */
export class KitCounter implements Readable {
  readonly type = 'counter'
  readonly #cells = new Map<string, CounterCell>()
  readonly name: string
  readonly help: string
  readonly aggregator: Aggregator
  readonly #labelNames: readonly string[]

  constructor(name: string, help: string, labelNames: readonly string[], aggregator: Aggregator = 'sum') {
    this.name = name
    this.help = help
    this.#labelNames = labelNames
    this.aggregator = aggregator
  }

  #cell(labels: Labels): CounterCell {
    const key = keyOf(this.#labelNames, labels)
    let cell = this.#cells.get(key)
    if (cell === undefined) {
      cell = { labels: checkLabels(this.#labelNames, labels), value: 0 }
      this.#cells.set(key, cell)
    }
    return cell
  }

  inc(labels: Labels | number = {}, value = 1): void {
    if (typeof labels === 'number') this.labels({}).inc(labels)
    else this.labels(labels).inc(value)
  }

  labels(labels: Labels): { inc(value?: number): void } {
    const cells = this.#cells
    const key = keyOf(this.#labelNames, labels)
    const make = (): CounterCell => this.#cell(labels)
    let cell: CounterCell | undefined
    return {
      inc(value = 1) {
        if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${String(value)}`)
        if (value < 0) throw new Error('It is not possible to decrease a counter')
        // Made on first use, and again after reset() dropped it.
        if (cell === undefined || cells.get(key) !== cell) cell = make()
        cell.value += value
      },
    }
  }

  async get(): Promise<{ name: string; help: string; type: 'counter'; values: Value[]; aggregator: Aggregator }> {
    const values: Value[] = []
    for (const cell of this.#cells.values()) values.push({ labels: { ...cell.labels }, value: cell.value })
    return { name: this.name, help: this.help, type: 'counter', values, aggregator: this.aggregator }
  }

  reset(): void {
    this.#cells.clear()
  }
}

// prom-client's default buckets, in seconds.
const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

interface HistogramCell {
  labels: Labels
  counts: Float64Array
  sum: number
  count: number
}

/** A histogram of the kit: a bound child's `observe` finds the bucket and adds three numbers. */
export class KitHistogram implements Readable {
  readonly type = 'histogram'
  readonly #cells = new Map<string, HistogramCell>()
  readonly name: string
  readonly help: string
  readonly aggregator: Aggregator
  readonly #labelNames: readonly string[]
  readonly #bounds: readonly number[]

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    buckets: readonly number[] | undefined,
    aggregator: Aggregator = 'sum',
  ) {
    this.name = name
    this.help = help
    this.#labelNames = labelNames
    this.#bounds = [...(buckets ?? DEFAULT_BUCKETS)].sort((a, b) => a - b)
    this.aggregator = aggregator
  }

  #cell(labels: Labels): HistogramCell {
    const key = keyOf(this.#labelNames, labels)
    let cell = this.#cells.get(key)
    if (cell === undefined) {
      cell = {
        labels: checkLabels(this.#labelNames, labels),
        counts: new Float64Array(this.#bounds.length),
        sum: 0,
        count: 0,
      }
      this.#cells.set(key, cell)
    }
    return cell
  }

  observe(labels: Labels | number, value?: number): void {
    if (typeof labels === 'number') this.labels({}).observe(labels)
    else this.labels(labels).observe(value as number)
  }

  labels(labels: Labels): { observe(value: number): void } {
    const cells = this.#cells
    const bounds = this.#bounds
    const key = keyOf(this.#labelNames, labels)
    const make = (): HistogramCell => this.#cell(labels)
    let cell: HistogramCell | undefined
    return {
      observe(value) {
        if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${String(value)}`)
        if (cell === undefined || cells.get(key) !== cell) cell = make()
        // Buckets are few (about ten): a linear scan beats a binary search at this size.
        let i = 0
        while (i < bounds.length && value > (bounds[i] as number)) i++
        if (i < bounds.length) cell.counts[i] = (cell.counts[i] as number) + 1
        cell.sum += value
        cell.count += 1
      },
    }
  }

  async get(): Promise<{ name: string; help: string; type: 'histogram'; values: Value[]; aggregator: Aggregator }> {
    const values = this.#values().map(({ labels, sharedLabels, ...v }) => ({
      ...v,
      labels: { ...labels, ...sharedLabels },
    }))
    return { name: this.name, help: this.help, type: 'histogram', values, aggregator: this.aggregator }
  }

  /** What the text exposition reads: `le` first, then the series' labels, as prom-client prints them. */
  async getForPromString(): Promise<{
    name: string
    help: string
    type: 'histogram'
    values: Array<Value & { sharedLabels: Labels }>
    aggregator: Aggregator
  }> {
    return { name: this.name, help: this.help, type: 'histogram', values: this.#values(), aggregator: this.aggregator }
  }

  #values(): Array<Value & { sharedLabels: Labels }> {
    const values: Array<Value & { sharedLabels: Labels }> = []
    const bucket = `${this.name}_bucket`
    for (const { labels, counts, sum, count } of this.#cells.values()) {
      let acc = 0
      for (let i = 0; i < this.#bounds.length; i++) {
        acc += counts[i] as number
        values.push({ labels: { le: this.#bounds[i] as number }, sharedLabels: labels, value: acc, metricName: bucket })
      }
      values.push({ labels: { le: '+Inf' }, sharedLabels: labels, value: count, metricName: bucket })
      values.push({ labels: {}, sharedLabels: labels, value: sum, metricName: `${this.name}_sum` })
      values.push({ labels: {}, sharedLabels: labels, value: count, metricName: `${this.name}_count` })
    }
    return values
  }

  reset(): void {
    this.#cells.clear()
  }
}
