import type { DriverDefinitionBase } from '@beaver-kit/core'

/** A message as the facade hands it to a driver: serialized, validated, with every default applied. */
export interface DriverMessage {
  id: string
  /** The full queue name (`<namespace>/<queue>`): drivers never split or rebuild it. */
  queue: string
  /** The serialized payload. */
  payload: string
  headers: Record<string, string>
  /** Higher runs first; an integer from -1,000,000 to 1,000,000. */
  priority: number
  /** ms since epoch; not delivered before. */
  runAt: number
  maxAttempts: number
  backoffBaseMs: number
  backoffMaxMs: number
  /** Per-delivery handler time limit in ms; 0: none. */
  timeoutMs: number
  group: string | undefined
  dedupeKey: string | undefined
  createdAt: number
}

/** A message a driver delivered: the stored message plus its delivery state. */
export interface Delivery extends DriverMessage {
  /** Deliveries so far, this one included (1 on the first). */
  attempt: number
  /** Identifies this delivery; acknowledging with a stale token is a no-op (the lease was lost). */
  token: string
  /** The error of the previous attempt, if it failed. */
  lastError: string | undefined
  /**
   * When the lease it was handed out with ends, on the queue's clock, dated from before the
   * claim's round trip (so never after the backend's own). Job drivers set it and the consumer
   * stops counting on a lease past it; a broker that keeps leases itself leaves it out.
   */
  leaseUntil?: number | undefined
}

/** Message states a driver reports. */
export type MessageState = 'waiting' | 'delayed' | 'active' | 'completed' | 'dead' | 'cancelled'

/** One message as `get()` and the DLQ listing show it. */
export interface StoredMessage extends DriverMessage {
  state: MessageState
  attempt: number
  lastError: string | undefined
  /** Why it was dead-lettered. */
  deadReason: string | undefined
  finishedAt: number | undefined
  progress: string | undefined
}

/** Counts of one queue. `failed`: waiting for a retry after a failed attempt (part of delayed/waiting). */
export interface QueueCounts {
  waiting: number
  active: number
  delayed: number
  completed: number
  failed: number
  dead: number
}

/** What a driver does natively. An option a driver cannot honour is refused at publish/consume. */
export interface QueueCapabilities {
  delay: boolean
  priority: boolean
  dedupe: boolean
  /** Cancel a waiting or running message by id from any process. */
  cancel: boolean
  /** `groupConcurrency`: at most N in flight per group, round-robin between groups. */
  fairness: boolean
  /** `publish(..., { tx })` inside a database transaction. */
  transactional: boolean
  /** `extendLease()` and automatic lease renewal. */
  extendLease: boolean
  /** Survives a process restart. */
  durable: boolean
  /**
   * Keeps a record of each message after it is handled: `get()` by id in any state,
   * completed counts and `progress()`. Brokers drop a message once it is acknowledged, so
   * theirs answer `get()` only for running and dead messages and keep no progress.
   */
  history: boolean
  /**
   * Pub/sub fan-out: `publishTopic()` gives every subscribed group its own copy of each
   * message (`subscribe(topic, group)`), consumed like a queue named `<topic>@<group>`.
   */
  fanOut: boolean
}

export interface FetchOptions {
  max: number
  leaseMs: number
  /** Most messages of one group in flight across all consumers (fairness); undefined: no limit. */
  groupLimit: number | undefined
  /** Longest wait for work when none is ready; the driver may return earlier with nothing. */
  waitMs: number
  signal: AbortSignal
}

/** The result of a failed delivery: retry at a time, or move to the dead-letter queue. */
export type Failure =
  | { kind: 'retry'; runAt: number; error: string }
  | { kind: 'dead'; reason: string; error: string }
  | { kind: 'cancelled'; error: string }

/** What `renew` found about deliveries it was asked to extend. */
export interface RenewResult {
  /** Ids whose cancellation was requested. */
  cancelled: string[]
  /** Ids whose lease was lost (expired and redelivered, or removed). */
  lost: string[]
}

/** Options of enqueue: `tx` is the caller's database transaction (transactional drivers). */
export interface EnqueueOptions {
  tx?: unknown
}

/**
 * The contract of a queue driver: a few primitives over full queue names. The facade adds
 * serialization, validation, defaults, retries and backoff, the DLQ policy, the worker pool,
 * middleware and tracing, so a driver stays short. Every call takes and returns plain data;
 * `close()` is idempotent and never closes a client the user passed in.
 */
export interface QueueDriver {
  readonly name: string
  readonly capabilities: QueueCapabilities
  /** Stores messages; resolves each one's id (an existing id for a duplicate `id` or pending `dedupeKey`). */
  enqueue(messages: readonly DriverMessage[], options: EnqueueOptions): Promise<string[]>
  /** Delivers up to `max` ready messages under a lease; waits up to `waitMs` for one. */
  fetch(queue: string, options: FetchOptions): Promise<Delivery[]>
  /**
   * Brokers that push (a subscription with prefetch) stop pushing here when a consumer of the
   * queue closes, and give back uncounted what they held for it; the next fetch subscribes again.
   */
  stopFetching?(queue: string): Promise<void>
  /** Acknowledges deliveries (stale tokens are ignored). */
  complete(queue: string, deliveries: readonly Delivery[]): Promise<void>
  /**
   * Optional: acknowledges `completed` and claims up to `options.max` ready messages in one
   * round trip, without waiting for work (`options.waitMs` is 0): a job queue's "finish one,
   * take the next". Without it the consumer completes and fetches in two calls.
   */
  completeAndFetch?(queue: string, completed: readonly Delivery[], options: FetchOptions): Promise<Delivery[]>
  fail(queue: string, delivery: Delivery, failure: Failure): Promise<void>
  /** Gives a delivery back without counting the attempt (drain, shutdown). */
  release(queue: string, deliveries: readonly Delivery[]): Promise<void>
  renew(queue: string, deliveries: readonly Delivery[], leaseMs: number): Promise<RenewResult>
  /** Removes a waiting message, or flags a running one; resolves what it did. */
  cancel(queue: string, id: string): Promise<'removed' | 'signalled' | 'none'>
  counts(queue: string): Promise<QueueCounts>
  get(queue: string, id: string): Promise<StoredMessage | undefined>
  progress(queue: string, delivery: Delivery, value: string): Promise<void>
  listDead(queue: string, options: { limit: number; offset: number }): Promise<StoredMessage[]>
  /** Moves dead messages back to waiting with a fresh attempt count; resolves how many. */
  replayDead(queue: string, ids: readonly string[] | 'all'): Promise<number>
  purgeDead(queue: string, ids: readonly string[] | 'all'): Promise<number>
  /**
   * Fan-out drivers: makes `queue` (the full `<namespace>/<topic>@<group>` name) receive a copy
   * of every message published to `topic` from now on. Idempotent and durable.
   */
  subscribe?(topic: string, queue: string): Promise<void>
  /**
   * Fan-out drivers: stores one copy of each message (whose `queue` is the full topic name) in
   * every subscribed group's queue; nothing when no group subscribed. Resolves the ids.
   */
  publishTopic?(topic: string, messages: readonly DriverMessage[], options: EnqueueOptions): Promise<string[]>
  /** Queue names (full) this driver holds messages for. */
  queues(): Promise<string[]>
  /** Round trip to the backend; throws when it is unreachable or misconfigured. */
  ping(): Promise<void>
  close(): Promise<void>
}

/** What a driver's `create` receives besides its options. */
export interface QueueDriverContext {
  /** The clock every timestamp comes from (tests inject one). */
  now: () => number
  /** Resolved settings the driver may need. */
  settings: {
    keepCompletedMs: number
    /** Most completed messages kept per queue. */
    keepCompletedMax: number
    keepDeadMs: number
    pollIntervalMs: number
  }
  /** Reports a backend going away and coming back (the facade publishes and counts it). */
  onConnection(state: 'lost' | 'restored', error?: unknown): void
}

/** A driver definition: its name, the optional peers it loads, how to build it. */
export interface QueueDriverDefinition<Options = unknown> extends DriverDefinitionBase {
  /** The config section its options come from (`db`, `redis`), as data. */
  readonly section?: string
  create(options: Options, context: QueueDriverContext): QueueDriver | Promise<QueueDriver>
}

/**
 * Declares a driver (built-in or third party), typed, so the registry can read its name and
 * peers without building anything.
 * @example export const myDriver = defineQueueDriver({ name: 'kinesis', peers: ['@aws-sdk/client-kinesis'], create })
 */
export function defineQueueDriver<Options>(definition: QueueDriverDefinition<Options>): QueueDriverDefinition<Options> {
  return Object.freeze({ ...definition })
}
