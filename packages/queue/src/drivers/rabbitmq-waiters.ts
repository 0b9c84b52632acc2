import { performance } from 'node:perf_hooks'

/**
 * The fetches of one subscription waiting for a delivery, each for at most its `ms`. One timer
 * serves them all: a wait records its deadline, and the timer, armed for the earliest one,
 * ends the waits that are due when it fires and is armed again for the next. A wait ended by a
 * delivery (nearly every one, at every message a consumer takes) touches no timer, where a
 * timer set and cleared per wait cost a message at concurrency 1 about as much as decoding
 * its envelope. Unreferenced: what keeps the process alive is the broker connection, and its
 * close wakes every wait.
 */
export class FetchWaiters {
  readonly #now: () => number
  /** Each waiting fetch's wake-up, with its deadline on `now`'s clock. */
  readonly #waiting = new Map<() => void, number>()
  #timer: ReturnType<typeof setTimeout> | undefined
  /** When the armed timer fires. */
  #firesAt = Infinity

  /** `now`: a monotonic clock by default (a wall clock set back would hold the waits longer). */
  constructor(now: () => number = () => performance.now()) {
    this.#now = now
  }

  get size(): number {
    return this.#waiting.size
  }

  /** Resolves at the next wakeAll(), or after `ms`, whichever is first. */
  wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const deadline = this.#now() + ms
      const done = (): void => {
        this.#waiting.delete(done)
        resolve()
      }
      this.#waiting.set(done, deadline)
      if (deadline < this.#firesAt) this.#arm(deadline)
    })
  }

  /** Ends every wait now (a delivery, a cancelled consumer, a closed channel, an abort). */
  wakeAll(): void {
    for (const wake of this.#waiting.keys()) wake()
  }

  #arm(at: number): void {
    clearTimeout(this.#timer)
    this.#firesAt = at
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, at - this.#now()))
    this.#timer.unref()
  }

  #fire(): void {
    this.#timer = undefined
    this.#firesAt = Infinity
    const now = this.#now()
    let next = Infinity
    for (const [wake, deadline] of this.#waiting) {
      if (deadline <= now) wake()
      else if (deadline < next) next = deadline
    }
    if (next !== Infinity) this.#arm(next)
  }
}
