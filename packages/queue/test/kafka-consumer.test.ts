// The kafka driver's consumer side beyond the conformance suite: a delay held by a running
// consumer until due, back-pressure on a small buffer, a rebalance between two processes of one
// group, gzip batches, and the driver primitives on a delivery it holds. Against the testkit broker.
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { eventually, uniqueNamespace } from '@beaver-kit/testkit'
import { startKafkaBroker } from '@beaver-kit/testkit/kafka'
import { createQueue, type Queue, type QueueOptions } from '@beaver-kit/queue'
import { kafkaDriver } from '@beaver-kit/queue/kafka'

const broker = await startKafkaBroker()
afterAll(async () => {
  await broker.close()
})
const wait = { timeoutMs: 15_000 }

describe('kafka consumer (testkit broker)', () => {
  const opened: Array<{ close(): Promise<void> }> = []
  const open = (ns: string, options: QueueOptions = {}): Queue => {
    const { kafka, ...rest } = options
    const q = createQueue({
      driver: 'kafka',
      kafka: { brokers: [broker.address], partitions: 2, ...kafka },
      namespace: ns,
      envPrefix: false,
      ...rest,
    })
    opened.push(q)
    return q
  }
  afterEach(async () => {
    for (const q of opened.splice(0).reverse()) await q.close()
  })

  it('holds a delayed message in the running consumer until it is due, counted as delayed', async () => {
    const ns = uniqueNamespace('kafka')
    const q = open(ns)
    const ran: number[] = []
    const c = await q.consume('later', () => void ran.push(Date.now()))
    // A first message shows the consumer has joined and reads the topics.
    await q.publish('later', 'warm-up')
    await eventually(() => expect(ran).toHaveLength(1), wait)
    const published = Date.now()
    await q.publish('later', 'x', { delay: 1500 })
    await eventually(async () => expect(await q.counts('later')).toMatchObject({ delayed: 1, active: 0 }), wait)
    await eventually(() => expect(ran).toHaveLength(2), wait)
    expect((ran[1] as number) - published).toBeGreaterThanOrEqual(1490)
    await c.close()
    expect(await q.counts('later')).toMatchObject({ waiting: 0, delayed: 0, active: 0 })
  })

  it('delivers every message once through a buffer smaller than the backlog', async () => {
    const q = open(uniqueNamespace('kafka'), { driverOptions: { bufferSize: 2 } })
    await q.publishBatch(
      'small',
      Array.from({ length: 30 }, (_, i) => ({ payload: i })),
    )
    const seen = new Map<unknown, number>()
    const c = await q.consume('small', (m) => void seen.set(m.payload, (seen.get(m.payload) ?? 0) + 1), {
      concurrency: 1,
    })
    await eventually(() => expect(seen.size).toBe(30), wait)
    await c.close()
    expect([...seen.values()].every((n) => n === 1)).toBe(true)
  })

  it('shares a queue between two processes of one group and loses nothing when one leaves', async () => {
    const ns = uniqueNamespace('kafka')
    const a = open(ns)
    const b = open(ns)
    const seen = new Set<unknown>()
    const handler = async (m: { payload: unknown }) => {
      seen.add(m.payload)
      await new Promise((r) => setTimeout(r, 5))
    }
    const ca = await a.consume('shared', handler)
    await a.publishBatch(
      'shared',
      Array.from({ length: 40 }, (_, i) => ({ payload: i })),
    )
    // The second member joins while the first works: a rebalance splits the partitions.
    const cb = await b.consume('shared', handler)
    await a.publishBatch(
      'shared',
      Array.from({ length: 40 }, (_, i) => ({ payload: 40 + i })),
    )
    await eventually(() => expect(seen.size).toBeGreaterThanOrEqual(50), wait)
    await ca.close()
    await a.publishBatch(
      'shared',
      Array.from({ length: 20 }, (_, i) => ({ payload: 80 + i })),
    )
    await eventually(() => expect(seen.size).toBe(100), wait)
    await eventually(async () => expect((await b.counts('shared')).waiting).toBe(0), wait)
    await cb.close()
  })

  it('produces and consumes gzip batches', async () => {
    const q = open(uniqueNamespace('kafka'), { kafka: { compression: 'gzip' } })
    await q.publishBatch('zipped', [{ payload: { a: 'a'.repeat(1000) } }, { payload: { a: 'b' } }])
    const seen: unknown[] = []
    const c = await q.consume('zipped', (m) => void seen.push(m.payload))
    await eventually(() => expect(seen).toHaveLength(2), wait)
    await c.close()
    expect(seen).toContainEqual({ a: 'b' })
  })

  it('shows a held delivery as active, renews it, cannot cancel it, and reports it lost once settled', async () => {
    const ns = uniqueNamespace('kafka')
    const q = open(ns)
    const id = await q.publish('direct', 'x')
    const d = await kafkaDriver.create(
      { brokers: [broker.address], partitions: 2 },
      {
        now: Date.now,
        settings: { keepCompletedMs: 0, keepCompletedMax: 0, keepDeadMs: 0, pollIntervalMs: 50 },
        onConnection: () => undefined,
      },
    )
    opened.push(d)
    const fetchOnce = {
      max: 10,
      leaseMs: 30_000,
      groupLimit: undefined,
      waitMs: 1000,
      signal: new AbortController().signal,
    }
    const [delivery] = await eventually(async () => {
      const got = await d.fetch(`${ns}/direct`, fetchOnce)
      expect(got).toHaveLength(1)
      return got
    }, wait)
    if (!delivery) return
    expect(await d.get(`${ns}/direct`, id)).toMatchObject({ id, state: 'active', attempt: 1 })
    expect(await d.renew(`${ns}/direct`, [delivery], 30_000)).toEqual({ cancelled: [], lost: [] })
    expect(await d.cancel(`${ns}/direct`, id)).toBe('none')
    await d.progress(`${ns}/direct`, delivery, '50')
    expect(await d.counts(`${ns}/direct`)).toMatchObject({ waiting: 0, active: 1 })
    await d.complete(`${ns}/direct`, [delivery])
    expect(await d.renew(`${ns}/direct`, [delivery], 30_000)).toEqual({ cancelled: [], lost: [id] })
    // Settling it again does nothing: no copy, no second commit.
    await d.fail(`${ns}/direct`, delivery, { kind: 'retry', runAt: Date.now(), error: 'late' })
    await d.complete(`${ns}/direct`, [delivery])
    expect(await d.counts(`${ns}/direct`)).toMatchObject({ waiting: 0, active: 0, delayed: 0 })
    expect(await d.get(`${ns}/direct`, id)).toBeUndefined()
    await d.stopFetching?.(`${ns}/direct`)
    // A fetch after stopping subscribes again.
    expect(await d.fetch(`${ns}/direct`, { ...fetchOnce, waitMs: 0 })).toEqual([])
    await d.close()
    await d.close()
  })
})
