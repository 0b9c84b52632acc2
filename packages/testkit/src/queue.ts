// The queue conformance suite: every @beaver-kit/queue driver runs all of it against its real
// backend. The subject is typed structurally so the testkit does not depend on the queue package.
import { expect, it, type TestContext } from 'vitest'
import { isBeaverError } from '@beaver-kit/core'
import { defineConformanceSuite } from './conformance.ts'
import { eventually } from './eventually.ts'

type Duration = number | string

interface ConformanceMessage {
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

interface ConformanceHandlerContext {
  signal: AbortSignal
  attempt: number
  progress(value: unknown): Promise<void>
  extendLease(ms?: Duration): Promise<void>
  ack(): Promise<void>
  nack(options?: { requeue?: boolean; delay?: Duration; error?: unknown }): Promise<void>
}

interface ConformanceConsumer {
  pause(): void
  resume(): void
  resize(n: number): void
  stats(): { active: number; completed: number; retried: number; dead: number; concurrency: number; paused: boolean }
  close(options?: { timeout?: Duration }): Promise<void>
}

interface PublishOpts {
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

interface Stored {
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
}

type Caps = Awaited<ReturnType<ConformanceQueue['capabilities']>>

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((r) => (resolve = r))
  return { promise, resolve }
}

function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason)
    signal.addEventListener('abort', () => reject(signal.reason), { once: true })
  })
}

async function needs(t: TestContext, q: ConformanceQueue, cap: keyof Caps): Promise<void> {
  const caps = await q.capabilities()
  if (caps[cap] === false) t.skip(`the driver does not support ${cap} (capabilities().${cap} is false)`)
}

/**
 * Waits until a message completed: by `get()` where the driver keeps history, otherwise (a
 * broker drops an acknowledged message) by the consumer that ran it counting `completed`.
 */
async function completed(
  q: ConformanceQueue,
  queue: string,
  id: string,
  consumer: ConformanceConsumer,
  count: number,
  wait: { timeoutMs: number },
): Promise<void> {
  if ((await q.capabilities()).history === false) {
    await eventually(() => expect(consumer.stats().completed).toBeGreaterThanOrEqual(count), wait)
  } else {
    await eventually(async () => expect((await q.get(queue, id))?.state).toBe('completed'), wait)
  }
}

/**
 * Runs the whole queue contract against one driver. The factory builds a queue on a fresh
 * namespace; `ctx.another()` builds a second one on the same namespace (a second process).
 * @example describeQueueDriver('memory', (ns) => createQueue({ driver: 'memory', namespace: ns }), { rejectingJob })
 */
export const describeQueueDriver = defineConformanceSuite<ConformanceQueue, QueueSuiteOptions>('queue', (ctx) => {
  const wait = { timeoutMs: 10_000 }

  it('delivers a published message with its payload, headers and id, then counts it completed', async () => {
    const q = ctx.subject()
    const seen: ConformanceMessage[] = []
    const id = await q.publish('basic', { n: 1, s: 'ü' }, { headers: { 'x-tenant': 't1' } })
    const c = await q.consume('basic', (m) => void seen.push(m))
    await eventually(() => expect(seen).toHaveLength(1), wait)
    expect(seen[0]).toMatchObject({
      id,
      queue: 'basic',
      payload: { n: 1, s: 'ü' },
      attempt: 1,
      headers: { 'x-tenant': 't1' },
    })
    await completed(q, 'basic', id, c, 1, wait)
    await c.close()
    const counts = await q.counts('basic')
    const history = (await q.capabilities()).history !== false
    expect(counts).toMatchObject({ waiting: 0, active: 0, completed: history ? 1 : 0, dead: 0 })
    expect(await q.queues()).toContain('basic')
    expect((await q.health()).ok).toBe(true)
  })

  it('publishes a batch in one call and delivers every message once', async () => {
    const q = ctx.subject()
    const ids = await q.publishBatch(
      'batch',
      Array.from({ length: 100 }, (_, i) => ({ payload: i })),
    )
    expect(new Set(ids).size).toBe(100)
    const seen = new Map<unknown, number>()
    const c = await q.consume('batch', (m) => void seen.set(m.payload, (seen.get(m.payload) ?? 0) + 1), {
      concurrency: 20,
    })
    await eventually(() => expect(seen.size).toBe(100), wait)
    await c.close()
    expect([...seen.values()].every((n) => n === 1)).toBe(true)
  })

  it('orders by priority, then by time', async (t) => {
    const q = ctx.subject()
    await needs(t, q, 'priority')
    await q.publish('prio', 'low-1', { priority: -5 })
    await q.publish('prio', 'mid-1')
    await q.publish('prio', 'high', { priority: 10 })
    await q.publish('prio', 'mid-2')
    await q.publish('prio', 'low-2', { priority: -5 })
    const order: unknown[] = []
    const c = await q.consume('prio', (m) => void order.push(m.payload), { concurrency: 1 })
    await eventually(() => expect(order).toHaveLength(5), wait)
    await c.close()
    expect(order).toEqual(['high', 'mid-1', 'mid-2', 'low-1', 'low-2'])
  })

  it('holds a delayed message until its time', async (t) => {
    const q = ctx.subject()
    await needs(t, q, 'delay')
    const at: number[] = []
    const start = Date.now()
    const id = await q.publish('delay', 'later', { delay: 600 })
    expect((await q.counts('delay')).delayed).toBe(1)
    // A broker cannot look into its delay queues by id (capabilities().history false).
    if ((await q.capabilities()).history !== false) expect((await q.get('delay', id))?.state).toBe('delayed')
    const c = await q.consume('delay', () => void at.push(Date.now()))
    await eventually(() => expect(at).toHaveLength(1), wait)
    await c.close()
    expect((at[0] as number) - start).toBeGreaterThanOrEqual(590)
  })

  it('retries a failing handler with backoff and hands it the previous error', async () => {
    const q = ctx.subject()
    const attempts: Array<{ attempt: number; lastError: string | undefined }> = []
    await q.publish('retry', 'x', { attempts: 3, backoff: { base: 20, max: 50 } })
    const c = await q.consume('retry', (m) => {
      attempts.push({ attempt: m.attempt, lastError: m.lastError })
      if (m.attempt < 3) throw new Error(`boom ${m.attempt}`)
    })
    await eventually(() => expect(attempts).toHaveLength(3), wait)
    await c.close()
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3])
    expect(attempts[1]?.lastError).toContain('boom 1')
    expect(attempts[2]?.lastError).toContain('boom 2')
    expect(c.stats().retried).toBe(2)
  })

  it('dead-letters after the last attempt with the reason and last error; replay and purge', async () => {
    const q = ctx.subject()
    let fail = true
    const runs: number[] = []
    const id = await q.publish('dlq', { v: 1 }, { attempts: 2, backoff: { base: 10, max: 10 } })
    const c = await q.consume('dlq', (m) => {
      runs.push(m.attempt)
      if (fail) throw new Error('always')
    })
    await eventually(async () => expect((await q.dlq('dlq').list()).map((m) => m.id)).toEqual([id]), wait)
    const [dead] = await q.dlq('dlq').list()
    expect(dead?.deadReason).toMatch(/attempts exhausted/)
    expect(dead?.lastError).toContain('always')
    // Broker counts are approximate for a moment after a DLQ scan gave messages back.
    await eventually(async () => expect((await q.counts('dlq')).dead).toBe(1), wait)
    expect(runs).toEqual([1, 2])
    fail = false
    expect(await q.dlq('dlq').replay(id)).toBe(true)
    await completed(q, 'dlq', id, c, 1, wait)
    expect(runs).toEqual([1, 2, 1])
    fail = true
    const other = await q.publish('dlq', { v: 2 }, { attempts: 1 })
    // By id: a count of 1 could still be the replayed message on a broker whose counts lag.
    await eventually(async () => expect((await q.dlq('dlq').list()).map((m) => m.id)).toEqual([other]), wait)
    // Broker counts are approximate for a moment after a DLQ scan gave messages back.
    await eventually(async () => expect((await q.counts('dlq')).dead).toBe(1), wait)
    expect(await q.dlq('dlq').purge(other)).toBe(1)
    expect(await q.dlq('dlq').list()).toEqual([])
    await c.close()
  })

  it('sends an UnrecoverableError to the DLQ at once', async () => {
    const q = ctx.subject()
    class Permanent extends Error {}
    const unrecoverable = Object.assign(new Permanent('gone'), {})
    Object.defineProperty(unrecoverable, Symbol.for('beaver-kit.queue.unrecoverable'), { value: true })
    const id = await q.publish('unrec', 'x', { attempts: 5 })
    const c = await q.consume('unrec', () => {
      throw unrecoverable
    })
    await eventually(async () => expect((await q.get('unrec', id))?.state).toBe('dead'), wait)
    await c.close()
    const stored = await q.get('unrec', id)
    expect(stored?.attempt).toBe(1)
    expect(stored?.deadReason).toMatch(/unrecoverable/)
  })

  it('dead-letters a payload it cannot decode instead of crashing the worker', async () => {
    const q = ctx.subject()
    const id = await q.publish('undecodable', { fine: true })
    const good: unknown[] = []
    const c = await q.consume(ctx.options.rejectingJob('undecodable'), (m) => void good.push(m.payload))
    await eventually(async () => expect((await q.get('undecodable', id))?.state).toBe('dead'), wait)
    await c.close()
    expect(good).toEqual([])
    expect((await q.get('undecodable', id))?.deadReason).toMatch(/deserialized/)
  })

  it('rejects a payload that cannot be serialized, naming the reason', async () => {
    const q = ctx.subject()
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    await expect(q.publish('ser', cyclic)).rejects.toSatisfy((e: unknown) => isBeaverError(e, 'QUEUE_SERIALIZE_FAILED'))
    await expect(q.publish('ser', 1n)).rejects.toSatisfy((e: unknown) => isBeaverError(e, 'QUEUE_SERIALIZE_FAILED'))
  })

  it('dedupes by key while the first is pending, and by id always', async (t) => {
    const q = ctx.subject()
    await needs(t, q, 'dedupe')
    const a = await q.publish('dedupe', 1, { dedupeKey: 'k' })
    const b = await q.publish('dedupe', 2, { dedupeKey: 'k' })
    expect(b).toBe(a)
    const [c1, c2] = await q.publishBatch('dedupe', [
      { payload: 3, dedupeKey: 'k' },
      { payload: 4, id: 'fixed-id' },
    ])
    expect(c1).toBe(a)
    expect(c2).toBe('fixed-id')
    expect(await q.publish('dedupe', 5, { id: 'fixed-id' })).toBe('fixed-id')
    const seen: unknown[] = []
    const c = await q.consume('dedupe', (m) => void seen.push(m.payload))
    await eventually(() => expect(seen.sort()).toEqual([1, 4]), wait)
    await eventually(async () => expect((await q.get('dedupe', a))?.state).toBe('completed'), wait)
    const again = await q.publish('dedupe', 6, { dedupeKey: 'k' })
    expect(again).not.toBe(a)
    await eventually(() => expect(seen).toContain(6), wait)
    await c.close()
  })

  it('cancels a waiting message', async (t) => {
    const q = ctx.subject()
    await needs(t, q, 'cancel')
    const id = await q.publish('cancel-wait', 'x', { delay: 60_000 })
    expect(await q.cancel('cancel-wait', id)).toBe('removed')
    expect((await q.get('cancel-wait', id))?.state ?? 'cancelled').toBe('cancelled')
    expect(await q.cancel('cancel-wait', 'no-such-id')).toBe('none')
    expect((await q.counts('cancel-wait')).delayed).toBe(0)
  })

  it('cancels a running message from another process: the handler’s signal aborts', async (t) => {
    const q = ctx.subject()
    await needs(t, q, 'cancel')
    const other = await ctx.another()
    const started = deferred()
    let reason: unknown
    const id = await q.publish('cancel-run', 'x', { attempts: 5 })
    const c = await q.consume(
      'cancel-run',
      async (_m, h) => {
        started.resolve()
        try {
          await untilAborted(h.signal)
        } catch (e) {
          reason = e
          throw e
        }
      },
      { leaseTime: 3000 },
    )
    await started.promise
    expect(await other.cancel('cancel-run', id)).toBe('signalled')
    await eventually(() => expect(isBeaverError(reason, 'QUEUE_CANCELLED')).toBe(true), wait)
    await eventually(async () => expect((await q.get('cancel-run', id))?.state ?? 'cancelled').toBe('cancelled'), wait)
    await c.close()
    expect(c.stats().retried).toBe(0)
  })

  it('keeps per-group concurrency and serves groups round-robin', async (t) => {
    const q = ctx.subject()
    await needs(t, q, 'fairness')
    for (let i = 0; i < 6; i++) await q.publish('fair', `a${i}`, { group: 'tenant-a' })
    await q.publish('fair', 'b0', { group: 'tenant-b' })
    await q.publish('fair', 'c0', { group: 'tenant-c' })
    const inFlight = new Map<string, number>()
    let maxPerGroup = 0
    const order: string[] = []
    const c = await q.consume(
      'fair',
      async (m) => {
        const g = m.group as string
        inFlight.set(g, (inFlight.get(g) ?? 0) + 1)
        maxPerGroup = Math.max(maxPerGroup, inFlight.get(g) as number)
        order.push(String(m.payload))
        await new Promise((r) => setTimeout(r, 20))
        inFlight.set(g, (inFlight.get(g) as number) - 1)
      },
      { concurrency: 3, groupConcurrency: 1 },
    )
    await eventually(() => expect(order).toHaveLength(8), wait)
    await c.close()
    expect(maxPerGroup).toBe(1)
    // b0 and c0 are not starved behind tenant-a's six: they run within the first three starts.
    expect(order.slice(0, 3).sort()).toEqual(['a0', 'b0', 'c0'])
  })

  it('redelivers a message whose lease expired (a crashed worker) with the attempt counted', async (t) => {
    const q = ctx.subject()
    await needs(t, q, 'extendLease')
    const other = await ctx.another()
    const id = await q.publish('lease', 'x', { attempts: 5 })
    const first = deferred()
    const c1 = await q.consume(
      'lease',
      async (_m, h) => {
        first.resolve()
        await untilAborted(h.signal).catch(() => undefined)
      },
      { leaseTime: 300, renewLease: false, concurrency: 1 },
    )
    await first.promise
    const attempts: number[] = []
    const c2 = await other.consume('lease', (m) => void attempts.push(m.attempt))
    await eventually(() => expect(attempts).toEqual([2]), wait)
    await completed(other, 'lease', id, c2, 1, wait)
    await c2.close()
    await c1.close({ timeout: 50 })
  })

  it('extends a lease from the handler, so a long handler is not redelivered', async (t) => {
    const q = ctx.subject()
    await needs(t, q, 'extendLease')
    const other = await ctx.another()
    await q.publish('extend', 'x')
    const done = deferred()
    const started = deferred()
    let extended: unknown = 'not called'
    const c1 = await q.consume(
      'extend',
      async (_m, h) => {
        started.resolve()
        try {
          await h.extendLease(20_000)
          extended = undefined
          // Longer than the 1.5 s lease it was delivered with: only the extension keeps it here.
          await new Promise((r) => setTimeout(r, 2500))
        } catch (e) {
          extended = e
        } finally {
          done.resolve()
        }
      },
      { leaseTime: 1500, renewLease: false },
    )
    await started.promise
    const elsewhere: number[] = []
    const c2 = await other.consume('extend', (m) => void elsewhere.push(m.attempt))
    await done.promise
    expect(extended).toBeUndefined()
    if ((await q.capabilities()).history === false) {
      await eventually(() => expect(c1.stats().completed).toBe(1), wait)
    } else {
      await eventually(async () => expect((await q.counts('extend')).completed).toBe(1), wait)
    }
    await c1.close()
    await c2.close()
    expect(elsewhere).toEqual([])
  })

  it('fails a handler that runs past its timeout with QUEUE_TIMEOUT and retries it', async () => {
    const q = ctx.subject()
    const id = await q.publish('timeout', 'x', { timeout: 100, attempts: 2, backoff: { base: 10, max: 10 } })
    const attempts: number[] = []
    const c = await q.consume('timeout', async (m, h) => {
      attempts.push(m.attempt)
      if (m.attempt === 1) await untilAborted(h.signal)
    })
    await completed(q, 'timeout', id, c, 1, wait)
    await c.close()
    expect(attempts).toEqual([1, 2])
  })

  it('drains on close: running handlers finish and are acknowledged', async () => {
    const q = ctx.subject()
    const started = deferred()
    const id = await q.publish('drain', 'x')
    let finished = false
    const c = await q.consume('drain', async () => {
      started.resolve()
      await new Promise((r) => setTimeout(r, 300))
      finished = true
    })
    await started.promise
    await c.close({ timeout: 5000 })
    expect(finished).toBe(true)
    if ((await q.capabilities()).history === false) expect(c.stats().completed).toBe(1)
    else expect((await q.get('drain', id))?.state).toBe('completed')
  })

  it('releases what is still running when the drain time runs out, uncounted, for another worker', async () => {
    const q = ctx.subject()
    const other = await ctx.another()
    const started = deferred()
    const id = await q.publish('release', 'x', { attempts: 1 })
    const c = await q.consume(
      'release',
      async (_m, h) => {
        started.resolve()
        await untilAborted(h.signal)
      },
      { leaseTime: 60_000 },
    )
    await started.promise
    await c.close({ timeout: 50 })
    const attempts: number[] = []
    const c2 = await other.consume('release', (m) => void attempts.push(m.attempt))
    await eventually(() => expect(attempts).toEqual([1]), wait)
    await completed(other, 'release', id, c2, 1, wait)
    await c2.close()
  })

  it('pauses, resumes and resizes a consumer, with stats', async () => {
    const q = ctx.subject()
    const seen: unknown[] = []
    const c = await q.consume('pause', (m) => void seen.push(m.payload), { concurrency: 2 })
    c.pause()
    expect(c.stats().paused).toBe(true)
    await q.publish('pause', 1)
    await new Promise((r) => setTimeout(r, 200))
    expect(seen).toEqual([])
    c.resize(4)
    c.resume()
    await eventually(() => expect(seen).toEqual([1]), wait)
    expect(c.stats()).toMatchObject({ concurrency: 4, paused: false })
    await eventually(() => expect(c.stats().completed).toBe(1), wait)
    await c.close()
  })

  it('acknowledges and rejects explicitly in manual mode', async () => {
    const q = ctx.subject()
    const ok = await q.publish('manual', 'ok')
    const bad = await q.publish('manual', 'bad', { attempts: 3 })
    const c = await q.consume(
      'manual',
      async (m, h) => {
        if (m.payload === 'ok') setTimeout(() => void h.ack(), 50)
        else await h.nack({ requeue: false, error: new Error('rejected by handler') })
      },
      { ack: 'manual' },
    )
    await completed(q, 'manual', ok, c, 1, wait)
    await eventually(async () => expect((await q.get('manual', bad))?.state).toBe('dead'), wait)
    await c.close()
    expect((await q.get('manual', bad))?.lastError).toContain('rejected by handler')
  })

  it('records progress', async (t) => {
    const q = ctx.subject()
    await needs(t, q, 'history')
    const id = await q.publish('progress', 'x')
    const c = await q.consume('progress', async (_m, h) => {
      await h.progress({ pct: 50 })
    })
    await eventually(async () => expect((await q.get('progress', id))?.state).toBe('completed'), wait)
    await c.close()
    expect(JSON.parse((await q.get('progress', id))?.progress ?? 'null')).toEqual({ pct: 50 })
  })

  it('limits the start rate of a consumer', async () => {
    const q = ctx.subject()
    await q.publishBatch(
      'rate',
      Array.from({ length: 6 }, (_, i) => ({ payload: i })),
    )
    const starts: number[] = []
    const c = await q.consume('rate', () => void starts.push(Date.now()), {
      concurrency: 10,
      rateLimit: { max: 3, per: 400 },
    })
    await eventually(() => expect(starts).toHaveLength(6), wait)
    await c.close()
    expect((starts[5] as number) - (starts[0] as number)).toBeGreaterThanOrEqual(350)
  })
})
