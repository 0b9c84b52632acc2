import type { JetStreamManager, StoredMsg } from '@nats-io/jetstream'
import type { StoredMessage } from '../driver.ts'
import {
  ENVELOPE_HEADER,
  decodeEnvelope,
  foreignEnvelope,
  toDeadMessage,
  type BrokerEnvelope,
} from './broker-message.ts'
import type { NatsQueueNames } from './nats-names.ts'

/** A dead message and where it sits in its stream. */
export interface DeadEntry {
  seq: number
  message: StoredMessage
}

/** Most messages one DLQ scan reads (list, replay, purge by id): a bound on its cost. */
export const MAX_DEAD_SCAN = 100_000

function toEntry(raw: StoredMsg, queue: string): DeadEntry {
  const envelope =
    decodeEnvelope(raw.header?.get(ENVELOPE_HEADER)) ??
    foreignEnvelope(raw.header?.get('Nats-Msg-Id') || `${raw.seq}`, queue, raw.time.getTime())
  envelope.deadReason ??= 'dead-lettered by another program'
  envelope.deadAt ??= raw.time.getTime()
  return { seq: raw.seq, message: toDeadMessage(envelope, raw.string()) }
}

/**
 * Reads the DLQ stream by sequence, newest first (the order `dlq().list()` shows), and stops
 * once `visit` says so. Deleted sequences (replayed or purged messages) are skipped; at most
 * MAX_DEAD_SCAN sequences are visited.
 */
export async function scanDead(
  jsm: JetStreamManager,
  stream: string,
  queue: string,
  visit: (entry: DeadEntry) => 'more' | 'stop',
): Promise<void> {
  let info
  try {
    info = await jsm.streams.info(stream)
  } catch (error) {
    if (isNotFound(error)) return
    throw error
  }
  const { first_seq: first, last_seq: last, messages } = info.state
  let found = 0
  for (let seq = last; seq >= first && seq > last - MAX_DEAD_SCAN && found < messages; seq--) {
    const raw = await jsm.streams.getMessage(stream, { seq }).catch((error: unknown) => {
      if (isNotFound(error)) return null
      throw error
    })
    if (!raw) continue
    found++
    if (visit(toEntry(raw, queue)) === 'stop') return
  }
}

/** True for JetStream's "stream not found" (10059), "consumer not found" (10014) and "no message found" (10037). */
export function isNotFound(error: unknown): boolean {
  const code = (error as { name?: unknown; code?: unknown } | undefined)?.code
  const name = (error as { name?: unknown } | undefined)?.name
  return (
    (name === 'JetStreamApiError' || name === 'StreamNotFoundError' || name === 'ConsumerNotFoundError') &&
    (code === 10059 || code === 10014 || code === 10037)
  )
}

type Publish = (subject: string, body: string, envelope: BrokerEnvelope, msgId: string) => Promise<void>

/**
 * JetStream stops delivering a copy after max_deliver and only says so in an advisory, with
 * no DLQ of its own: this moves the message the advisory names to the DLQ with the reason.
 * Every consuming process listens; the DLQ copy's Nats-Msg-Id stores it once.
 */
export async function bridgeMaxDelivered(
  jsm: JetStreamManager,
  queue: string,
  n: NatsQueueNames,
  seq: number,
  maxDeliver: number,
  now: number,
  publish: Publish,
): Promise<void> {
  const raw = await jsm.streams.getMessage(n.stream, { seq }).catch(() => null)
  if (!raw) return
  const envelope = decodeEnvelope(raw.header?.get(ENVELOPE_HEADER)) ?? foreignEnvelope(`${seq}`, queue, now)
  await publish(
    n.dead,
    raw.string(),
    {
      ...envelope,
      attempts: envelope.attempts + maxDeliver,
      deadReason: `attempts exhausted: JetStream delivered it max_deliver (${maxDeliver}) times without an acknowledgement`,
      deadAt: now,
    },
    `${envelope.id}:dead:${n.stream}:${seq}`,
  )
  await jsm.streams.deleteMessage(n.stream, seq).catch(() => undefined)
}
