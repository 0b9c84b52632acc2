import { randomUUID } from 'node:crypto'

/**
 * What queued sending needs of a `@beaver-kit/queue` Queue (typed structurally, so mail and
 * SMS work with any queue of that shape and never import the queue package's types).
 */
export interface QueueLike {
  publish(
    queue: string,
    payload: unknown,
    options?: { id?: string; delay?: number | string; runAt?: Date | number; priority?: number },
  ): Promise<string>
  consume(
    queue: string,
    handler: (message: { id: string; payload: unknown }, context: { signal: AbortSignal; attempt: number }) => unknown,
    options?: { concurrency?: number },
  ): Promise<{ close(): Promise<void> }>
}

/** Remembers which idempotency keys were sent (and their message ids), so a retried job never sends twice. */
export interface SentLedger {
  get(key: string): Promise<string | undefined>
  set(key: string, messageId: string): Promise<void>
}

/** When a queued message goes out. */
export interface QueueTiming {
  delay?: number | string | undefined
  runAt?: Date | number | undefined
  priority?: number | undefined
}

/**
 * A ledger in process memory (one worker process, tests): the newest `max` keys for `ttlMs`.
 * Across workers, use `createCacheLedger` on a shared cache.
 */
export function createMemoryLedger(options: { max?: number; ttlMs?: number } = {}): SentLedger {
  const { max = 100_000, ttlMs = 24 * 3600_000 } = options
  const entries = new Map<string, { id: string; until: number }>()
  return {
    async get(key) {
      const e = entries.get(key)
      if (e && e.until > Date.now()) return e.id
      entries.delete(key)
      return undefined
    },
    async set(key, messageId) {
      entries.delete(key)
      entries.set(key, { id: messageId, until: Date.now() + ttlMs })
      if (entries.size > max) entries.delete(entries.keys().next().value as string)
    },
  }
}

/** A ledger in any `@beaver-kit/cache` store, shared by every worker. */
export function createCacheLedger(
  cache: {
    get(key: string): Promise<unknown>
    set(key: string, value: unknown, options?: { ttl?: number }): Promise<void>
  },
  options: { prefix?: string; ttlMs?: number } = {},
): SentLedger {
  const { prefix = 'sent:', ttlMs = 24 * 3600_000 } = options
  return {
    get: async (key) => {
      const value = await cache.get(prefix + key)
      return typeof value === 'string' ? value : undefined
    },
    set: (key, messageId) => cache.set(prefix + key, messageId, { ttl: ttlMs }),
  }
}

/**
 * Publishes a send job whose id is derived from the idempotency key (generated when the caller
 * gave none), so publishing the same logical message twice is one job.
 */
export async function enqueueSend<P extends object>(
  queue: QueueLike,
  name: string,
  payload: P,
  timing: QueueTiming = {},
): Promise<{ jobId: string; idempotencyKey: string }> {
  const given = (payload as { idempotencyKey?: unknown }).idempotencyKey
  const idempotencyKey = typeof given === 'string' ? given : randomUUID()
  const jobId = await queue.publish(
    name,
    { ...payload, idempotencyKey },
    {
      id: `${name}:${idempotencyKey}`,
      ...(timing.delay !== undefined ? { delay: timing.delay } : {}),
      ...(timing.runAt !== undefined ? { runAt: timing.runAt } : {}),
      ...(timing.priority !== undefined ? { priority: timing.priority } : {}),
    },
  )
  return { jobId, idempotencyKey }
}

/**
 * Consumes send jobs: a key already in the ledger is acknowledged without sending (the job ran
 * before and its acknowledgement was lost), otherwise `send` runs and its message id is
 * recorded. A failure throws, so the queue retries with backoff and dead-letters at the end.
 */
export function consumeSends(
  queue: QueueLike,
  name: string,
  ledger: SentLedger,
  send: (payload: Record<string, unknown>, signal: AbortSignal) => Promise<string>,
  options: { concurrency?: number | undefined } = {},
): Promise<{ close(): Promise<void> }> {
  return queue.consume(
    name,
    async (message, context) => {
      const payload = message.payload as Record<string, unknown>
      const key = String(payload.idempotencyKey ?? message.id)
      if ((await ledger.get(key)) !== undefined) return
      const messageId = await send(payload, context.signal)
      await ledger.set(key, messageId)
    },
    options.concurrency === undefined ? {} : { concurrency: options.concurrency },
  )
}
