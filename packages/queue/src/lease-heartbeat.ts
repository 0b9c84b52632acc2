import { channels } from './channels.ts'
import type { Delivery, QueueDriver, RenewResult } from './driver.ts'
import { QueueError } from './errors.ts'

/** A delivery whose handler is running in a consumer. */
export interface RunningDelivery {
  delivery: Delivery
  controller: AbortController
  /** The lease each renewal asks for (the consumer's lease time, or what extendLease set). */
  leaseMs: number
  /** Completed, failed, released or lost: nothing else may settle it. */
  settled: boolean
  done: Promise<void>
}

/**
 * Keeps the leases of a consumer's running deliveries: renews them every third of the lease
 * (at most every 2 s), and acts on what a renewal finds: a cancellation requested by id aborts
 * the handler with QUEUE_CANCELLED, a lease already lost aborts it with QUEUE_LEASE_LOST.
 */
export class LeaseHeartbeat {
  readonly #queue: string
  readonly #full: string
  readonly #driver: QueueDriver
  readonly #running: ReadonlyMap<string, RunningDelivery>
  readonly #renew: boolean
  readonly #leaseMs: number
  #timer: ReturnType<typeof setInterval> | undefined

  constructor(options: {
    queue: string
    full: string
    driver: QueueDriver
    running: ReadonlyMap<string, RunningDelivery>
    /** False: leases are only extended by the handler (extendLease). */
    renew: boolean
    leaseMs: number
  }) {
    this.#queue = options.queue
    this.#full = options.full
    this.#driver = options.driver
    this.#running = options.running
    this.#renew = options.renew
    this.#leaseMs = options.leaseMs
  }

  start(): void {
    const every = Math.max(5, Math.min(this.#leaseMs / 3, 2000))
    this.#timer = setInterval(() => void this.#renewAll(), every)
    this.#timer.unref()
  }

  stop(): void {
    clearInterval(this.#timer)
  }

  /** Extends one delivery's lease now (the handler's extendLease); throws QUEUE_LEASE_LOST if it was lost. */
  async extend(entry: RunningDelivery, leaseMs: number): Promise<void> {
    entry.leaseMs = leaseMs
    const d = entry.delivery
    const result = await this.#driver.renew(this.#full, [d], leaseMs)
    this.#apply(result)
    if (result.lost.includes(d.id)) throw lostError(this.#queue, d.id)
  }

  #apply(result: RenewResult): void {
    for (const id of result.cancelled) {
      const r = this.#running.get(id)
      if (r && !r.controller.signal.aborted) {
        r.controller.abort(
          new QueueError('QUEUE_CANCELLED', `Message ${id} on "${this.#queue}" was cancelled.`, {
            details: { queue: this.#queue, id },
          }),
        )
      }
    }
    for (const id of result.lost) {
      const r = this.#running.get(id)
      if (r && !r.settled) {
        r.settled = true
        if (channels.leaseLost.hasSubscribers) channels.leaseLost.publish({ queue: this.#queue, id })
        r.controller.abort(lostError(this.#queue, id))
      }
    }
  }

  async #renewAll(): Promise<void> {
    const byLease = new Map<number, Delivery[]>()
    for (const r of this.#running.values()) {
      if (r.settled) continue
      // Without auto-renewal only cancellation is checked, with a renewal that keeps the
      // lease the handler set (extendLease) rather than pushing it out.
      const list = byLease.get(this.#renew ? r.leaseMs : -1) ?? []
      list.push(r.delivery)
      byLease.set(this.#renew ? r.leaseMs : -1, list)
    }
    for (const [leaseMs, list] of byLease) {
      if (leaseMs < 0) continue
      try {
        this.#apply(await this.#driver.renew(this.#full, list, leaseMs))
      } catch {
        // The backend is away; the next beat tries again, and the lease covers the gap.
      }
    }
  }
}

function lostError(queue: string, id: string): QueueError {
  return new QueueError(
    'QUEUE_LEASE_LOST',
    `The lease of message ${id} on "${queue}" expired before the handler finished; it may run again elsewhere. Extend it with extendLease() or raise leaseTime.`,
    { details: { queue, id } },
  )
}
