import type { ConfirmChannel, GetMessage, Message, MessageProperties } from 'amqplib'
import type { StoredMessage } from '../driver.ts'
import { QueueError } from '../errors.ts'
import {
  ENVELOPE_HEADER,
  bareEnvelope,
  decodeEnvelope,
  foreignEnvelope,
  toDeadMessage,
  type BrokerEnvelope,
} from './broker-message.ts'

/**
 * The kit's envelope of a message read from `queue`: its envelope header, or for a message
 * published without one (a fresh message with every default, see isBareEnvelope) its
 * message_id, a UUIDv7 showing the creation time in the second its timestamp says; undefined
 * for a message another program sent.
 */
export function kitEnvelopeOf(properties: MessageProperties, queue: string): BrokerEnvelope | undefined {
  const header: unknown = properties.headers?.[ENVELOPE_HEADER]
  if (header !== undefined) return decodeEnvelope(header)
  const id: unknown = properties.messageId
  if (typeof id !== 'string') return undefined
  const bare = bareEnvelope(id, queue)
  return bare && Math.floor(bare.createdAt / 1000) === properties.timestamp ? bare : undefined
}

/** Deliveries before this one that the broker counted (quorum: x-delivery-count; classic: the redelivered flag). */
export function redeliveries(msg: Message): number {
  const count = Number(msg.properties.headers?.['x-delivery-count'])
  if (Number.isFinite(count) && count > 0) return count
  return 'redelivered' in msg.fields && msg.fields.redelivered ? 1 : 0
}

/** The error of a publish the broker returned as unroutable (its queue is gone). */
export function isNotFound(error: unknown): boolean {
  return error instanceof QueueError && error.code === 'QUEUE_NOT_FOUND'
}

export function declareError(error: unknown, name: string): QueueError {
  const text = error instanceof Error ? error.message : String(error)
  const mismatch = /PRECONDITION_FAILED|inequivalent/i.test(text)
  return new QueueError(
    'QUEUE_DRIVER_UNAVAILABLE',
    mismatch
      ? `RabbitMQ queue "${name}" exists with other arguments (${text}); BEAVER_QUEUE_RABBITMQ_QUEUE_TYPE must match how it was declared, or delete the queue.`
      : `Cannot declare RabbitMQ queue "${name}": ${text}`,
    { cause: error, details: { queue: name } },
  )
}

function deadMessage(raw: GetMessage, queue: string, now: number): StoredMessage {
  const envelope =
    kitEnvelopeOf(raw.properties, queue) ?? foreignEnvelope(String(raw.properties.messageId ?? ''), queue, now)
  if (envelope.deadReason === undefined) {
    // Dead-lettered by the broker itself: its x-death header says why.
    const death = (raw.properties.headers?.['x-death'] as Array<{ reason?: string }> | undefined)?.[0]
    envelope.deadReason = `dead-lettered by RabbitMQ: ${death?.reason ?? 'unknown reason'}`
  }
  return toDeadMessage(envelope, raw.content.toString())
}

// How long a DLQ read waits for the broker to make what it gave back visible again.
const SETTLE_MS = 5000

/**
 * Reads a DLQ without removing anything it does not take: messages are fetched
 * unacknowledged on the channel given (which this closes); taken ones are acknowledged after
 * `onTake` (a confirmed copy elsewhere) is done, the rest go back when the channel closes.
 * A quorum queue applies that return a moment after the close (a Raft command), so a read
 * right after would see fewer messages: the scan resolves only once the queue holds again at
 * least what it held minus what was taken (bounded; other processes may take some meanwhile).
 */
export async function scanDead(
  ch: ConfirmChannel,
  deadQueue: string,
  queue: string,
  now: number,
  visit: (m: StoredMessage) => 'take' | 'keep' | 'stop',
  onTake?: (ch: ConfirmChannel, m: StoredMessage) => Promise<void>,
  check?: () => Promise<number>,
): Promise<number> {
  const { expected, fetched, taken } = await (async () => {
    let fetched = 0
    try {
      const { messageCount } = await ch.checkQueue(deadQueue)
      const take: Array<{ raw: GetMessage; m: StoredMessage }> = []
      for (let i = 0; i < messageCount; i++) {
        const raw = await ch.get(deadQueue, { noAck: false })
        if (!raw) break
        fetched++
        const m = deadMessage(raw, queue, now)
        const verdict = visit(m)
        if (verdict === 'take') take.push({ raw, m })
        if (verdict === 'stop') break
      }
      if (onTake) for (const t of take) await onTake(ch, t.m)
      for (const t of take) ch.ack(t.raw)
      await ch.waitForConfirms()
      return { expected: messageCount, fetched, taken: take.length }
    } finally {
      await ch.close().catch(() => undefined)
    }
  })()
  if (check && fetched > taken) await settled(check, expected - taken)
  return taken
}

/** Waits until `count()` reaches `atLeast`, looking again after 5, 10, 20 ... ms, for at most SETTLE_MS. */
async function settled(count: () => Promise<number>, atLeast: number): Promise<void> {
  const until = Date.now() + SETTLE_MS
  for (let pause = 5; (await count()) < atLeast && Date.now() < until; pause = Math.min(100, pause * 2)) {
    await new Promise((resolve) => setTimeout(resolve, pause))
  }
}
