// SQS FIFO queues (`sqs: { fifo: true }`) against fauxqs (see drivers/sqs.test.ts): `group` is
// the MessageGroupId and the message id the MessageDeduplicationId; the messages of one group
// run one at a time in publish order across consumers while groups run side by side; a retry
// keeps its place in its group; delays are refused. SQS calls: CreateQueue (FifoQueue),
// GetQueueAttributes, SendMessageBatch (MessageGroupId, MessageDeduplicationId), ReceiveMessage
// (one message per call), ChangeMessageVisibilityBatch, DeleteMessageBatch.
import * as sqs from '@aws-sdk/client-sqs'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { eventually, uniqueNamespace } from '@beaver-kit/testkit'
import { createQueue, isQueueError, type Queue } from '@beaver-kit/queue'
import { startFauxqs } from 'fauxqs'
import { sqsId } from '../src/drivers/sqs-fifo.ts'
import { freePort } from './support/servers.ts'

const server = await startFauxqs({ port: await freePort(), logger: false })
const endpoint = `http://127.0.0.1:${server.port}`
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' }
const raw = new sqs.SQSClient({ endpoint, region: 'us-east-1', credentials })
afterAll(async () => {
  raw.destroy()
  await server.stop()
})

const wait = { timeoutMs: 15_000 }
const urlOf = async (name: string): Promise<string> =>
  (await raw.send(new sqs.GetQueueUrlCommand({ QueueName: name }))).QueueUrl as string
/** Lets other handlers run in between, for a varying number of event-loop turns. */
const turns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r))
}

describe('sqs fifo (fauxqs)', () => {
  const opened: Queue[] = []
  const open = (ns: string): Queue => {
    const q = createQueue({
      driver: 'sqs',
      sqs: { endpoint, fifo: true },
      driverOptions: { credentials },
      namespace: ns,
      envPrefix: false,
      backoff: { base: 0, max: 0 },
    })
    opened.push(q)
    return q
  }
  afterEach(async () => {
    for (const q of opened.splice(0)) await q.close()
  })

  it('creates FIFO queues and sends group and message id as MessageGroupId and MessageDeduplicationId', async () => {
    const ns = uniqueNamespace('sqsfifo')
    const q = open(ns)
    const id = await q.publish('orders', { n: 1 }, { group: 'customer 7' })
    const main = await urlOf(`bq_${ns}--orders.fifo`)
    const dead = await urlOf(`bq_${ns}--orders-dead.fifo`)
    for (const url of [main, dead]) {
      const attrs = await raw.send(new sqs.GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['FifoQueue'] }))
      expect(attrs.Attributes?.FifoQueue).toBe('true')
    }
    const got = await raw.send(
      new sqs.ReceiveMessageCommand({
        QueueUrl: main,
        MessageSystemAttributeNames: ['MessageGroupId', 'MessageDeduplicationId'],
      }),
    )
    expect(got.Messages?.[0]?.Attributes).toMatchObject({
      MessageGroupId: sqsId('customer 7'),
      MessageDeduplicationId: id,
    })
    // A group outside SQS's alphabet is hashed, never passed through or truncated.
    expect(sqsId('customer 7')).toMatch(/^#[\w-]{43}$/)
    expect(sqsId('customer-7')).toBe('customer-7')
    expect(sqsId('#customer-7')).not.toBe('#customer-7')
  })

  it('runs each group in publish order, one at a time, while groups run side by side', async () => {
    const q = open(uniqueNamespace('sqsfifo'))
    const groups = ['a', 'b', 'c', 'd']
    const perGroup = 8
    // Interleaved across groups, in batches and singly.
    const items = Array.from({ length: perGroup }, (_, i) =>
      groups.map((g) => ({ payload: `${g}${i}`, group: g })),
    ).flat()
    await q.publishBatch('orders', items.slice(0, 16))
    for (const item of items.slice(16)) await q.publish('orders', item.payload, { group: item.group })
    const seen = new Map<string, string[]>()
    const running = new Set<string>()
    let overlapInGroup = 0
    let mostGroupsAtOnce = 0
    const handler = async (m: { payload: unknown; group: string | undefined }): Promise<void> => {
      const g = m.group as string
      if (running.has(g)) overlapInGroup++
      running.add(g)
      mostGroupsAtOnce = Math.max(mostGroupsAtOnce, running.size)
      // Later messages of a group finish sooner: only SQS's group lock keeps them in order.
      await turns(20 - Number(String(m.payload).slice(1)) * 2)
      seen.set(g, [...(seen.get(g) ?? []), String(m.payload)])
      running.delete(g)
    }
    // Two consumers, as two processes would be: the order holds across them.
    await q.consume('orders', handler, { concurrency: 4 })
    await q.consume('orders', handler, { concurrency: 4 })
    await eventually(() => expect([...seen.values()].flat().length).toBe(items.length), wait)
    for (const g of groups) expect(seen.get(g)).toEqual(Array.from({ length: perGroup }, (_, i) => `${g}${i}`))
    expect(overlapInGroup).toBe(0)
    expect(mostGroupsAtOnce).toBeGreaterThan(1)
  })

  it('retries a failed message before the next one of its group runs', async () => {
    const q = open(uniqueNamespace('sqsfifo'))
    await q.publishBatch('orders', [
      { payload: 'x0', group: 'x' },
      { payload: 'x1', group: 'x' },
      { payload: 'x2', group: 'x' },
    ])
    const runs: string[] = []
    await q.consume(
      'orders',
      (m) => {
        runs.push(`${String(m.payload)}#${m.attempt}`)
        if (m.payload === 'x0' && m.attempt < 3) throw new Error('not yet')
      },
      { concurrency: 3 },
    )
    await eventually(() => expect(runs).toEqual(['x0#1', 'x0#2', 'x0#3', 'x1#1', 'x2#1']), wait)
  })

  it('dead-letters after its attempts, letting the group go on, and lists and replays every dead one', async () => {
    const q = open(uniqueNamespace('sqsfifo'))
    const [bad, worse] = await q.publishBatch('orders', [
      { payload: 'bad', group: 'y', attempts: 2 },
      { payload: 'worse', group: 'y', attempts: 1 },
      { payload: 'good', group: 'y' },
    ])
    const runs: string[] = []
    // One consumer throughout: a closed consumer's cut-short long poll may still take a message
    // on the server, hidden until its visibility timeout.
    await q.consume('orders', (m) => {
      runs.push(String(m.payload))
      if (m.payload !== 'good') throw new Error('broken')
    })
    await eventually(() => expect(runs).toEqual(['bad', 'bad', 'worse', 'good']), wait)
    // Two dead messages of one group: both listed (SQS hands out one message per group at a time).
    const deadIds = [bad, worse].sort()
    const listed = async (): Promise<string[]> => (await q.dlq('orders').list()).map((m) => m.id).sort()
    await eventually(async () => expect(await listed()).toEqual(deadIds), wait)
    // Twice within SQS's 5-minute deduplication window: each replay is a fresh copy, not dropped.
    for (let i = 1; i <= 2; i++) {
      expect(await q.dlq('orders').replayAll()).toBe(2)
      await eventually(async () => {
        expect(runs.filter((r) => r === 'bad')).toHaveLength(2 + 2 * i)
        expect(runs.filter((r) => r === 'worse')).toHaveLength(1 + i)
        expect(await listed()).toEqual(deadIds)
      }, wait)
    }
  })

  it('stores a message published again with the same id once (SQS deduplication on the id)', async () => {
    const q = open(uniqueNamespace('sqsfifo'))
    expect(await q.publish('orders', 'first', { id: 'order-1' })).toBe('order-1')
    expect(await q.publish('orders', 'second', { id: 'order-1' })).toBe('order-1')
    const seen: unknown[] = []
    await q.consume('orders', (m) => void seen.push([m.id, m.payload]))
    await eventually(() => expect(seen).toEqual([['order-1', 'first']]), wait)
    await eventually(async () => expect(await q.counts('orders')).toMatchObject({ waiting: 0, active: 0 }), wait)
    expect(seen).toHaveLength(1)
  })

  it('refuses a delay, which SQS does not take per message on a FIFO queue', async () => {
    const q = open(uniqueNamespace('sqsfifo'))
    expect((await q.capabilities()).delay).toBe(false)
    const error = await q.publish('orders', 1, { delay: '5s' }).catch((e: unknown) => e)
    expect(isQueueError(error, 'QUEUE_UNSUPPORTED')).toBe(true)
  })
})
