// What the conformance suite cannot ask Kafka: connections dropped mid-publish (through the
// fault proxy, which the broker advertises as its address so every connection of the client
// crosses it), an unreachable broker, records another producer wrote, the message key taken
// from `group`, the client options built from the settings. Against the testkit broker.
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { eventually, startFaultProxy, uniqueNamespace } from '@beaver-kit/testkit'
import { startKafkaBroker } from '@beaver-kit/testkit/kafka'
import { createQueue, isQueueError, type Queue, type QueueOptions } from '@beaver-kit/queue'
import { kafkaConfig } from '../src/drivers/kafka-link.ts'
import { kafkaNames, queueOfTopic } from '../src/drivers/kafka-options.ts'

const broker = await startKafkaBroker()
afterAll(async () => {
  await broker.close()
})
const wait = { timeoutMs: 15_000 }

describe('kafka faults (testkit broker)', () => {
  const opened: Queue[] = []
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
    for (const q of opened.splice(0)) await q.close()
  })

  it('confirms or fails every publish while connections drop mid-publish, and loses none it confirmed', async () => {
    const behind = await startKafkaBroker()
    const through = await startFaultProxy({ target: { host: '127.0.0.1', port: behind.port } })
    try {
      // The broker tells the client to connect through the proxy (Metadata, FindCoordinator).
      behind.advertise('127.0.0.1', through.port)
      const ns = uniqueNamespace('kafka')
      const q = open(ns, { kafka: { brokers: [through.address] }, driverOptions: { retries: 8 } })
      // Creates the topics first, so that the faults below hit produce requests.
      expect((await q.counts('jobs')).waiting).toBe(0)
      const confirmed: string[] = []
      let failed = 0
      for (let round = 0; round < 10; round++) {
        const before = through.bytesFromClients
        const sends = Array.from({ length: 20 }, (_, i) =>
          q.publish('jobs', { round, i }).then(
            (id) => void confirmed.push(id),
            (error: unknown) => {
              expect(isQueueError(error, 'QUEUE_DRIVER_UNAVAILABLE')).toBe(true)
              failed++
            },
          ),
        )
        // Cut every connection once some of this round's requests are on the wire.
        await eventually(() => expect(through.bytesFromClients).toBeGreaterThan(before), wait)
        through.resetAll()
        await Promise.all(sends)
      }
      expect(confirmed.length + failed).toBe(200)
      expect(confirmed.length).toBeGreaterThan(0)
      const seen = new Map<string, number>()
      const c = await q.consume('jobs', (m) => void seen.set(m.id, (seen.get(m.id) ?? 0) + 1), { concurrency: 20 })
      await eventually(() => expect(confirmed.filter((id) => !seen.has(id))).toEqual([]), wait)
      await c.close()
      // The idempotent producer's retries are stored once: no confirmed message was delivered twice.
      expect(confirmed.filter((id) => seen.get(id) !== 1)).toEqual([])
    } finally {
      await through.close()
      await behind.close()
    }
  })

  it('names the brokers setting when no broker can be reached', async () => {
    const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: broker.port } })
    await proxy.refuse()
    try {
      const q = open(uniqueNamespace('kafka'), { kafka: { brokers: [proxy.address] }, driverOptions: { retries: 0 } })
      const error = await q.ready().catch((e: unknown) => e)
      expect(isQueueError(error, 'QUEUE_DRIVER_UNAVAILABLE')).toBe(true)
      expect((error as Error).message).toMatch(/Kafka could not connect.*BEAVER_QUEUE_KAFKA_BROKERS/)
      // Not remembered: once the broker is reachable the next call connects.
      await proxy.accept()
      await q.ready()
    } finally {
      await proxy.close()
    }
  })

  it('puts a message’s group in its key, so one group stays on one partition in order', async () => {
    const ns = uniqueNamespace('kafka')
    const q = open(ns, { kafka: { partitions: 4 } })
    for (let i = 0; i < 12; i++) await q.publish('ordered', i, { group: `tenant-${i % 3}` })
    const { topic } = kafkaNames('bq', `${ns}/ordered`)
    const byGroup = new Map<string, Array<{ partition: number; payload: number }>>()
    for (let p = 0; p < 4; p++) {
      for (const r of broker.records(topic, p)) {
        const key = r.key?.toString() ?? ''
        byGroup.set(key, [...(byGroup.get(key) ?? []), { partition: p, payload: Number(r.value?.toString()) }])
      }
    }
    expect([...byGroup.keys()].sort()).toEqual(['tenant-0', 'tenant-1', 'tenant-2'])
    for (const list of byGroup.values()) {
      expect(new Set(list.map((x) => x.partition)).size).toBe(1)
      expect(list.map((x) => x.payload)).toEqual([...list.map((x) => x.payload)].sort((a, b) => a - b))
    }
  })

  it('delivers records another producer wrote without the envelope, and lists foreign dead records', async () => {
    const ns = uniqueNamespace('kafka')
    const q = open(ns)
    expect((await q.counts('plain')).waiting).toBe(0) // creates the topics
    const names = kafkaNames('bq', `${ns}/plain`)
    const raw = new Kafka({ brokers: [broker.address], logLevel: logLevel.NOTHING })
    const producer = raw.producer()
    await producer.connect()
    try {
      await producer.send({ topic: names.topic, messages: [{ value: '{"a":1}' }] })
      await producer.send({ topic: names.dead, messages: [{ value: '"d"' }] })
    } finally {
      await producer.disconnect()
    }
    const seen: unknown[] = []
    const c = await q.consume('plain', (m) => void seen.push([m.payload, m.attempt]))
    await eventually(() => expect(seen).toEqual([[{ a: 1 }, 1]]), wait)
    await c.close()
    const dead = await q.dlq('plain').list()
    expect(dead).toMatchObject([{ payload: '"d"', state: 'dead' }])
    expect(await q.dlq('plain').purge()).toBe(1)
    expect(await q.dlq('plain').list()).toEqual([])
    expect(await q.queues()).toEqual(['plain'])
  })

  it('writes the dead reason and attempt as headers of the dead record', async () => {
    const ns = uniqueNamespace('kafka')
    const q = open(ns)
    const id = await q.publish('dl', 'x', { attempts: 1 })
    const c = await q.consume('dl', () => {
      throw new Error('nope')
    })
    await eventually(async () => expect((await q.counts('dl')).dead).toBe(1), wait)
    await c.close()
    const [rec] = broker
      .records(kafkaNames('bq', `${ns}/dl`).dead, 0)
      .concat(broker.records(kafkaNames('bq', `${ns}/dl`).dead, 1))
    const headers = Object.fromEntries((rec?.headers ?? []).map((h) => [h.key, h.value?.toString()]))
    expect(rec?.key?.toString()).toBe(id)
    expect(headers['x-beaver-dead-reason']).toMatch(/attempts exhausted/)
    expect(headers['x-beaver-attempt']).toBe('1')
  })
})

describe('kafka driver options', () => {
  it('builds SASL and TLS options for kafkajs only when set, and never logs through kafkajs', () => {
    const levels = { logLevel: logLevel }
    expect(kafkaConfig({}, levels)).toMatchObject({
      brokers: ['127.0.0.1:9092'],
      clientId: 'beaver-queue',
      ssl: false,
      logLevel: logLevel.NOTHING,
    })
    expect(kafkaConfig({}, levels).sasl).toBeUndefined()
    expect(
      kafkaConfig(
        { brokers: 'a:9092, b:9092', user: 'u', password: 'p', saslMechanism: 'scram-sha-512', tls: true },
        levels,
      ),
    ).toMatchObject({
      brokers: ['a:9092', 'b:9092'],
      ssl: true,
      sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' },
    })
  })

  it('reads its settings from BEAVER_QUEUE_KAFKA_* and masks the password', () => {
    const q = createQueue({
      driver: 'kafka',
      env: {
        BEAVER_QUEUE_KAFKA_BROKERS: 'k1:9092,k2:9092',
        BEAVER_QUEUE_KAFKA_USER: 'svc',
        BEAVER_QUEUE_KAFKA_PASSWORD: 'hunter2',
        BEAVER_QUEUE_KAFKA_COMPRESSION: 'gzip',
      },
    })
    const text = JSON.stringify(q.describe())
    expect(text).toContain('k1:9092')
    expect(text).not.toContain('hunter2')
    void q.close()
  })

  it('maps queue names to topics and back, and ignores other topics', () => {
    const names = ['ns/emails', 'ns/emails.welcome', 'ns_x/a', 'a-b/c-d']
    for (const n of names) {
      const t = kafkaNames('bq', n)
      expect(t.topic).toMatch(/^[A-Za-z0-9._-]+$/)
      expect(queueOfTopic('bq', t.topic)).toBe(n)
      expect(queueOfTopic('bq', t.delay)).toBeUndefined()
      expect(queueOfTopic('bq', t.dead)).toBeUndefined()
    }
    expect(queueOfTopic('bq', 'other')).toBeUndefined()
    expect(queueOfTopic('bq', 'bq.x_E9')).toBeUndefined()
  })
})
