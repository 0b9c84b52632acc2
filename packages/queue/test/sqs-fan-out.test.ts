// Pub/sub fan-out on the sqs driver through SNS, beyond the conformance cases: each group gets
// every message once through its own queue subscribed with raw delivery, the queue policy lets
// only the topic send (AWS enforces it; fauxqs does not, so it is read back here), delayed topic
// messages wait per group, FIFO topics keep a group's order in every subscriber group, and
// @aws-sdk/client-sns is loaded only for fan-out. Against fauxqs 1.9 (SQS and SNS on one port).
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs'
import { ListSubscriptionsByTopicCommand, ListTopicsCommand, SNSClient } from '@aws-sdk/client-sns'
import { eventually, startFaultProxy, uniqueNamespace } from '@beaver-kit/testkit'
import { createQueue, isQueueError, type Queue } from '@beaver-kit/queue'
import { sqsDriver } from '@beaver-kit/queue/sqs'
import { awsName } from '../src/drivers/sqs-topology.ts'
import { startFauxqs } from 'fauxqs'
import { freePort } from './support/servers.ts'

const server = await startFauxqs({ port: await freePort(), logger: false })
afterAll(async () => {
  await server.stop()
})
const endpoint = `http://127.0.0.1:${server.port}`
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' }
const wait = { timeoutMs: 15_000 }

describe('sqs fan-out through SNS (fauxqs)', () => {
  const opened: Queue[] = []
  const open = (ns: string, fifo = false): Queue => {
    const q = createQueue({
      driver: 'sqs',
      sqs: { endpoint, fifo },
      driverOptions: { credentials },
      namespace: ns,
      envPrefix: false,
    })
    opened.push(q)
    return q
  }
  afterEach(async () => {
    for (const q of opened.splice(0).reverse()) await q.close()
  })

  it('delivers every message once to each group, through one SNS topic with a raw-delivery subscription per group', async () => {
    const ns = uniqueNamespace('sfan')
    const q = open(ns)
    expect((await q.capabilities()).fanOut).toBe(true)
    const got = { billing: [] as unknown[], audit: [] as unknown[] }
    const consumers = [
      await q.subscribe('orders', 'billing', (m) => void got.billing.push(m.payload)),
      await q.subscribe('orders', 'audit', (m) => void got.audit.push(m.payload)),
      // Subscribing again is idempotent: still one subscription for the group.
      await q.subscribe('orders', 'audit', (m) => void got.audit.push(m.payload)),
    ]
    const sent = Array.from({ length: 25 }, (_, i) => ({ n: i, text: `order ${i}` }))
    for (const p of sent) await q.publishTopic('orders', p)
    await eventually(() => expect(got.billing.length + got.audit.length).toBe(2 * sent.length), wait)
    const byN = (a: unknown, b: unknown) => (a as { n: number }).n - (b as { n: number }).n
    expect([...got.billing].sort(byN)).toEqual(sent)
    expect([...got.audit].sort(byN)).toEqual(sent)

    const sns = new SNSClient({ endpoint, region: 'us-east-1', credentials })
    const sqs = new SQSClient({ endpoint, region: 'us-east-1', credentials })
    try {
      const topics = (await sns.send(new ListTopicsCommand({}))).Topics ?? []
      const topicArn = topics.map((t) => t.TopicArn ?? '').find((a) => a.endsWith(`:bq_${ns}--orders`))
      expect(topicArn).toBeDefined()
      const subs = (await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn }))).Subscriptions ?? []
      expect(subs.map((s) => s.Protocol)).toEqual(['sqs', 'sqs'])
      const queueNames = subs.map((s) => s.Endpoint?.split(':').at(-1) ?? '')
      expect(queueNames.sort()).toEqual([awsName('bq', `${ns}/orders@audit`), awsName('bq', `${ns}/orders@billing`)])
      // Only this topic may send to the group's queue (AWS needs the policy; fauxqs ignores it).
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: queueNames[1] }))
      const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['Policy'] }))
      const policy = JSON.parse(attrs.Attributes?.Policy ?? '{}') as {
        Statement: Array<{ Principal: unknown; Action: string; Condition: unknown }>
      }
      expect(policy.Statement).toEqual([
        expect.objectContaining({
          Principal: { Service: 'sns.amazonaws.com' },
          Action: 'sqs:SendMessage',
          Condition: { ArnEquals: { 'aws:SourceArn': topicArn } },
        }),
      ])
    } finally {
      sns.destroy()
      sqs.destroy()
    }
    await Promise.all(consumers.map((c) => c.close()))
  })

  it('holds a delayed topic message in each group until it is due', async () => {
    const q = open(uniqueNamespace('sfan'))
    const ran = { a: [] as number[], b: [] as number[] }
    const consumers = [
      await q.subscribe('later', 'a', () => void ran.a.push(Date.now())),
      await q.subscribe('later', 'b', () => void ran.b.push(Date.now())),
    ]
    const at = Date.now()
    await q.publishTopic('later', 'x', { delay: 1500 })
    await eventually(() => expect([ran.a.length, ran.b.length]).toEqual([1, 1]), wait)
    for (const t of [...ran.a, ...ran.b]) expect(t - at).toBeGreaterThanOrEqual(1400)
    await Promise.all(consumers.map((c) => c.close()))
  })

  it('keeps the order of a message group in every subscriber group on FIFO topics', async () => {
    const q = open(uniqueNamespace('sfan'), true)
    const got = { a: [] as string[], b: [] as string[] }
    const consumers = [
      await q.subscribe('steps', 'a', (m) => void got.a.push(String(m.payload)), { concurrency: 4 }),
      await q.subscribe('steps', 'b', (m) => void got.b.push(String(m.payload)), { concurrency: 4 }),
    ]
    const sent = Array.from({ length: 12 }, (_, i) => `s${i}`)
    for (const s of sent) await q.publishTopic('steps', s, { group: 'user-1' })
    await eventually(() => expect([got.a.length, got.b.length]).toEqual([sent.length, sent.length]), wait)
    expect(got.a).toEqual(sent)
    expect(got.b).toEqual(sent)
    await Promise.all(consumers.map((c) => c.close()))
  })

  it('names the endpoint setting when SNS cannot be reached, and creates the topic once it can', async () => {
    const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: server.port } })
    try {
      await proxy.refuse()
      const ns = uniqueNamespace('sfan')
      const q = createQueue({
        driver: 'sqs',
        sqs: { endpoint: `http://${proxy.address}` },
        driverOptions: { credentials },
        namespace: ns,
        envPrefix: false,
      })
      opened.push(q)
      const notPublished = await q.publishTopic('orders', 1).catch((e: unknown) => e)
      expect(isQueueError(notPublished, 'QUEUE_DRIVER_UNAVAILABLE')).toBe(true)
      expect((notPublished as Error).message).toMatch(/could not create SNS topic.*BEAVER_QUEUE_SQS_ENDPOINT/)
      // A failed creation is not remembered: once SNS answers, subscribe and publish work.
      await proxy.accept()
      const got = Promise.withResolvers<unknown>()
      const c = await q.subscribe('orders', 'billing', (m) => got.resolve(m.payload))
      await q.publishTopic('orders', 2)
      expect(await got.promise).toBe(2)
      await c.close()
    } finally {
      await proxy.close()
    }
  })

  it('refuses a consumer option SQS cannot honour before subscribing, so no group is left behind', async () => {
    const ns = uniqueNamespace('sfan')
    const q = open(ns)
    const refused = await q
      .subscribe('orders', 'billing', () => undefined, { groupConcurrency: 1 })
      .then(
        () => undefined,
        (e: unknown) => e,
      )
    expect(isQueueError(refused, 'QUEUE_UNSUPPORTED')).toBe(true)
    const sns = new SNSClient({ endpoint, region: 'us-east-1', credentials })
    try {
      const topics = (await sns.send(new ListTopicsCommand({}))).Topics ?? []
      expect(topics.filter((t) => t.TopicArn?.includes(ns))).toEqual([])
    } finally {
      sns.destroy()
    }
  })

  it('loads @aws-sdk/client-sns only for fan-out, and names it when it is missing', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/hidden-sns.ts', import.meta.url))
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--conditions=@beaver-kit/source', fixture, endpoint])
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString()))
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
      child.on('error', reject)
      child.on('exit', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`exit ${code}: ${stderr}`))))
    })
    const outcome = JSON.parse(out) as { plain: unknown; fanOut?: { code: string; message: string; package: string } }
    expect(outcome.plain).toBe('no SNS needed')
    expect(outcome.fanOut).toMatchObject({ code: 'CORE_PEER_MISSING', package: '@aws-sdk/client-sns' })
    expect(outcome.fanOut?.message).toContain('npm install @aws-sdk/client-sns')
  })

  it('names queues and topics in the alphabet AWS accepts, one AWS name per kit name', () => {
    expect(awsName('bq', 'ns/emails')).toBe('bq_ns--emails')
    const names = ['ns/orders@billing', 'ns/orders_billing', 'ns/emails.welcome', 'ns/emails_welcome'].map((n) =>
      awsName('bq', n),
    )
    for (const n of names) expect(n).toMatch(/^[A-Za-z0-9_-]{1,70}$/)
    expect(new Set(names).size).toBe(names.length)
    expect(names[1]).toBe('bq_ns--orders_billing')
  })

  it('names both peers, each declared optional in package.json', async () => {
    const manifest = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as {
      peerDependencies: Record<string, string>
      peerDependenciesMeta: Record<string, { optional?: boolean }>
    }
    expect(sqsDriver.peers).toEqual(['@aws-sdk/client-sqs', '@aws-sdk/client-sns'])
    for (const peer of sqsDriver.peers ?? []) {
      expect(manifest.peerDependencies[peer]).toBeDefined()
      expect(manifest.peerDependenciesMeta[peer]?.optional).toBe(true)
    }
  })
})
