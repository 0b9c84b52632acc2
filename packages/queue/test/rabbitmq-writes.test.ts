// amqplib writes every frame (a publish, an ack) to its socket with a write call of its own; on
// loopback each is a system call that also wakes the broker. The driver gathers the frames of
// one turn of the event loop into one write, and leaves a lone frame (concurrency 1) alone so
// it waits for nothing. Counted on the connection's socket, which the link reaches the same
// way (amqplib does not type it).
import type { ChannelModel } from 'amqplib'
import { Writable } from 'node:stream'
import { afterAll, describe, expect, it } from 'vitest'
import { requireService, uniqueNamespace } from '@beaver-kit/testkit'
import { isQueueError } from '@beaver-kit/queue'
import { ENVELOPE_HEADER, decodeEnvelope, envelopeOf } from '../src/drivers/broker-message.ts'
import { AmqpLink } from '../src/drivers/rabbitmq-link.ts'
import { kitEnvelopeOf } from '../src/drivers/rabbitmq-messages.ts'
import { ConfirmedPublisher } from '../src/drivers/rabbitmq-publisher.ts'
import { newMessageId } from '../src/message-id.ts'

const url = await requireService('rabbitmq')
const ctx = {
  now: Date.now,
  settings: { keepCompletedMs: 0, keepCompletedMax: 0, keepDeadMs: 0, pollIntervalMs: 50 },
  onConnection: () => undefined,
}

/** Counts the write calls (single or gathered) that reach the socket under the link. */
function countWrites(conn: ChannelModel): { calls: () => number } {
  const socket = (conn as unknown as { connection: { stream: Writable } }).connection.stream
  expect(socket).toBeInstanceOf(Writable)
  let calls = 0
  const write = socket._write.bind(socket)
  const writev = socket._writev?.bind(socket)
  socket._write = (chunk, encoding, callback) => {
    calls++
    write(chunk, encoding, callback)
  }
  if (writev) {
    socket._writev = (chunks, callback) => {
      calls++
      writev(chunks, callback)
    }
  }
  return { calls: () => calls }
}

describe.runIf(url)('rabbitmq socket writes', () => {
  const link = new AmqpLink(url as string, ctx)
  const queue = `${uniqueNamespace('writes')}:q`
  // One per link, as in the driver: it listens for returns on the link's confirm channel.
  const publisher = new ConfirmedPublisher(link)
  afterAll(async () => {
    await (await link.admin()).deleteQueue(queue).catch(() => undefined)
    await link.close()
  })

  const message = (i: number) =>
    envelopeOf({
      id: `m${i}`,
      queue,
      payload: '{}',
      headers: {},
      priority: 0,
      runAt: 0,
      maxAttempts: 3,
      backoffBaseMs: 1000,
      backoffMaxMs: 300_000,
      timeoutMs: 0,
      group: undefined,
      dedupeKey: undefined,
      createdAt: 0,
    })

  it('sends 50 confirmed publishes of one turn in a few writes, and a lone one at once', async () => {
    const conn = await link.connection()
    await (await link.admin()).assertQueue(queue, { durable: true, arguments: { 'x-expires': 60_000 } })
    const ch = await publisher.channel()
    const writes = countWrites(conn)
    await Promise.all(Array.from({ length: 50 }, (_, i) => publisher.send(ch, queue, message(i), '{}')))
    // 50 frames, each its own write without gathering; a confirm that needed a second turn
    // may add one or two.
    expect(writes.calls()).toBeLessThanOrEqual(5)
    const before = writes.calls()
    await publisher.send(ch, queue, message(50), '{}')
    expect(writes.calls() - before).toBe(1)
    expect((await (await link.admin()).checkQueue(queue)).messageCount).toBe(51)
  })

  it('matches a message returned as unroutable to its publish by the tag in its envelope', async () => {
    const ch = await publisher.channel()
    const sends = [
      publisher.send(ch, `${queue}-missing`, message(1), '{}'),
      publisher.send(ch, queue, message(2), '{}'),
    ]
    const [missing, routed] = await Promise.allSettled(sends)
    expect(missing?.status).toBe('rejected')
    expect(isQueueError((missing as PromiseRejectedResult).reason, 'QUEUE_NOT_FOUND')).toBe(true)
    expect(routed?.status).toBe('fulfilled')
  })

  it('publishes persistent, with the job id as message_id and its creation second as timestamp beside the envelope', async () => {
    const own = `${queue}-properties`
    const admin = await link.admin()
    await admin.assertQueue(own, { durable: true, arguments: { 'x-expires': 60_000 } })
    const ch = await publisher.channel()
    // Two publishes through the one options object: each carries its own id and time.
    await publisher.send(ch, own, { ...message(7), queue: own, createdAt: 1_700_000_000_123 }, '{}')
    await publisher.send(ch, own, { ...message(8), queue: own, createdAt: 1_700_000_005_999 }, '{}')
    const seen = []
    for (let i = 0; i < 2; i++) {
      const got = await admin.get(own, { noAck: true })
      if (!got) throw new Error('a published message is missing')
      const envelope = decodeEnvelope(got.properties.headers?.[ENVELOPE_HEADER])
      seen.push({
        persistent: got.properties.deliveryMode,
        messageId: got.properties.messageId as unknown,
        timestamp: got.properties.timestamp as unknown,
        envelope: { id: envelope?.id, createdAt: envelope?.createdAt },
      })
    }
    expect(seen).toEqual([
      {
        persistent: 2,
        messageId: 'm7',
        timestamp: 1_700_000_000,
        envelope: { id: 'm7', createdAt: 1_700_000_000_123 },
      },
      {
        persistent: 2,
        messageId: 'm8',
        timestamp: 1_700_000_005,
        envelope: { id: 'm8', createdAt: 1_700_000_005_999 },
      },
    ])
    await admin.deleteQueue(own)
  })

  it('carries each publish its own envelope, though every publish shares one headers object', async () => {
    const own = `${queue}-envelopes`
    const admin = await link.admin()
    await admin.assertQueue(own, { durable: true, arguments: { 'x-expires': 60_000 } })
    const ch = await publisher.channel()
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        publisher.send(ch, own, { ...message(i), queue: own, maxAttempts: i + 1 }, `{"n":${i}}`),
      ),
    )
    const seen: Array<{ id: string | undefined; maxAttempts: number | undefined; body: string }> = []
    for (let i = 0; i < 20; i++) {
      const got = await admin.get(own, { noAck: true })
      if (!got) break
      const envelope = decodeEnvelope(got.properties.headers?.[ENVELOPE_HEADER])
      seen.push({ id: envelope?.id, maxAttempts: envelope?.maxAttempts, body: got.content.toString() })
    }
    expect(seen).toEqual(
      Array.from({ length: 20 }, (_, i) => ({ id: `m${i}`, maxAttempts: i + 1, body: `{"n":${i}}` })),
    )
    await admin.deleteQueue(own)
  })

  /** A fresh message with every default and a kit-made id: what a plain publish() sends. */
  const bare = (createdAt: number, to = queue) => ({
    ...message(0),
    id: newMessageId(createdAt),
    queue: to,
    runAt: createdAt,
    createdAt,
  })

  it('sends a fresh message with every default without the envelope, and reads the envelope back from the rest', async () => {
    const own = `${queue}-bare`
    const admin = await link.admin()
    await admin.assertQueue(own, { durable: true, arguments: { 'x-expires': 60_000 } })
    const ch = await publisher.channel()
    const plain = bare(1_700_000_000_123, own)
    const fiveAttempts = { ...bare(1_700_000_005_999, own), maxAttempts: 5 }
    await publisher.send(ch, own, plain, '{"n":1}')
    await publisher.send(ch, own, fiveAttempts, '{"n":2}')
    const seen = []
    for (let i = 0; i < 2; i++) {
      const got = await admin.get(own, { noAck: true })
      if (!got) throw new Error('a published message is missing')
      seen.push({
        hasEnvelope: got.properties.headers?.[ENVELOPE_HEADER] !== undefined,
        persistent: got.properties.deliveryMode,
        messageId: got.properties.messageId as unknown,
        timestamp: got.properties.timestamp as unknown,
        envelope: kitEnvelopeOf(got.properties, own),
      })
    }
    expect(seen).toEqual([
      { hasEnvelope: false, persistent: 2, messageId: plain.id, timestamp: 1_700_000_000, envelope: plain },
      {
        hasEnvelope: true,
        persistent: 2,
        messageId: fiveAttempts.id,
        timestamp: 1_700_000_005,
        envelope: fiveAttempts,
      },
    ])
    await admin.deleteQueue(own)
  })

  it('takes a message with a UUIDv7 message_id but another timestamp for a foreign one', () => {
    const id = newMessageId(1_700_000_000_123)
    expect(kitEnvelopeOf({ messageId: id, timestamp: 1_700_000_000, headers: {} } as never, queue)?.id).toBe(id)
    expect(kitEnvelopeOf({ messageId: id, timestamp: 1_700_000_001, headers: {} } as never, queue)).toBeUndefined()
    expect(kitEnvelopeOf({ messageId: id, headers: {} } as never, queue)).toBeUndefined()
  })

  it('matches a bare message returned as unroutable to its publish by its message_id, an id sent twice at once too', async () => {
    const ch = await publisher.channel()
    let t = Date.now()
    for (const sameId of [false, true]) {
      for (const routedFirst of [false, true]) {
        // An id sent twice at once: the second carries the envelope, and is matched by its tag.
        const lostOne = bare(++t)
        const storedOne = sameId ? lostOne : bare(++t)
        const missing = () => publisher.send(ch, `${queue}-missing`, lostOne, '{}')
        const routed = () => publisher.send(ch, queue, storedOne, '{}')
        const sends = routedFirst ? [routed(), missing()].reverse() : [missing(), routed()]
        const [lost, stored] = await Promise.allSettled(sends)
        const how = JSON.stringify({ sameId, routedFirst })
        expect(lost?.status, how).toBe('rejected')
        expect(isQueueError((lost as PromiseRejectedResult).reason, 'QUEUE_NOT_FOUND'), how).toBe(true)
        expect(stored?.status, how).toBe('fulfilled')
      }
    }
  })
})
