import { channels } from './channels.ts'
import type { Delivery, QueueDriver, RenewResult } from './driver.ts'
import { QueueError } from './errors.ts'
import type { HandlerAbort } from './handler-abort.ts'

/** A delivery whose handler is running in a consumer. */
export interface RunningDelivery {
  delivery: Delivery
  /** Aborts the handler (its signal, and the consumer's wait on it). */
  abort: HandlerAbort
  /** The lease each renewal asks for (the consumer's lease time, or what extendLease set). */
  leaseMs: number
  /**
   * Until when the lease is surely this consumer's, on the queue's clock: the claim's or the
   * last renewal's lease, dated from before its round trip, so never later than the backend's.
   * Undefined where the driver does not say (a broker keeps the lease and reports its loss) and
   * where the handler keeps its own lease (renewLease: false).
   */
  heldUntil: number | undefined
  /** Completed, failed, released or lost: nothing else may settle it. */
  settled: boolean
  done: Promise<void>
}

/**
 * Keeps the leases of a consumer's running deliveries: renews them every third of the lease
 * (at most every 2 s), and acts on what a renewal finds: a cancellation requested by id aborts
 * the handler with QUEUE_CANCELLED, a lease already lost aborts it with QUEUE_LEASE_LOST.
 *
 * A lease renewed at t is written as t + lease, t read before the round trip, so the backend's
 * lease never ends before the one counted here. What was missing was the other half: a
 * handler ran on, counted as holding its message, for as long as renewals failed (the backend
 * away from this worker only) or answered late (a renewal that takes longer than the lease
 * writes a lease already over, and answers "held"), while another worker's reclaim took the
 * message and ran it too. Now a delivery whose counted lease runs out without a renewal having
 * answered in time is lost at once: its handler is aborted with QUEUE_LEASE_LOST. That holds
 * for the leases the heartbeat keeps (renewLease, the default); a handler that keeps its own
 * (renewLease: false, extendLease) hears of a loss from the backend only.
 */
export class LeaseHeartbeat {
  readonly #queue: string
  readonly #full: string
  readonly #driver: QueueDriver
  readonly #running: ReadonlyMap<string, RunningDelivery>
  readonly #renew: boolean
  readonly #leaseMs: number
  readonly #now: () => number
  #timer: ReturnType<typeof setInterval> | undefined

  constructor(options: {
    queue: string
    full: string
    driver: QueueDriver
    running: ReadonlyMap<string, RunningDelivery>
    /** False: leases are only extended by the handler (extendLease). */
    renew: boolean
    leaseMs: number
    /** The queue's clock, the one the driver dates leases with. */
    now: () => number
  }) {
    this.#queue = options.queue
    this.#full = options.full
    this.#driver = options.driver
    this.#running = options.running
    this.#renew = options.renew
    this.#leaseMs = options.leaseMs
    this.#now = options.now
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
    const since = this.#now()
    const result = await this.#driver.renew(this.#full, [d], leaseMs)
    this.#apply(result, [entry], since, leaseMs)
    // Lost, or answered after the lease it wrote had run out (then #apply lost it already).
    if (result.lost.includes(d.id) || (entry.heldUntil !== undefined && entry.heldUntil <= this.#now())) {
      throw lostError(this.#queue, d.id)
    }
  }

  /** Acts on a renewal of `renewed`, sent at `since` for `leaseMs`. */
  #apply(result: RenewResult, renewed: readonly RunningDelivery[], since: number, leaseMs: number): void {
    const lost = new Set(result.lost)
    for (const r of renewed) {
      if (r.heldUntil !== undefined && !lost.has(r.delivery.id)) r.heldUntil = Math.max(r.heldUntil, since + leaseMs)
    }
    for (const id of result.cancelled) {
      const r = this.#running.get(id)
      if (r && !r.abort.aborted) {
        r.abort.abort(
          new QueueError('QUEUE_CANCELLED', `Message ${id} on "${this.#queue}" was cancelled.`, {
            details: { queue: this.#queue, id },
          }),
        )
      }
    }
    for (const id of result.lost) {
      const r = this.#running.get(id)
      if (r) this.#lose(r)
    }
    this.#loseExpired()
  }

  #lose(r: RunningDelivery): void {
    if (r.settled) return
    r.settled = true
    const id = r.delivery.id
    if (channels.leaseLost.hasSubscribers) channels.leaseLost.publish({ queue: this.#queue, id })
    r.abort.abort(lostError(this.#queue, id))
  }

  /** Deliveries whose counted lease ran out: another worker may hold them now. */
  #loseExpired(): void {
    const now = this.#now()
    for (const r of this.#running.values()) {
      if (r.heldUntil !== undefined && r.heldUntil <= now) this.#lose(r)
    }
  }

  async #renewAll(): Promise<void> {
    const byLease = new Map<number, RunningDelivery[]>()
    for (const r of this.#running.values()) {
      if (r.settled) continue
      // Without auto-renewal only cancellation is checked, with a renewal that keeps the
      // lease the handler set (extendLease) rather than pushing it out.
      const list = byLease.get(this.#renew ? r.leaseMs : -1) ?? []
      list.push(r)
      byLease.set(this.#renew ? r.leaseMs : -1, list)
    }
    for (const [leaseMs, list] of byLease) {
      if (leaseMs < 0) continue
      const since = this.#now()
      try {
        const deliveries: Delivery[] = list.map((r) => r.delivery)
        this.#apply(await this.#driver.renew(this.#full, deliveries, leaseMs), list, since, leaseMs)
      } catch {
        // The backend is away; the next beat tries again while the counted lease lasts.
      }
    }
    this.#loseExpired()
  }
}

function lostError(queue: string, id: string): QueueError {
  return new QueueError(
    'QUEUE_LEASE_LOST',
    `The lease of message ${id} on "${queue}" expired before the handler finished; it may run again elsewhere. Extend it with extendLease() or raise leaseTime.`,
    { details: { queue, id } },
  )
}
