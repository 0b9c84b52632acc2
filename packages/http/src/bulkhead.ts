import { abortReason } from '@beaver-kit/core'

interface Waiter {
  resolve: () => void
  reject: (error: unknown) => void
}

/**
 * At most `maxConcurrent` calls at once, and at most `maxQueue` waiting for a slot; the rest
 * are refused at once so that a slow host cannot pile up unbounded work. Slots are handed
 * over in arrival order.
 */
export class Bulkhead {
  readonly maxConcurrent: number
  readonly maxQueue: number
  #active = 0
  readonly #queue: Waiter[] = []

  constructor(maxConcurrent: number, maxQueue: number) {
    this.maxConcurrent = maxConcurrent
    this.maxQueue = maxQueue
  }

  get active(): number {
    return this.#active
  }

  get queued(): number {
    return this.#queue.length
  }

  /** Takes a slot if one is free, without waiting. */
  tryAcquire(): boolean {
    if (this.#active >= this.maxConcurrent) return false
    this.#active++
    return true
  }

  /** Whether a caller may wait for a slot (the queue has room). */
  canQueue(): boolean {
    return this.#queue.length < this.maxQueue
  }

  /** Waits for a slot; rejects with the signal's reason when it aborts first. */
  wait(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(abortReason(signal))
      const waiter: Waiter = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        },
        reject,
      }
      const onAbort = (): void => {
        const i = this.#queue.indexOf(waiter)
        if (i >= 0) this.#queue.splice(i, 1)
        reject(abortReason(signal as AbortSignal))
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#queue.push(waiter)
    })
  }

  /** Frees a slot, handing it straight to the oldest waiter. */
  release(): void {
    const next = this.#queue.shift()
    if (next) next.resolve()
    else this.#active--
  }
}
