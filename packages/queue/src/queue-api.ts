import type { Duration, InstanceDescription, InstanceOptions } from '@beaver-kit/config'
import type { Instance } from '@beaver-kit/core'
import type { QueueSettings } from './config.ts'
import type { ConsumeOptions, Consumer, Handler } from './consumer-api.ts'
import type { QueueCapabilities, QueueCounts, QueueDriverDefinition, StoredMessage } from './driver.ts'
import type { BatchItem, JobDefinition, PublishOptions, Serializer } from './message.ts'
import type { QueueMiddleware } from './middleware.ts'
import type { Relay, RelayOptions } from './outbox.ts'

// The public shape of a queue client and its options; queue.ts builds it.

/** Options of `createQueue()`: every `BEAVER_QUEUE_*` setting, plus what cannot come from env. */
export interface QueueOptions extends Omit<QueueSettings, 'driver'>, InstanceOptions {
  /** A driver name (built-in or registered) or a definition (`redisDriver`, your own). */
  driver?: string | QueueDriverDefinition<never> | undefined
  /** Options for the driver beyond its env section (a client, a database, a memory store). */
  driverOptions?: Record<string, unknown> | undefined
  /** `json` (default) or your own serializer. */
  serializer?: Serializer | undefined
  /** The clock (ms since epoch); tests inject one to move delays and leases. */
  now?: (() => number) | undefined
}

/** What `health()` reports; it never throws. */
export interface QueueHealth {
  ok: boolean
  driver: string
  latencyMs?: number
  error?: string
}

/** The dead-letter queue of one queue. */
export interface DeadLetters {
  /** Newest first, with the reason and the last error. */
  list(options?: { limit?: number; offset?: number }): Promise<StoredMessage[]>
  /** Moves one dead message back to waiting with a fresh attempt count. */
  replay(id: string): Promise<boolean>
  replayAll(): Promise<number>
  /** Deletes one dead message, or all of them. */
  purge(id?: string): Promise<number>
}

/** A publisher bound to one job definition: `publish(payload)` is typed. */
export interface TypedPublisher<T> {
  readonly queue: string
  publish(payload: T, options?: PublishOptions): Promise<string>
  publishBatch(items: readonly BatchItem<T>[], options?: { tx?: unknown }): Promise<string[]>
}

/** A queue client: publish, consume, inspect. Create with `createQueue()`, or use `queue()`. */
export interface Queue extends Instance<InstanceDescription> {
  readonly driver: string
  readonly namespace: string
  /** Publishes one message; resolves its id (the first one's for a duplicate id or dedupe key). */
  publish<T>(queue: string | JobDefinition<T>, payload: T, options?: PublishOptions): Promise<string>
  /** Publishes many messages in one round trip where the backend allows. */
  publishBatch<T>(
    queue: string | JobDefinition<T>,
    items: readonly BatchItem<T>[],
    options?: { tx?: unknown },
  ): Promise<string[]>
  /**
   * Publishes to a topic: every consumer group subscribed to it gets its own copy (drivers with
   * `capabilities().fanOut`); no group subscribed, no copy. Resolves the id the copies share.
   */
  publishTopic<T>(topic: string | JobDefinition<T>, payload: T, options?: PublishOptions): Promise<string>
  /**
   * Subscribes a consumer group to a topic and starts a worker pool on the group's queue
   * (`<topic>@<group>`): each message reaches every group once, and the consumers of one group
   * compete for it. The subscription is durable: messages published while no consumer runs wait.
   * @example await q.subscribe('orders', 'billing', async (m) => bill(m.payload))
   */
  subscribe<T>(
    topic: string | JobDefinition<T>,
    group: string,
    handler: Handler<T>,
    options?: ConsumeOptions,
  ): Promise<Consumer>
  /** Starts a worker pool on a queue; resolves once the driver is loaded and the options checked. */
  consume<T>(queue: string | JobDefinition<T>, handler: Handler<T>, options?: ConsumeOptions): Promise<Consumer>
  publisher<T>(job: JobDefinition<T>): TypedPublisher<T>
  /** Adds middleware around publish and handle (consumers started later use it). */
  use(middleware: QueueMiddleware): this
  /** Cancels a waiting message, or aborts a running one's handler in whatever process runs it. */
  cancel(queue: string, id: string): Promise<'removed' | 'signalled' | 'none'>
  get(queue: string, id: string): Promise<StoredMessage | undefined>
  counts(queue: string): Promise<QueueCounts>
  /** Names of the queues of this namespace that hold messages. */
  queues(): Promise<string[]>
  dlq(queue: string): DeadLetters
  capabilities(): Promise<QueueCapabilities>
  health(options?: { timeout?: Duration }): Promise<QueueHealth>
  /** Consumers started by this queue and not closed yet. */
  consumers(): readonly Consumer[]
  /**
   * Outbox relay: moves messages published here (typically with `{ tx }` on a database
   * driver) to another queue, keeping ids, headers, priority, group and retry settings.
   * @example const relay = await outbox.relay(brokerQueue, { queues: ['emails'] })
   */
  relay(target: Pick<Queue, 'publishBatch'>, options: Omit<RelayOptions, 'leaseMs' | 'pollIntervalMs'>): Promise<Relay>
}
