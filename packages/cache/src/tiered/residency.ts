/** A resident's second-chance bit; `resident` turns false when it leaves (a holder then looks it up again). */
export interface ResidencyMark {
  used: boolean
  resident: boolean
  readonly ref: string
  /** The namespace and key of the entry when the tier gave them (saves splitting `ref` on eviction). */
  readonly ns: string | undefined
  readonly key: string | undefined
}

/**
 * Which entries a bounded tier holds, with a second-chance (CLOCK) order: a hit only flips a
 * bit, and the victim is the oldest entry not used since it was last passed over.
 */
export class Residency {
  readonly capacity: number
  readonly #entries = new Map<string, ResidencyMark>()

  constructor(capacity: number) {
    this.capacity = capacity
  }

  get size(): number {
    return this.#entries.size
  }

  get full(): boolean {
    return this.#entries.size >= this.capacity
  }

  has(ref: string): boolean {
    return this.#entries.has(ref)
  }

  /** Marks a resident as used; false when it is not resident. */
  touch(ref: string): boolean {
    return this.touchMark(ref) !== undefined
  }

  /**
   * Marks a resident as used and returns its mark, which a holder may keep and set directly
   * (`mark.used = true`) while `mark.resident` holds: a hit then costs no lookup.
   */
  touchMark(ref: string): ResidencyMark | undefined {
    const mark = this.#entries.get(ref)
    if (mark !== undefined) mark.used = true
    return mark
  }

  add(ref: string, ns?: string, key?: string): void {
    if (!this.#entries.has(ref)) this.enter(ref, ns, key)
  }

  /** Adds `ref`, which the caller knows is not resident (one Map write instead of a lookup and a write). */
  enter(ref: string, ns?: string, key?: string): void {
    this.#entries.set(ref, { used: false, resident: true, ref, ns, key })
  }

  remove(ref: string): void {
    const mark = this.#entries.get(ref)
    if (mark === undefined) return
    mark.resident = false
    this.#entries.delete(ref)
  }

  /** Removes every resident whose ref starts with `prefix` (a cleared namespace). */
  removePrefix(prefix: string): void {
    for (const [ref, mark] of this.#entries) {
      if (!ref.startsWith(prefix)) continue
      mark.resident = false
      this.#entries.delete(ref)
    }
  }

  /** The next victim (not removed): the oldest resident whose used bit is clear. */
  victim(): string | undefined {
    return this.victimMark()?.ref
  }

  /** {@link victim} with its mark (namespace and key included when they were given). */
  victimMark(): ResidencyMark | undefined {
    const marks = this.#entries.values()
    for (let guard = this.#entries.size + 1; guard > 0; guard--) {
      const first = marks.next()
      if (first.done === true) return undefined
      const mark = first.value
      if (!mark.used) return mark
      // Second chance: to the back of the queue with its bit cleared (the same mark, still
      // resident). A Map iterator visits entries added after it started, so it goes on.
      this.#entries.delete(mark.ref)
      mark.used = false
      this.#entries.set(mark.ref, mark)
    }
    return this.#entries.values().next().value
  }
}
