/**
 * Idle fetches waiting for work, per queue, and the wake-ups that end their wait (a publish
 * from this process, a PostgreSQL NOTIFY, a retry or release due now). Wake-ups are counted,
 * so a fetch that saw one arrive while it looked does not go to sleep.
 */
export class WakeBoard {
  readonly #waiters = new Map<string, Set<() => void>>()
  readonly #wakes = new Map<string, number>()
  /** Wake-ups of every queue at once. */
  #everyQueue = 0

  /** Wake-ups of a queue so far: pass it to `wait` to not sleep through one that came since. */
  seen(queue: string): number {
    return this.#everyQueue + (this.#wakes.get(queue) ?? 0)
  }

  wake(queue: string): void {
    this.#wakes.set(queue, (this.#wakes.get(queue) ?? 0) + 1)
    const set = this.#waiters.get(queue)
    if (set) for (const w of set) w()
  }

  /** Wakes every queue: on close, and when LISTEN is (back) in place after commits it may have missed. */
  wakeAll(): void {
    this.#everyQueue++
    for (const set of this.#waiters.values()) for (const w of set) w()
  }

  /** Resolves on the next wake-up of the queue after `seen`, after `ms`, or on abort. */
  wait(queue: string, seen: number, ms: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      let set = this.#waiters.get(queue)
      if (!set) {
        set = new Set()
        this.#waiters.set(queue, set)
      }
      const waiters = set
      const done = (): void => {
        clearTimeout(timer)
        waiters.delete(done)
        signal.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      waiters.add(done)
      signal.addEventListener('abort', done, { once: true })
      // An abort that came before the wait (a close while the fetch looked) fires no event.
      if (this.seen(queue) !== seen || signal.aborted) done()
    })
  }
}
