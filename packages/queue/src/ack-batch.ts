import { sleep } from '@beaver-kit/core'
import type { Delivery, QueueDriver } from './driver.ts'

const ACK_RETRY_MS = 50

interface Batch {
  deliveries: Delivery[]
  promise: Promise<void>
  resolve: () => void
  reject: (error: unknown) => void
  /** Handed to the consumer's next fetch (completeAndFetch): the timer must not send it too. */
  taken: boolean
}

/** Acks a fetch carries: settle them with what the round trip did. */
export interface TakenAcks {
  readonly deliveries: readonly Delivery[]
  /** The fetch acknowledged them. */
  sent(): void
  /** The fetch failed: send them on their own, with the usual retries. */
  failed(): void
}

/**
 * Acks of one tick go to the backend in one call (one UPDATE, one script), the main reason a
 * consumer at concurrency 50 is not 50 round trips per 50 messages. A consumer whose driver
 * can complete and claim in one round trip takes the batch for its next fetch instead
 * (`take()`); what nobody takes is sent on its own at the next turn of the event loop.
 */
export class AckBatch {
  readonly #driver: QueueDriver
  readonly #full: string
  readonly #leaseMs: number
  #current: Batch | undefined
  readonly #sending = new Set<Promise<void>>()

  constructor(driver: QueueDriver, full: string, leaseMs: number) {
    this.#driver = driver
    this.#full = full
    this.#leaseMs = leaseMs
  }

  /**
   * Queues a completion; resolves when the batch it joined was sent. `alone`: no other
   * completion can join it (no other handler runs), so with nothing queued it goes at once.
   */
  add(d: Delivery, alone = false): Promise<void> {
    let batch = this.#current
    if (!batch && alone) {
      const sending = this.#complete([d])
      this.#track(sending)
      return sending
    }
    if (!batch) {
      let resolve!: () => void
      let reject!: (error: unknown) => void
      const promise = new Promise<void>((res, rej) => {
        resolve = res
        reject = rej
      })
      const fresh: Batch = { deliveries: [], promise, resolve, reject, taken: false }
      this.#current = batch = fresh
      setImmediate(() => {
        if (fresh.taken) return
        if (this.#current === fresh) this.#current = undefined
        this.#send(fresh)
      })
    }
    batch.deliveries.push(d)
    return batch.promise
  }

  /** Detaches what is queued, for a fetch that acknowledges it in the same round trip. */
  take(): TakenAcks | undefined {
    const batch = this.#current
    if (!batch) return undefined
    this.#current = undefined
    batch.taken = true
    return {
      deliveries: batch.deliveries,
      sent: () => batch.resolve(),
      failed: () => this.#send(batch),
    }
  }

  /** Sends whatever is queued and waits for every send (on close). */
  async drain(): Promise<void> {
    const batch = this.#current
    if (batch) {
      this.#current = undefined
      batch.taken = true
      this.#send(batch)
    }
    await Promise.allSettled([...this.#sending])
  }

  #send(batch: Batch): void {
    this.#track(this.#complete(batch.deliveries).then(batch.resolve, batch.reject))
  }

  /** Keeps a send for `drain()` until it settled. */
  #track(sending: Promise<void>): void {
    this.#sending.add(sending)
    const forget = (): void => {
      this.#sending.delete(sending)
    }
    sending.then(forget, forget)
  }

  async #complete(deliveries: readonly Delivery[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#driver.complete(this.#full, deliveries)
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
