import { RollingCounter } from './rolling-counter.ts'

/** How many retries a host may take: `minPerSecond` always, plus `ratio` of recent requests. */
export interface RetryBudgetOptions {
  ratio: number
  minPerSecond: number
  windowMs: number
}

/**
 * Retries may be at most a share of recent requests (plus a small floor), so that an outage
 * turns into fast failures instead of a retry storm that multiplies the load on a sick host.
 */
export class RetryBudget {
  readonly #o: RetryBudgetOptions
  readonly #floor: number
  /** a = first attempts, b = retries. */
  readonly #counter: RollingCounter

  constructor(options: RetryBudgetOptions) {
    this.#o = options
    this.#floor = (options.minPerSecond * options.windowMs) / 1000
    this.#counter = new RollingCounter(options.windowMs)
  }

  /** Counts a first attempt. */
  request(now: number): void {
    this.#counter.add(1, 0, now)
  }

  /** Takes one retry from the budget; false when it is spent. */
  tryRetry(now: number): boolean {
    const allowed = this.#floor + this.#o.ratio * this.#counter.sumA(now)
    if (this.#counter.sumB(now) + 1 > allowed) return false
    this.#counter.add(0, 1, now)
    return true
  }
}
