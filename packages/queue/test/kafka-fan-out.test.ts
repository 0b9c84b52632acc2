// Pub/sub fan-out on the kafka driver beyond the conformance cases: each subscribed group gets
// every message once from one record per message, a group starts at the end of the topic when
// it subscribes (its offsets set through DescribeGroups and a seek, as kafkajs setOffsets does)
// and keeps what is published while it has no consumer, counted by any process, a second process
// subscribing the same group does not move its offsets, and delayed topic messages wait.
// Against the testkit broker.
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { eventually, uniqueNamespace } from '@beaver-kit/testkit'
import { startKafkaBroker } from '@beaver-kit/testkit/kafka'
import { createQueue, type Queue } from '@beaver-kit/queue'

const broker = await startKafkaBroker()
afterAll(async () => {
  await broker.close()
})
const wait = { timeoutMs: 15_000 }

describe('kafka fan-out (testkit broker)', () => {
  const opened: Queue[] = []
  const open = (ns: string, partitions = 2): Queue => {
    const q = createQueue({
      driver: 'kafka',
      kafka: { brokers: [broker.address], partitions, prefix: 'fan' },
      namespace: ns,
      envPrefix: false,
    })
    opened.push(q)
    return q
  }
  afterEach(async () => {
    for (const q of opened.splice(0).reverse()) await q.close()
  })

  it('delivers every message once to each group, from one record per message', async () => {
    const ns = uniqueNamespace('kfan')
    const q = open(ns, 1)
    expect((await q.capabilities()).fanOut).toBe(true)
    const got = { billing: [] as unknown[], audit: [] as unknown[], mail: [] as unknown[] }
    const consumers = await Promise.all(
      (['billing', 'audit', 'mail'] as const).map((g) => q.subscribe('orders', g, (m) => void got[g].push(m.payload))),
    )
    const sent = Array.from({ length: 30 }, (_, i) => i)
    for (const i of sent) await q.publishTopic('orders', i)
    await eventually(() => expect(got.billing.length + got.audit.length + got.mail.length).toBe(90), wait)
    for (const g of ['billing', 'audit', 'mail'] as const) expect(got[g]).toEqual(sent)
    // One partition: the topic holds each message once, whatever the number of groups.
    const topic = broker.topicNames().find((t) => t.startsWith('fan.') && t.endsWith('orders.topic'))
    expect(topic).toBeDefined()
    expect(broker.records(topic ?? '', 0)).toHaveLength(sent.length)
    await Promise.all(consumers.map((c) => c.close()))
  })

  it('starts a group at the end of the topic when it subscribes, and keeps what comes while it has no consumer', async () => {
    const ns = uniqueNamespace('kfan')
    const q = open(ns, 1)
    await q.publishTopic('events', 'before')
    // Subscribed, then closed before anything was published: the group exists from here on.
    await (await q.subscribe('events', 'late', () => undefined)).close()
    await q.publishTopic('events', 'while-away-1')
    await q.publishTopic('events', 'while-away-2')
    // A process that never subscribed (a dashboard) counts the group's backlog from its offsets;
    // a group nobody subscribed has none.
    const dashboard = open(ns, 1)
    expect(await dashboard.counts('events@late')).toMatchObject({ waiting: 2, active: 0 })
    expect(await dashboard.counts('events@nobody')).toMatchObject({ waiting: 0 })
    // Another process subscribing the same group does not move its start.
    const other = open(ns, 1)
    const seen: unknown[] = []
    const c = await other.subscribe('events', 'late', (m) => void seen.push(m.payload))
    await q.publishTopic('events', 'after')
    // One partition, read in order: had "before" been delivered it would come first.
    await eventually(() => expect(seen).toEqual(['while-away-1', 'while-away-2', 'after']), wait)
    await c.close()
  })

  it('sets a new group’s start once when two processes subscribe it at the same moment', async () => {
    const ns = uniqueNamespace('kfan')
    const a = open(ns)
    const b = open(ns)
    await a.publishTopic('signup', 'before')
    const described = broker.requests.get('DescribeGroups') ?? 0
    const seen: unknown[] = []
    const consumers = await Promise.all([
      a.subscribe('signup', 'welcome', (m) => void seen.push(m.payload)),
      b.subscribe('signup', 'welcome', (m) => void seen.push(m.payload)),
    ])
    // The group was checked for other members before seeking (what kafkajs setOffsets checks);
    // the later subscribe may find the offsets already set and describe nothing.
    expect((broker.requests.get('DescribeGroups') ?? 0) - described).toBeGreaterThanOrEqual(1)
    const sent = Array.from({ length: 10 }, (_, i) => `after-${i}`)
    for (const p of sent) await b.publishTopic('signup', p)
    await eventually(() => expect(seen.length).toBe(sent.length), wait)
    expect([...seen].sort()).toEqual([...sent].sort())
    await Promise.all(consumers.map((c) => c.close()))
  })

  it('holds a delayed topic message in each group until it is due', async () => {
    const ns = uniqueNamespace('kfan')
    const q = open(ns)
    const ran = { a: [] as number[], b: [] as number[] }
    const consumers = [
      await q.subscribe('later', 'a', () => void ran.a.push(Date.now())),
      await q.subscribe('later', 'b', () => void ran.b.push(Date.now())),
    ]
    const at = Date.now()
    await q.publishTopic('later', 'x', { delay: 1500 })
    await eventually(() => expect([ran.a.length, ran.b.length]).toEqual([1, 1]), wait)
    for (const t of [...ran.a, ...ran.b]) expect(t - at).toBeGreaterThanOrEqual(1400)
    await eventually(
      async () => expect(await q.counts('later@a')).toMatchObject({ waiting: 0, delayed: 0, active: 0 }),
      wait,
    )
    await Promise.all(consumers.map((c) => c.close()))
  })
})
