/**
 * Two counters summed over a rolling time window, kept in fixed buckets so that adding is
 * O(1) and allocation-free: the breaker counts calls and failures, the retry budget counts
 * requests and retries.
 */
export class RollingCounter {
  readonly #bucketMs: number
  readonly #a: number[]
  readonly #b: number[]
  #current = -1
  #sumA = 0
  #sumB = 0

  constructor(windowMs: number, buckets = 10) {
    this.#bucketMs = Math.max(1, Math.ceil(windowMs / buckets))
    this.#a = new Array<number>(buckets).fill(0)
    this.#b = new Array<number>(buckets).fill(0)
  }

  /** Adds to both counters at time `now` (ms). */
  add(a: number, b: number, now: number): void {
    const i = this.#roll(now)
    this.#a[i]! += a
    this.#b[i]! += b
    this.#sumA += a
    this.#sumB += b
  }

  /** The first counter summed over the window ending at `now`. */
  sumA(now: number): number {
    this.#roll(now)
    return this.#sumA
  }

  /** The second counter summed over the window ending at `now`. */
  sumB(now: number): number {
    this.#roll(now)
    return this.#sumB
  }

  reset(): void {
    this.#a.fill(0)
    this.#b.fill(0)
    this.#sumA = 0
    this.#sumB = 0
  }

  #roll(now: number): number {
    const n = this.#a.length
    const bucket = Math.floor(now / this.#bucketMs)
    if (bucket !== this.#current) {
      // Clear every bucket that expired since the last call (all of them after a long pause).
      const steps = this.#current < 0 ? n : Math.min(n, bucket - this.#current)
      for (let s = 1; s <= steps; s++) {
        const j = (((this.#current + s) % n) + n) % n
        this.#sumA -= this.#a[j]!
        this.#sumB -= this.#b[j]!
        this.#a[j] = 0
        this.#b[j] = 0
      }
      // A clock that went backwards (restored state, fake time) starts a fresh window.
      if (bucket < this.#current) this.reset()
      this.#current = bucket
    }
    return ((bucket % n) + n) % n
  }
}
