import type { Duration } from '@beaver-kit/config'
import type { Message } from './message.ts'

// What a user of consume() sees: the handler, its context, the options, the consumer and its stats.

/** What a handler can do besides returning. */
export interface HandlerContext {
  /** Aborts on cancel-by-id, the message's timeout, a lost lease, or a drain that ran out of time. */
  readonly signal: AbortSignal
  readonly attempt: number
  /** Records progress (any JSON value), visible in `get()` and the dashboard. */
  progress(value: unknown): Promise<void>
  /** Extends this delivery's lease to `ms` from now (default: the consumer's lease time). */
  extendLease(ms?: Duration): Promise<void>
  /** Manual mode: acknowledges the message (done). */
  ack(): Promise<void>
  /** Manual mode: fails the delivery; `requeue: false` sends it to the DLQ at once. */
  nack(options?: { requeue?: boolean; delay?: Duration; error?: unknown }): Promise<void>
}

export type Handler<T> = (message: Message<T>, context: HandlerContext) => unknown

/** Options of `consume()`. */
export interface ConsumeOptions {
  /** Handlers run at once. Default `BEAVER_QUEUE_CONCURRENCY`. */
  concurrency?: number
  /** Messages fetched per round trip (at most the free slots). Default: concurrency. */
  prefetch?: number
  /** At most this many messages of one `group` in flight across every consumer, round-robin between groups. */
  groupConcurrency?: number
  /** Start at most `max` handlers per `per` in this consumer. */
  rateLimit?: { max: number; per: Duration }
  /** `auto` (default): resolve acks, throw retries. `manual`: call `ack()`/`nack()`, the lease is renewed until then. */
  ack?: 'auto' | 'manual'
  /** Lease per delivery. Default `BEAVER_QUEUE_LEASE_TIME`. */
  leaseTime?: Duration
  /** Renew leases of running handlers automatically (default true); false: only `extendLease()` does. */
  renewLease?: boolean
  /** Whether a failure may be retried (default: everything but UnrecoverableError). */
  retryIf?: (error: unknown, message: Message) => boolean
  /** Longest idle wait between looks for work where the backend cannot push. */
  pollInterval?: Duration
  /** How long `close()` lets handlers finish. Default `BEAVER_QUEUE_DRAIN_TIMEOUT`. */
  drainTimeout?: Duration
}

/** Counters of one consumer since it started. */
export interface ConsumerStats {
  queue: string
  concurrency: number
  active: number
  paused: boolean
  completed: number
  retried: number
  dead: number
  cancelled: number
  released: number
}

/** A running worker pool on one queue. */
export interface Consumer extends AsyncDisposable {
  readonly queue: string
  /** Stops fetching; running handlers go on. */
  pause(): void
  resume(): void
  /** Changes the concurrency; running handlers above the new size finish first. */
  resize(concurrency: number): void
  stats(): ConsumerStats
  /** Stops fetching, lets handlers finish within the drain timeout, then aborts and releases the rest. */
  close(options?: { timeout?: Duration }): Promise<void>
}
