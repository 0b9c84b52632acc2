/** A label value as the instruments take it. */
export type LabelValue = string | number

/** Labels of a metric with label names `L`; a missing label is recorded as an empty value. */
export type Labels<L extends string> = { readonly [K in L]?: LabelValue }

/** The value every label value past the cap is recorded as. */
export const OTHER = 'other'

/**
 * Bounds the distinct values of each label of one metric, so that a label fed from a request
 * (a host, a namespace, a user-chosen route) cannot grow memory without end: the first `max`
 * values are kept, later ones become `other`, and `onOverflow` counts every collapsed value.
 * With every label bounded, the number of series is bounded too.
 */
export class CardinalityGuard {
  readonly #seen: Map<string, Set<string>>
  readonly #max: number
  readonly #onOverflow: (label: string, first: boolean) => void
  readonly #overflowed = new Set<string>()

  constructor(labelNames: readonly string[], max: number, onOverflow: (label: string, first: boolean) => void) {
    this.#seen = new Map(labelNames.map((name) => [name, new Set<string>()]))
    this.#max = max
    this.#onOverflow = onOverflow
  }

  /** The labels to record: `labels` itself when every value is known or fits, else a copy with `other`. */
  apply<L extends string>(labels: Labels<L>): Labels<L> {
    let out: Record<string, LabelValue> | undefined
    for (const name in labels) {
      const value = labels[name]
      if (value === undefined) continue
      const seen = this.#seen.get(name)
      // An unknown label name is prom-client's to refuse, with its own message.
      if (seen === undefined) continue
      const key = typeof value === 'string' ? value : String(value)
      if (seen.has(key)) continue
      if (seen.size < this.#max) {
        seen.add(key)
        continue
      }
      out ??= { ...labels } as Record<string, LabelValue>
      out[name] = OTHER
      const first = !this.#overflowed.has(name)
      if (first) this.#overflowed.add(name)
      this.#onOverflow(name, first)
    }
    return (out ?? labels) as Labels<L>
  }

  /** Distinct values kept for each label (for describe() and tests). */
  sizes(): Record<string, number> {
    return Object.fromEntries([...this.#seen].map(([name, set]) => [name, set.size]))
  }

  /** Forgets every value (after the metric was reset). */
  clear(): void {
    for (const set of this.#seen.values()) set.clear()
    this.#overflowed.clear()
  }
}
