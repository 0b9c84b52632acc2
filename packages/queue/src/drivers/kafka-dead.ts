import { randomUUID } from 'node:crypto'
import type { StoredMessage } from '../driver.ts'
import { QueueError } from '../errors.ts'
import {
  ENVELOPE_HEADER,
  decodeEnvelope,
  encodeEnvelope,
  foreignEnvelope,
  toDeadMessage,
  type BrokerEnvelope,
} from './broker-message.ts'
import { kafkaError, type KafkaLink, type OutRecord } from './kafka-link.ts'

/** Headers a dead record carries for other tools (the envelope has them too). */
export const DEAD_REASON_HEADER = 'x-beaver-dead-reason'
export const ATTEMPT_HEADER = 'x-beaver-attempt'

/** The longest a DLQ read waits for the records up to the high watermark. */
const SCAN_LIMIT_MS = 30_000

/** A dead message as produced to the dead topic: keyed by id, reason and attempt also as plain headers. */
export function deadRecord(envelope: BrokerEnvelope, payload: string): OutRecord {
  return {
    key: envelope.id,
    value: payload,
    headers: {
      [ENVELOPE_HEADER]: encodeEnvelope(envelope),
      [DEAD_REASON_HEADER]: envelope.deadReason ?? '',
      [ATTEMPT_HEADER]: String(envelope.attempts),
    },
  }
}

/**
 * A tombstone: the message with this id was purged or replayed (a compacted dead topic drops
 * both). It goes to the partition the message is on, so it is read after it: a record another
 * producer wrote without a key is on any partition.
 */
export function tombstone(id: string, partition: number): OutRecord {
  return { key: id, value: null, headers: {}, partition }
}

/** The DLQ as read: dead messages, newest first, and the partition each is on. */
export interface DeadListing {
  messages: StoredMessage[]
  partitions: Map<string, number>
}

/**
 * Reads a dead topic from its start to its high watermark with a consumer of a group of its
 * own (never committed), and folds tombstones in: what is left is the queue's DLQ. Kafka keeps
 * no index by id, so every listing, lookup, replay or purge reads the whole topic.
 */
export async function readDead(link: KafkaLink, topic: string, queue: string, now: number): Promise<DeadListing> {
  const admin = await link.admin()
  const ends = await admin.fetchTopicOffsets(topic).catch((error: unknown) => {
    throw kafkaError(error, `read the offsets of topic "${topic}"`)
  })
  const remaining = new Map(
    ends.filter((p) => Number(p.high) > Number(p.low)).map((p) => [p.partition, Number(p.high)]),
  )
  const partitions = new Map<string, number>()
  const found = new Map<string, StoredMessage>()
  if (remaining.size === 0) return { messages: [], partitions }
  const consumer = await link.consumer(`${link.prefix}.scan.${randomUUID()}`, 100)
  try {
    await consumer.connect()
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new QueueError(
              'QUEUE_DRIVER_UNAVAILABLE',
              `Kafka did not return the dead topic "${topic}" within ${SCAN_LIMIT_MS} ms.`,
            ),
          ),
        SCAN_LIMIT_MS,
      )
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const id = message.key?.toString('utf8') ?? `${topic}-${partition}-${message.offset}`
            if (message.value === null) found.delete(id)
            else {
              const header = message.headers?.[ENVELOPE_HEADER]
              const envelope =
                decodeEnvelope(Buffer.isBuffer(header) ? header.toString('utf8') : header) ??
                foreignEnvelope(id, queue, now)
              found.set(id, toDeadMessage(envelope, message.value.toString('utf8')))
              partitions.set(id, partition)
            }
            const high = remaining.get(partition)
            if (high !== undefined && Number(message.offset) + 1 >= high) remaining.delete(partition)
            if (remaining.size === 0) {
              clearTimeout(timer)
              resolve()
            }
          },
        })
        .catch((error: unknown) => {
          clearTimeout(timer)
          reject(kafkaError(error, `read the dead topic "${topic}"`))
        })
    })
  } finally {
    await consumer.disconnect().catch(() => undefined)
  }
  return { messages: [...found.values()].sort((a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0)), partitions }
}
