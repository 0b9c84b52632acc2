import { sleep } from '@beaver-kit/core'
import type { Delivery, QueueDriver } from './driver.ts'

const ACK_RETRY_MS = 50

/**
 * Acks of one tick go to the backend in one call (one UPDATE, one script), the main reason a
 * consumer at concurrency 50 is not 50 round trips per 50 messages.
 */
export class AckBatch {
  readonly #driver: QueueDriver
  readonly #full: string
  readonly #leaseMs: number
  #acks: Delivery[] = []
  #flushing: Promise<void> | undefined

  constructor(driver: QueueDriver, full: string, leaseMs: number) {
    this.#driver = driver
    this.#full = full
    this.#leaseMs = leaseMs
  }

  /** Queues a completion; resolves when the batch it joined was sent. */
  add(d: Delivery): Promise<void> {
    this.#acks.push(d)
    this.#flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#flush())
    return this.#flushing
  }

  /** Sends whatever is queued (on close). */
  async drain(): Promise<void> {
    await this.#flushing
    await this.#flush()
  }

  async #flush(): Promise<void> {
    const batch = this.#acks
    this.#acks = []
    this.#flushing = undefined
    if (batch.length === 0) return
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#driver.complete(this.#full, batch)
        return
      } catch (error) {
        // The backend is away: keep trying while the leases hold; after that the messages are
        // redelivered anyway (at-least-once), so the acks are dropped rather than held forever.
        if (attempt * ACK_RETRY_MS * attempt > this.#leaseMs) throw error
        await sleep(ACK_RETRY_MS * attempt)
      }
    }
  }
}
