// What the conformance suite cannot ask RabbitMQ about delivery: messages another producer
// sent, messages the broker dead-lettered itself, settling a delivery twice or after it was
// lost, what counts() reads from delay queues and unacknowledged deliveries, the default
// prefetch (one beyond the handlers) and prefetch below the concurrency, prefetched messages
// given back on close, and its own queue naming.
import type { Channel, ChannelModel } from 'amqplib'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { eventually, requireService, uniqueNamespace } from '@beaver-kit/testkit'
import { createQueue, type Queue, type QueueOptions } from '@beaver-kit/queue'
import { rabbitmqDriver } from '@beaver-kit/queue/rabbitmq'

const url = await requireService('rabbitmq')
const wait = { timeoutMs: 15_000 }
const driverContext = {
  now: Date.now,
  settings: { keepCompletedMs: 0, keepCompletedMax: 0, keepDeadMs: 0, pollIntervalMs: 50 },
  onConnection: () => undefined,
}
const fetchOnce = (waitMs = 5000) => ({
  max: 10,
  leaseMs: 30_000,
  groupLimit: undefined,
  waitMs,
  signal: new AbortController().signal,
})

describe.runIf(url)('rabbitmq delivery', () => {
  let conn: ChannelModel
  let raw: Channel
  beforeAll(async () => {
    const amqp = await import('amqplib')
    conn = await amqp.connect(url as string)
    raw = await conn.createChannel()
  })
  afterAll(async () => {
    await conn.close()
  })

  const opened: Array<{ close(): Promise<void> }> = []
  const open = (ns: string, options: QueueOptions = {}): Queue => {
    const { rabbitmq, ...rest } = options
    const q = createQueue({
      driver: 'rabbitmq',
      rabbitmq: { url: url as string, expires: '1m', ...rabbitmq },
      namespace: ns,
      envPrefix: false,
      ...rest,
    })
    opened.push(q)
    return q
  }
  const openDriver = async () => {
    const d = await rabbitmqDriver.create({ url: url as string, expires: 60_000 }, driverContext)
    opened.push(d)
    return d
  }
  afterEach(async () => {
    for (const c of opened.splice(0)) await c.close()
  })

  it('delivers a message another producer sent without the envelope or a message id', async () => {
    const ns = uniqueNamespace('rmq')
    const q = open(ns)
    await q.counts('plain') // declares the queue
    raw.sendToQueue(`bq:${ns}/plain`, Buffer.from('{"a":1}'))
    const seen: Array<{ id: string; payload: unknown; attempt: number }> = []
    await q.consume('plain', (m) => void seen.push({ id: m.id, payload: m.payload, attempt: m.attempt }))
    await eventually(() => expect(seen).toMatchObject([{ payload: { a: 1 }, attempt: 1 }]), wait)
    expect(seen[0]?.id).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('publishes a fresh message with every default bare, and reads its id and creation time back to the ms', async () => {
    const ns = uniqueNamespace('rmq')
    // A creation time with milliseconds, which the AMQP timestamp (seconds) cannot hold.
    const createdAt = Math.floor(Date.now() / 1000) * 1000 - 5000 + 123
    const q = open(ns, { now: () => createdAt })
    const [first, second] = await q.publishBatch('bare', [{ payload: { n: 1 } }, { payload: { n: 2 } }])
    const got = await raw.get(`bq:${ns}/bare`, { noAck: true })
    if (!got) throw new Error('the published message is missing')
    // What other AMQP consumers see: no envelope, the id and the creation second.
    expect(got.properties.headers?.['x-beaver-envelope']).toBeUndefined()
    expect(got.properties).toMatchObject({ messageId: first, timestamp: Math.floor(createdAt / 1000), deliveryMode: 2 })
    const d = await openDriver()
    const [delivery] = await eventually(async () => {
      const list = await d.fetch(`${ns}/bare`, fetchOnce())
      expect(list.length).toBe(1)
      return list
    }, wait)
    expect(delivery).toMatchObject({
      id: second,
      queue: `${ns}/bare`,
      payload: '{"n":2}',
      headers: {},
      createdAt,
      runAt: createdAt,
      attempt: 1,
      maxAttempts: 3,
      backoffBaseMs: 1000,
      backoffMaxMs: 300_000,
      timeoutMs: 0,
    })
    await d.complete(`${ns}/bare`, [delivery as NonNullable<typeof delivery>])
  })

  it('lists what RabbitMQ dead-lettered itself with its x-death reason', async () => {
    const ns = uniqueNamespace('rmq')
    const q = open(ns)
    const id = await q.publish('jobs', 'ours')
    raw.sendToQueue(`bq:${ns}/jobs`, Buffer.from('"theirs"'), { messageId: 'foreign-1' })
    // Rejected without requeue by another client: the broker moves both to the queue's DLX target.
    for (let i = 0; i < 2; i++) {
      const msg = await eventually(async () => {
        const got = await raw.get(`bq:${ns}/jobs`, { noAck: false })
        expect(got).not.toBe(false)
        return got
      }, wait)
      if (msg) raw.nack(msg, false, false)
    }
    await eventually(async () => expect((await q.counts('jobs')).dead).toBe(2), wait)
    const dead = await q.dlq('jobs').list()
    expect(dead.map((m) => [m.id, m.deadReason]).sort()).toEqual(
      [
        [id, 'dead-lettered by RabbitMQ: rejected'],
        ['foreign-1', 'dead-lettered by RabbitMQ: rejected'],
      ].sort(),
    )
    // A scan right after another finds what the first gave back.
    expect(await q.get('jobs', 'foreign-1')).toMatchObject({ state: 'dead', payload: '"theirs"' })
  })

  it('ignores settling a delivery twice, and reports it lost to renew once settled', async () => {
    const ns = uniqueNamespace('rmq')
    const q = open(ns)
    const d = await openDriver()
    const [a, b, c] = await q.publishBatch('jobs', [{ payload: 'a' }, { payload: 'b' }, { payload: 'c' }])
    const got = await eventually(async () => {
      const list = await d.fetch(`${ns}/jobs`, fetchOnce())
      expect(list.length).toBe(3)
      return list
    }, wait)
    const [da, db, dc] = [a, b, c].map((id) => got.find((x) => x.id === id))
    if (!da || !db || !dc) throw new Error('a delivery is missing')
    // Held by this driver: active in counts() and get().
    expect(await d.counts(`${ns}/jobs`)).toMatchObject({ waiting: 0, active: 3 })
    expect(await d.get(`${ns}/jobs`, a as string)).toMatchObject({ id: a, state: 'active', attempt: 1 })
    expect(await d.renew(`${ns}/jobs`, [da], 30_000)).toEqual({ cancelled: [], lost: [] })
    await d.complete(`${ns}/jobs`, [da])
    await d.fail(`${ns}/jobs`, db, { kind: 'cancelled', error: 'cancelled' })
    await d.release(`${ns}/jobs`, [dc])
    // Settled already: each of these is a no-op, with no copy published anywhere.
    await d.complete(`${ns}/jobs`, [da, db])
    await d.fail(`${ns}/jobs`, da, { kind: 'dead', reason: 'late', error: 'late' })
    await d.release(`${ns}/jobs`, [da, db])
    expect(await d.renew(`${ns}/jobs`, [da, db], 30_000)).toEqual({ cancelled: [], lost: [a, b] })
    // Only the released one is back, uncounted.
    const again = await eventually(async () => {
      const list = await d.fetch(`${ns}/jobs`, fetchOnce())
      expect(list.map((x) => [x.id, x.attempt])).toEqual([[c, 1]])
      return list
    }, wait)
    await d.complete(`${ns}/jobs`, again)
    expect(await d.counts(`${ns}/jobs`)).toMatchObject({ waiting: 0, active: 0, dead: 0 })
  })

  it('counts messages waiting in each delay queue as delayed', async () => {
    const ns = uniqueNamespace('rmq')
    const q = open(ns)
    await q.publish('later', 1, { delay: '30s' })
    await q.publish('later', 2, { delay: '5m' })
    await q.publish('later', 3, { delay: '30s' })
    await eventually(async () => expect(await q.counts('later')).toMatchObject({ waiting: 0, delayed: 3 }), wait)
  })

  /**
   * Six messages to a consumer whose handlers all hold until released: once `running` handlers
   * started, `left` must be waiting on the queue (the rest were pushed into its buffer); then
   * every message completes.
   */
  const holdSix = async (q: Queue, concurrency: number, running: number, left: number): Promise<void> => {
    await q.publishBatch(
      'jobs',
      Array.from({ length: 6 }, (_, i) => ({ payload: i })),
    )
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    let started = 0
    const c = await q.consume(
      'jobs',
      async () => {
        started++
        await gate
      },
      { concurrency },
    )
    await eventually(async () => {
      expect(started).toBe(running)
      expect((await q.counts('jobs')).waiting).toBe(left)
    }, wait)
    release()
    await eventually(() => expect(c.stats().completed).toBe(6), wait)
  }

  it('takes no more unacknowledged messages than its prefetch, whatever the concurrency', async () => {
    await holdSix(open(uniqueNamespace('rmq'), { rabbitmq: { prefetch: 2 } }), 8, 2, 4)
  })

  it('by default takes one message beyond its running handlers (prefetch: concurrency + 1)', async () => {
    // Two running, one waiting in the consumer's buffer for the next free slot, three left.
    await holdSix(open(uniqueNamespace('rmq')), 2, 2, 3)
  })

  it('gives prefetched messages back uncounted when its consumer closes', async () => {
    const ns = uniqueNamespace('rmq')
    const q = open(ns, { rabbitmq: { prefetch: 4 } })
    const ids = await q.publishBatch(
      'jobs',
      ['a', 'b', 'c', 'd'].map((payload) => ({ payload })),
    )
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const ran: string[] = []
    const c = await q.consume(
      'jobs',
      async (m) => {
        ran.push(m.id)
        await gate
      },
      { concurrency: 1 },
    )
    // One running, three pushed by the broker into the consumer's buffer.
    await eventually(async () => {
      expect(ran.length).toBe(1)
      expect((await q.counts('jobs')).waiting).toBe(0)
    }, wait)
    const closing = c.close({ timeout: '10s' })
    await eventually(async () => expect((await q.counts('jobs')).waiting).toBe(3), wait)
    release()
    await closing
    const other = open(ns)
    const seen: Array<[string, number]> = []
    await other.consume('jobs', (m) => void seen.push([m.id, m.attempt]))
    await eventually(() => expect(seen.length).toBe(3), wait)
    expect(seen.map(([id]) => id).sort()).toEqual(ids.filter((id) => id !== ran[0]).sort())
    expect(seen.map(([, attempt]) => attempt)).toEqual([1, 1, 1])
  })

  it('purges one dead message by id and replays all the others', async () => {
    const ns = uniqueNamespace('rmq')
    const q = open(ns)
    const ids = await q.publishBatch(
      'jobs',
      ['a', 'b', 'c'].map((payload) => ({ payload, attempts: 1 })),
    )
    let failing = true
    const seen: string[] = []
    await q.consume('jobs', (m) => {
      if (failing) throw new Error('nope')
      seen.push(m.id)
    })
    await eventually(async () => expect((await q.counts('jobs')).dead).toBe(3), wait)
    failing = false
    expect(await q.dlq('jobs').purge(ids[0])).toBe(1)
    // The purge's scan gave the other two back; they are visible again when it resolves.
    expect(await q.dlq('jobs').replayAll()).toBe(2)
    await eventually(() => expect(seen.sort()).toEqual([ids[1], ids[2]].sort()), wait)
    expect((await q.counts('jobs')).dead).toBe(0)
  })

  it('reads the DLQ again right after a read and sees every message (quorum queues apply returns late)', async () => {
    const ns = uniqueNamespace('rmq')
    const q = open(ns)
    const ids = await q.publishBatch(
      'reads',
      ['a', 'b', 'c', 'd'].map((payload) => ({ payload, attempts: 1 })),
    )
    const c = await q.consume('reads', () => {
      throw new Error('nope')
    })
    await eventually(async () => expect((await q.counts('reads')).dead).toBe(4), wait)
    await c.close()
    for (let i = 0; i < 10; i++) {
      expect((await q.dlq('reads').list()).map((m) => m.id).sort()).toEqual([...ids].sort())
      expect((await q.counts('reads')).dead).toBe(4)
      expect((await q.get('reads', ids[i % 4] as string))?.state).toBe('dead')
    }
  })

  it('names its queues with the prefix it is given', async () => {
    const ns = uniqueNamespace('rmq')
    const q = open(ns, { rabbitmq: { prefix: 'bqt' } })
    await q.publish('jobs', 1)
    expect((await raw.checkQueue(`bqt:${ns}/jobs`)).messageCount).toBe(1)
    expect((await raw.checkQueue(`bqt:${ns}/jobs:dead`)).messageCount).toBe(0)
  })
})
