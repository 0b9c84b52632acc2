import { FrequencySketch } from './sketch.ts'

/**
 * Decides how entries move between the tiers of a {@link TieredDriver}. `ref` identifies an
 * entry across namespaces (`namespace + '\0' + key`); tier 0 is the top (fastest) tier.
 * A strategy only decides; the tiered driver does the copying and deleting.
 */
export interface TierStrategy {
  /** Shown in metrics and events. */
  readonly name: string
  /**
   * Called on every read of `ref`, before the tiers are asked. `hash` is `sketchHash(ref)`
   * when the caller keeps it (L1 hits do), so a frequency-counting strategy need not hash again.
   */
  recordAccess(ref: string, hash?: number): void
  /** A read found `ref` in tier `found`: copy it up into tier `tier` (< found)? */
  shouldPromote(ref: string, tier: number, found: number): boolean
  /**
   * Bounded tier `tier` is full and `candidate` wants in: evict `victim` (true) or keep the
   * victim and leave the candidate out of this tier (false)?
   */
  admit(candidate: string, victim: string, tier: number): boolean
  /** `ref` leaves bounded tier `tier` to make room: write it into the tier below (true) rather than dropping it? */
  shouldDemote(ref: string, tier: number): boolean
}

/**
 * Promote on any hit, admit every entry (the top tier then behaves like a CLOCK/LRU of the
 * most recent keys), drop what falls out. What most tiered caches do.
 */
export class BasicStrategy implements TierStrategy {
  readonly name = 'basic'
  recordAccess(): void {}
  shouldPromote(): boolean {
    return true
  }
  admit(): boolean {
    return true
  }
  shouldDemote(): boolean {
    return false
  }
}

/** Options of {@link AdaptiveStrategy}. */
export interface AdaptiveStrategyOptions {
  /** Distinct keys the frequency sketch should tell apart; default 10,000 (use the top tier's size or more). */
  capacity?: number
  /** Recent accesses a key needs before a hit in a lower tier copies it upwards; default 1 (the access itself). */
  promoteMinFrequency?: number
  /** Write entries leaving a bounded tier into the tier below; default true. */
  demote?: boolean
}

/**
 * Frequency-based admission (TinyLFU): every read is counted in an aging count-min sketch;
 * when a bounded tier is full, a candidate replaces the tier's victim only if it was accessed
 * more often recently, so a scan or a long tail of one-off keys cannot flush the hot set.
 * Entries that leave a bounded tier are demoted to the tier below rather than dropped.
 * @example createTieredCache({ tiers: ['memory', 'redis'], strategy: new AdaptiveStrategy({ capacity: 10_000 }) })
 */
export class AdaptiveStrategy implements TierStrategy {
  readonly name = 'adaptive'
  readonly #sketch: FrequencySketch
  readonly #promoteMin: number
  readonly #demote: boolean

  constructor(options: AdaptiveStrategyOptions = {}) {
    this.#sketch = new FrequencySketch(options.capacity ?? 10_000)
    this.#promoteMin = options.promoteMinFrequency ?? 1
    this.#demote = options.demote ?? true
  }

  /** The sketch's estimate for `ref` (for metrics and tests). */
  frequency(ref: string): number {
    return this.#sketch.estimate(ref)
  }

  recordAccess(ref: string, hash?: number): void {
    this.#sketch.increment(ref, hash)
  }

  shouldPromote(ref: string): boolean {
    return this.#sketch.estimate(ref) >= this.#promoteMin
  }

  admit(candidate: string, victim: string): boolean {
    return this.#sketch.estimate(candidate) > this.#sketch.estimate(victim)
  }

  shouldDemote(): boolean {
    return this.#demote
  }
}
