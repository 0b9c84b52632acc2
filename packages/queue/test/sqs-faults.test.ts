// What the conformance suite cannot ask SQS: an endpoint that refuses connections, a message
// SQS refuses, a receipt SQS no longer accepts, a delay past SQS's 15 minutes, its own redrive
// policy, messages sent by another producer, a long poll cut short, a client the user owns.
// Against fauxqs (see drivers/sqs.test.ts), through the fault proxy where the network fails.
import * as sqs from '@aws-sdk/client-sqs'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { eventually, startFaultProxy, uniqueNamespace } from '@beaver-kit/testkit'
import { createQueue, isQueueError, type Queue, type QueueOptions } from '@beaver-kit/queue'
import { sqsDriver } from '@beaver-kit/queue/sqs'
import { startFauxqs } from 'fauxqs'
import { freePort } from './support/servers.ts'

const server = await startFauxqs({ port: await freePort(), logger: false })
const endpoint = `http://127.0.0.1:${server.port}`
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' }
const raw = new sqs.SQSClient({ endpoint, region: 'us-east-1', credentials })
afterAll(async () => {
  raw.destroy()
  await server.stop()
})

const wait = { timeoutMs: 10_000 }
const driverContext = (now: () => number = Date.now) => ({
  now,
  settings: { keepCompletedMs: 0, keepCompletedMax: 0, keepDeadMs: 0, pollIntervalMs: 50 },
  onConnection: () => undefined,
})
const fetchOnce = (leaseMs = 30_000, waitMs = 0) => ({
  max: 10,
  leaseMs,
  groupLimit: undefined,
  waitMs,
  signal: new AbortController().signal,
})
/** The URL of a queue the driver created (`bq_<ns>--<queue>`, `-dead` for its DLQ). */
const urlOf = async (name: string): Promise<string> =>
  (await raw.send(new sqs.GetQueueUrlCommand({ QueueName: name }))).QueueUrl as string

describe('sqs faults (fauxqs)', () => {
  const opened: Array<{ close(): Promise<void> }> = []
  const open = (ns: string, options: QueueOptions = {}): Queue => {
    const { sqs: sqsOptions, driverOptions, ...rest } = options
    const q = createQueue({
      driver: 'sqs',
      sqs: { endpoint, ...sqsOptions },
      driverOptions: { credentials, ...driverOptions },
      namespace: ns,
      envPrefix: false,
      ...rest,
    })
    opened.push(q)
    return q
  }
  const openDriver = async (options: Record<string, unknown> = {}, now?: () => number) => {
    const d = await sqsDriver.create({ endpoint, credentials, ...options }, driverContext(now))
    opened.push(d)
    return d
  }
  afterEach(async () => {
    for (const c of opened.splice(0)) await c.close()
  })

  it('names the endpoint setting when SQS cannot be reached, and creates the queue once it can', async () => {
    const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: server.port } })
    try {
      await proxy.refuse()
      const q = open(uniqueNamespace('sqs'), { sqs: { endpoint: `http://${proxy.address}` } })
      const notReady = await q.ready().catch((e: unknown) => e)
      expect(isQueueError(notReady, 'QUEUE_DRIVER_UNAVAILABLE')).toBe(true)
      expect((notReady as Error).message).toMatch(/could not reach SQS.*BEAVER_QUEUE_SQS_ENDPOINT/)
      const notCreated = await q.publish('jobs', 1).catch((e: unknown) => e)
      expect(isQueueError(notCreated, 'QUEUE_DRIVER_UNAVAILABLE')).toBe(true)
      expect((notCreated as Error).message).toContain('could not create queue')
      // A failed creation is not remembered: the next publish creates the queue and stores the message.
      await proxy.accept()
      await q.publish('jobs', 2)
      expect((await q.counts('jobs')).waiting).toBe(1)
      // Refusing waits for open connections to end: the client's kept-alive one is closed.
      const refusing = proxy.refuse()
      proxy.closeAll()
      await refusing
      const notSent = await q.publish('jobs', 3).catch((e: unknown) => e)
      expect(isQueueError(notSent, 'QUEUE_DRIVER_UNAVAILABLE')).toBe(true)
      expect((notSent as Error).message).toContain('could not send messages')
    } finally {
      await proxy.close()
    }
  })

  it('fails a publish SQS refuses an entry of, with SQS’s code', async () => {
    // A serializer that produces characters SQS does not accept in a message body.
    const q = open(uniqueNamespace('sqs'), {
      serializer: { name: 'control', serialize: (v) => `\u0001${String(v)}`, deserialize: (t) => t.slice(1) },
    })
    const error = await q.publish('jobs', 'x').catch((e: unknown) => e)
    expect(isQueueError(error, 'QUEUE_DRIVER_UNAVAILABLE')).toBe(true)
    expect((error as Error).message).toMatch(/SQS refused 1 message\(s\): InvalidMessageContents/)
    expect((await q.counts('jobs')).waiting).toBe(0)
  })

  it('reports a delivery lost when SQS no longer accepts its receipt, and ignores its settlement', async () => {
    const ns = uniqueNamespace('sqs')
    const q = open(ns)
    const d = await openDriver()
    const id = await q.publish('jobs', 'x')
    const [delivery] = await d.fetch(`${ns}/jobs`, fetchOnce())
    expect(delivery?.id).toBe(id)
    if (!delivery) return
    // Another party deleted it (as SQS does with a receipt that expired and was received again).
    await raw.send(
      new sqs.DeleteMessageCommand({ QueueUrl: await urlOf(`bq_${ns}--jobs`), ReceiptHandle: delivery.token }),
    )
    expect(await d.renew(`${ns}/jobs`, [delivery], 30_000)).toEqual({ cancelled: [], lost: [id] })
    // Known lost now: no request at all, and settling it sends no copy anywhere.
    expect(await d.renew(`${ns}/jobs`, [delivery], 30_000)).toEqual({ cancelled: [], lost: [id] })
    await d.complete(`${ns}/jobs`, [delivery])
    await d.fail(`${ns}/jobs`, delivery, { kind: 'retry', runAt: Date.now(), error: 'boom' })
    await d.release(`${ns}/jobs`, [delivery])
    expect(await q.counts('jobs')).toMatchObject({ waiting: 0, delayed: 0, dead: 0 })
  })

  it('deletes a cancelled delivery without a copy, and releases one uncounted', async () => {
    const ns = uniqueNamespace('sqs')
    const q = open(ns)
    const d = await openDriver()
    const [a, b] = await q.publishBatch('jobs', [{ payload: 'a' }, { payload: 'b' }])
    const got = await d.fetch(`${ns}/jobs`, fetchOnce())
    expect(got.map((x) => x.id).sort()).toEqual([a, b].sort())
    const cancelled = got.find((x) => x.id === a)
    const released = got.find((x) => x.id === b)
    if (!cancelled || !released) return
    await d.fail(`${ns}/jobs`, cancelled, { kind: 'cancelled', error: 'cancelled' })
    await d.release(`${ns}/jobs`, [released])
    const again = await eventually(async () => {
      const list = await d.fetch(`${ns}/jobs`, fetchOnce(30_000, 1000))
      expect(list.map((x) => [x.id, x.attempt])).toEqual([[b, 1]])
      return list
    }, wait)
    await d.complete(`${ns}/jobs`, again)
    expect(await q.counts('jobs')).toMatchObject({ waiting: 0, active: 0, dead: 0 })
  })

  it('sends a message due past SQS’s 15-minute delay back for another delay instead of running it', async () => {
    const ns = uniqueNamespace('sqs')
    // Published by a clock 20 minutes ahead: SQS holds it for no time, but it is not due yet.
    const ahead = open(ns, { now: () => Date.now() + 20 * 60_000 })
    await ahead.publish('later', 'x')
    const d = await openDriver()
    expect(await d.fetch(`${ns}/later`, fetchOnce(30_000, 1000))).toEqual([])
    await eventually(async () => expect(await d.counts(`${ns}/later`)).toMatchObject({ waiting: 0, delayed: 1 }), wait)
    expect(await d.fetch(`${ns}/later`, fetchOnce())).toEqual([])
  })

  it('lists what SQS’s redrive policy moved to the DLQ with that reason, and replays it', async () => {
    const ns = uniqueNamespace('sqs')
    const q = open(ns, { sqs: { maxReceiveCount: 1 } })
    const d = await openDriver({ maxReceiveCount: 1 })
    const id = await q.publish('jobs', 'x')
    // Received once and never settled (a worker that died): the second receive redrives it.
    expect((await d.fetch(`${ns}/jobs`, fetchOnce(1000))).map((x) => x.id)).toEqual([id])
    await eventually(async () => {
      expect(await d.fetch(`${ns}/jobs`, fetchOnce(1000))).toEqual([])
      expect((await q.counts('jobs')).dead).toBe(1)
    }, wait)
    const [dead] = await q.dlq('jobs').list()
    expect(dead).toMatchObject({ id, state: 'dead', deadReason: 'moved by the SQS redrive policy (maxReceiveCount)' })
    expect(await q.get('jobs', id)).toMatchObject({ id, state: 'dead' })
    expect(await q.dlq('jobs').replayAll()).toBe(1)
    const seen: unknown[] = []
    await q.consume('jobs', (m) => void seen.push([m.id, m.payload]))
    await eventually(() => expect(seen).toEqual([[id, 'x']]), wait)
  })

  it('delivers and lists messages another producer sent without the envelope', async () => {
    const ns = uniqueNamespace('sqs')
    const q = open(ns)
    await q.ready()
    expect((await q.counts('plain')).waiting).toBe(0) // creates the queue and its DLQ
    const sent = await raw.send(
      new sqs.SendMessageCommand({ QueueUrl: await urlOf(`bq_${ns}--plain`), MessageBody: '{"a":1}' }),
    )
    const seen: unknown[] = []
    const c = await q.consume('plain', (m) => void seen.push([m.id, m.payload, m.attempt]))
    await eventually(() => expect(seen).toEqual([[sent.MessageId, { a: 1 }, 1]]), wait)
    await c.close()
    const deadSent = await raw.send(
      new sqs.SendMessageCommand({ QueueUrl: await urlOf(`bq_${ns}--plain-dead`), MessageBody: '"d"' }),
    )
    expect(await q.dlq('plain').list()).toMatchObject([
      { id: deadSent.MessageId, payload: '"d"', deadReason: 'moved by the SQS redrive policy (maxReceiveCount)' },
    ])
  })

  it('purges one dead message or all of them, keeping the others listed', async () => {
    const ns = uniqueNamespace('sqs')
    const q = open(ns)
    const ids = await q.publishBatch(
      'jobs',
      ['a', 'b', 'c'].map((payload) => ({ payload, attempts: 1 })),
    )
    const c = await q.consume('jobs', () => {
      throw new Error('nope')
    })
    await eventually(async () => expect((await q.counts('jobs')).dead).toBe(3), wait)
    await c.close()
    expect(await q.dlq('jobs').purge(ids[0])).toBe(1)
    expect((await q.dlq('jobs').list()).map((m) => m.id).sort()).toEqual([ids[1], ids[2]].sort())
    expect(await q.dlq('jobs').purge()).toBe(2)
    expect(await q.dlq('jobs').list()).toEqual([])
  })

  it('returns nothing when its long poll is aborted', async () => {
    const ns = uniqueNamespace('sqs')
    const d = await openDriver()
    const controller = new AbortController()
    const started = Date.now()
    setTimeout(() => controller.abort(), 200)
    const got = await d.fetch(`${ns}/idle`, { ...fetchOnce(30_000, 20_000), signal: controller.signal })
    expect(got).toEqual([])
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  it('uses a client it was given and leaves it open; a closed driver refuses work', async () => {
    const client = new sqs.SQSClient({ endpoint, region: 'us-east-1', credentials })
    try {
      const ns = uniqueNamespace('sqs')
      const q = open(ns, { driverOptions: { client } })
      await q.publish('jobs', 1)
      await q.close()
      const listed = await client.send(new sqs.ListQueuesCommand({ QueueNamePrefix: `bq_${ns}` }))
      expect(listed.QueueUrls?.length).toBe(2)
      const d = await openDriver({ client })
      await d.close()
      await d.close()
      const closed = await d.fetch(`${ns}/jobs`, fetchOnce()).catch((e: unknown) => e)
      expect(isQueueError(closed, 'QUEUE_CLOSED')).toBe(true)
      expect((await client.send(new sqs.ListQueuesCommand({ QueueNamePrefix: `bq_${ns}` }))).QueueUrls?.length).toBe(2)
    } finally {
      client.destroy()
    }
  })
})
