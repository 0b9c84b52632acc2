// What the conformance suite cannot ask a broker: a crashed worker (its connection gone
// without an ack) instead of a lease that expires; a channel the server closes; a connection
// dropped mid-stream; a queue deleted behind the consumer's back; bad credentials.
import { createRequire } from 'node:module'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { eventually, requireService, startFaultProxy, uniqueNamespace } from '@beaver-kit/testkit'
import { createQueue, isQueueError, type Queue } from '@beaver-kit/queue'
import { rabbitmqDriver } from '@beaver-kit/queue/rabbitmq'
import { expectRedeliveryAfterCut, trackQueues, watchConnection } from './support/broker-faults.ts'

const url = await requireService('rabbitmq')
const require = createRequire(import.meta.url)

function rabbitQueue(amqpUrl: string, namespace: string, queueType?: 'classic' | 'quorum'): Queue {
  return createQueue({
    driver: 'rabbitmq',
    rabbitmq: { url: amqpUrl, expires: '1m', ...(queueType ? { queueType } : {}) },
    namespace,
    envPrefix: false,
  })
}

const wait = { timeoutMs: 15_000 }

describe.runIf(url)('rabbitmq faults', () => {
  const { open } = trackQueues(rabbitQueue)
  afterEach(() => {
    vi.restoreAllMocks()
  })

  it('redelivers the message of a worker whose connection died, with the attempt counted', async () => {
    await expectRedeliveryAfterCut({
      url: url as string,
      open: (u, ns) => open(u, ns),
      cut: async (proxy) => proxy.closeAll(),
    })
  })

  it('keeps consuming and publishing after the connection drops, and says so on beaver:queue:connection', async () => {
    const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: 5672 } })
    const { states, stop } = watchConnection()
    try {
      const q = open(proxy.url(url as string), uniqueNamespace('rmq'))
      const seen = new Set<unknown>()
      await q.consume('reconnect', (m) => void seen.add(m.payload), { concurrency: 4 })
      await q.publishBatch(
        'reconnect',
        Array.from({ length: 20 }, (_, i) => ({ payload: i })),
      )
      await eventually(() => expect(seen.size).toBe(20), wait)
      proxy.closeAll()
      await eventually(() => expect(states).toContain('lost'), wait)
      // A publish right after the drop either reconnects and is confirmed, or fails loudly.
      await eventually(async () => {
        await q.publishBatch(
          'reconnect',
          Array.from({ length: 20 }, (_, i) => ({ payload: 20 + i })),
        )
      }, wait)
      await eventually(() => expect(seen.size).toBe(40), wait)
      expect(states).toContain('restored')
    } finally {
      stop()
      await proxy.close()
    }
  })

  it('recreates a consumer channel the server closed (a 406 on a bad acknowledgement)', async () => {
    const { ChannelModel } = require('amqplib/lib/channel_model') as {
      ChannelModel: { prototype: { createChannel(): Promise<unknown> } }
    }
    const created: Array<{
      ack(m: unknown): void
      once(e: string, f: () => void): void
      consumers: Map<string, unknown>
    }> = []
    const original = ChannelModel.prototype.createChannel
    vi.spyOn(ChannelModel.prototype, 'createChannel').mockImplementation(async function (this: unknown) {
      const ch = (await original.call(this)) as (typeof created)[number]
      created.push(ch)
      return ch
    })
    const q = open(url as string, uniqueNamespace('rmq'))
    const seen: unknown[] = []
    await q.consume('chan', (m) => void seen.push(m.payload))
    const consumerChannel = await eventually(() => {
      const found = created.find((ch) => ch.consumers.size > 0)
      expect(found).toBeDefined()
      return found
    }, wait)
    const made = created.length
    const closed = new Promise<void>((r) => consumerChannel?.once('close', r))
    consumerChannel?.ack({ fields: { deliveryTag: 999_999 } })
    await closed
    await q.publishBatch('chan', [{ payload: 'before' }, { payload: 'after' }])
    await eventually(() => expect(seen).toEqual(['before', 'after']), wait)
    expect(created.length).toBeGreaterThan(made)
  })

  it('subscribes again when the queue is deleted under a running consumer', async () => {
    const amqp = await import('amqplib')
    const ns = uniqueNamespace('rmq')
    const q = open(url as string, ns)
    const seen: unknown[] = []
    const c = await q.consume('deleted', (m) => void seen.push(m.payload))
    await q.publish('deleted', 1)
    await eventually(() => expect(c.stats().completed).toBe(1), wait)
    const conn = await amqp.connect(url as string)
    try {
      const ch = await conn.createChannel()
      await ch.deleteQueue(`bq:${ns}/deleted`)
    } finally {
      await conn.close()
    }
    await q.publish('deleted', 2)
    await eventually(() => expect(seen).toEqual([1, 2]), wait)
  })

  it('names the setting when the credentials or the virtual host are wrong, without the password', async () => {
    const bad = open('amqp://guest:wrong-secret@127.0.0.1:5672', uniqueNamespace('rmq'))
    const error = await bad.ready().catch((e: unknown) => e)
    expect(isQueueError(error, 'QUEUE_DRIVER_UNAVAILABLE')).toBe(true)
    expect((error as Error).message).toContain('BEAVER_QUEUE_RABBITMQ_URL')
    expect((error as Error).message).not.toContain('wrong-secret')
    const vhost = open('amqp://guest:guest@127.0.0.1:5672/no-such-vhost', uniqueNamespace('rmq'))
    const e2 = await vhost.ready().catch((e: unknown) => e)
    expect(isQueueError(e2, 'QUEUE_DRIVER_UNAVAILABLE')).toBe(true)
    expect((e2 as Error).message).toMatch(/virtual host.*BEAVER_QUEUE_RABBITMQ_URL/)
  })

  it('fails a publish whose confirmation the dropped connection took with it, and stores nothing', async () => {
    const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: 5672 } })
    try {
      const ns = uniqueNamespace('rmq')
      const q = open(proxy.url(url as string), ns)
      await q.publish('jobs', 1)
      proxy.pause()
      const before = proxy.bytesFromClients
      const publishing = q.publish('jobs', 2).catch((e: unknown) => e)
      await eventually(() => expect(proxy.bytesFromClients).toBeGreaterThan(before), wait)
      proxy.closeAll()
      const error = await publishing
      expect(isQueueError(error, 'QUEUE_DRIVER_UNAVAILABLE')).toBe(true)
      expect((error as Error).message).toContain(`RabbitMQ did not confirm a message to "bq:${ns}/jobs"`)
      const direct = open(url as string, ns)
      expect((await direct.counts('jobs')).waiting).toBe(1)
    } finally {
      await proxy.close()
    }
  })

  it('names the URL setting when nothing listens, without a password to mask', async () => {
    const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: 5672 } })
    try {
      await proxy.refuse()
      const q = open(`amqp://${proxy.address}`, uniqueNamespace('rmq'))
      const error = await q.ready().catch((e: unknown) => e)
      expect(isQueueError(error, 'QUEUE_DRIVER_UNAVAILABLE')).toBe(true)
      expect((error as Error).message).toMatch(
        /Cannot connect to RabbitMQ at amqp:\/\/127\.0\.0\.1:\d+.*check BEAVER_QUEUE_RABBITMQ_URL and that RabbitMQ is running/,
      )
    } finally {
      await proxy.close()
    }
  })

  it('refuses a queue declared before with another type, naming the setting, each time it is asked', async () => {
    const ns = uniqueNamespace('rmq')
    await open(url as string, ns).publish('jobs', 1)
    const classic = open(url as string, ns, 'classic')
    for (let i = 0; i < 2; i++) {
      const error = await classic.publish('jobs', 2).catch((e: unknown) => e)
      expect(isQueueError(error, 'QUEUE_DRIVER_UNAVAILABLE')).toBe(true)
      expect((error as Error).message).toMatch(
        new RegExp(
          `queue "bq:${ns}/jobs" exists with other arguments.*'x-queue-type'.*BEAVER_QUEUE_RABBITMQ_QUEUE_TYPE must match`,
        ),
      )
    }
  })

  it('closes while it connects, and refuses work once closed', async () => {
    const ctx = {
      now: Date.now,
      settings: { keepCompletedMs: 0, keepCompletedMax: 0, keepDeadMs: 0, pollIntervalMs: 50 },
      onConnection: () => undefined,
    }
    const d = await rabbitmqDriver.create({ url: url as string }, ctx)
    const pinging = d.ping().catch((e: unknown) => e)
    await d.close()
    expect(isQueueError(await pinging, 'QUEUE_CLOSED')).toBe(true)
    await d.close()
    const error = await d.ping().catch((e: unknown) => e)
    expect(isQueueError(error, 'QUEUE_CLOSED')).toBe(true)
  })
})
