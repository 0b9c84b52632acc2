// What the queue conformance suite drives: the public API of `@beaver-kit/queue`'s `Queue`,
// typed structurally so the testkit does not depend on the queue package.
import type { ConformanceContext } from '../conformance.ts'

type Duration = number | string

export interface ConformanceMessage {
  id: string
  queue: string
  payload: unknown
  headers: Readonly<Record<string, string>>
  attempt: number
  maxAttempts: number
  priority: number
  group: string | undefined
  lastError: string | undefined
}

export interface ConformanceHandlerContext {
  signal: AbortSignal
  attempt: number
  progress(value: unknown): Promise<void>
  extendLease(ms?: Duration): Promise<void>
  ack(): Promise<void>
  nack(options?: { requeue?: boolean; delay?: Duration; error?: unknown }): Promise<void>
}

export interface ConformanceConsumer {
  pause(): void
  resume(): void
  resize(n: number): void
  stats(): { active: number; completed: number; retried: number; dead: number; concurrency: number; paused: boolean }
  close(options?: { timeout?: Duration }): Promise<void>
}

export interface PublishOpts {
  id?: string
  headers?: Record<string, string>
  delay?: Duration
  priority?: number
  dedupeKey?: string
  attempts?: number
  backoff?: { base?: Duration; max?: Duration }
  timeout?: Duration
  group?: string
}

export interface Stored {
  id: string
  state: string
  attempt: number
  lastError: string | undefined
  deadReason: string | undefined
  progress: string | undefined
}

/** What the suite needs from a queue (the public API of `@beaver-kit/queue`'s `Queue`). */
export interface ConformanceQueue {
  publish(queue: string | { queue: string }, payload: unknown, options?: PublishOpts): Promise<string>
  publishBatch(queue: string, items: ReadonlyArray<{ payload: unknown } & PublishOpts>): Promise<string[]>
  consume(
    queue: string | { queue: string },
    handler: (m: ConformanceMessage, ctx: ConformanceHandlerContext) => unknown,
    options?: {
      concurrency?: number
      groupConcurrency?: number
      ack?: 'auto' | 'manual'
      leaseTime?: Duration
      renewLease?: boolean
      drainTimeout?: Duration
      rateLimit?: { max: number; per: Duration }
    },
  ): Promise<ConformanceConsumer>
  publishTopic(topic: string, payload: unknown, options?: PublishOpts): Promise<string>
  subscribe(
    topic: string,
    group: string,
    handler: (m: ConformanceMessage, ctx: ConformanceHandlerContext) => unknown,
    options?: { concurrency?: number },
  ): Promise<ConformanceConsumer>
  cancel(queue: string, id: string): Promise<'removed' | 'signalled' | 'none'>
  get(queue: string, id: string): Promise<Stored | undefined>
  counts(
    queue: string,
  ): Promise<{ waiting: number; active: number; delayed: number; completed: number; failed: number; dead: number }>
  queues(): Promise<string[]>
  dlq(queue: string): {
    list(options?: { limit?: number }): Promise<Stored[]>
    replay(id: string): Promise<boolean>
    replayAll(): Promise<number>
    purge(id?: string): Promise<number>
  }
  capabilities(): Promise<{
    delay: boolean
    priority: boolean
    dedupe: boolean
    cancel: boolean
    fairness: boolean
    extendLease: boolean
    /** False for brokers: no record of a message once it is acknowledged (get() of a completed one, progress). */
    history?: boolean
    /** Pub/sub fan-out: publishTopic() and subscribe(topic, group). */
    fanOut?: boolean
  }>
  health(): Promise<{ ok: boolean }>
  close(): Promise<void>
}

/** Per-driver facts the suite cannot ask the driver (what `capabilities()` does not say). */
export interface QueueSuiteOptions {
  /** Give up waiting for a delivery after this long. Default 10 s. */
  timeoutMs?: number
  /** A job definition whose `parse` always throws, for the undecodable-payload case. */
  rejectingJob: (queue: string) => { queue: string }
  /**
   * Contract points the driver's backend cannot keep by design, each with why; the cases that
   * check them are reported as skipped with that reason. `retryLastError`: a retry's handler
   * sees the previous attempt's error; `releaseUncounted`: a delivery released at shutdown comes
   * back without an attempt counted.
   */
  cannot?: Partial<Record<'retryLastError' | 'releaseUncounted', string>> | undefined
}

export type Caps = Awaited<ReturnType<ConformanceQueue['capabilities']>>

/** What each group of cases receives from the suite. */
export type QueueCaseContext = ConformanceContext<ConformanceQueue, QueueSuiteOptions>
