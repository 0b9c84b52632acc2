import {
  CircuitBreaker,
  type BreakerOptions,
  type BreakerSnapshot,
  type BreakerState,
  type BreakerStateChange,
} from './breaker.ts'
import { channels } from './channels.ts'

/** The breakers of one client, one per key (host, route or your own key), made on first use. */
export class BreakerRegistry {
  readonly #options: BreakerOptions
  readonly #listener: ((change: BreakerStateChange) => void) | undefined
  readonly #breakers = new Map<string, CircuitBreaker>()
  readonly #publish = (change: BreakerStateChange): void => {
    if (channels.breaker.hasSubscribers) channels.breaker.publish(change)
    this.#listener?.(change)
  }

  constructor(options: BreakerOptions, listener?: (change: BreakerStateChange) => void) {
    this.#options = options
    this.#listener = listener
  }

  /** The breaker of `key`, created closed on first use. */
  get(key: string): CircuitBreaker {
    let breaker = this.#breakers.get(key)
    if (breaker === undefined) {
      breaker = new CircuitBreaker(key, this.#options, this.#publish)
      this.#breakers.set(key, breaker)
    }
    return breaker
  }

  /** The state of `key`'s breaker (`closed` when it never saw a call). */
  state(key: string): BreakerState {
    return this.#breakers.get(key)?.state ?? 'closed'
  }

  /** How many breakers are open or half-open now. */
  openCount(): number {
    let n = 0
    for (const breaker of this.#breakers.values()) if (breaker.state !== 'closed') n++
    return n
  }

  /** Every breaker's state as JSON, to store and `restore()` elsewhere (another process, after a deploy). */
  export(): Record<string, BreakerSnapshot> {
    const out: Record<string, BreakerSnapshot> = {}
    for (const [key, breaker] of this.#breakers) out[key] = breaker.snapshot()
    return out
  }

  /** Takes over states from `export()`; keys not in the snapshot keep theirs. */
  restore(snapshot: Readonly<Record<string, BreakerSnapshot>>): void {
    const now = Date.now()
    for (const [key, state] of Object.entries(snapshot)) this.get(key).restore(state, now)
  }

  /** Closes one breaker, or all of them. */
  reset(key?: string): void {
    const now = Date.now()
    if (key !== undefined) this.#breakers.get(key)?.reset(now)
    else for (const breaker of this.#breakers.values()) breaker.reset(now)
  }
}
