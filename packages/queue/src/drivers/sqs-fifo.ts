// What an SQS FIFO queue needs from the sqs driver: names ending in `.fifo`, a group id and a
// deduplication id on every send, and no per-message delay (SQS refuses DelaySeconds there).
import { createHash, randomUUID } from 'node:crypto'
import type { BrokerEnvelope } from './broker-message.ts'

/** SQS's alphabet for MessageGroupId and MessageDeduplicationId: letters, digits, punctuation. */
const SQS_ID = /^[\x21-\x7e]{1,128}$/

/**
 * A group or id as SQS accepts it (1–128 printable ASCII characters): kept as is when it
 * fits and does not start with `#`, otherwise `#` + SHA-256 (base64url), so no two values
 * share one SQS id.
 */
export function sqsId(value: string): string {
  if (SQS_ID.test(value) && !value.startsWith('#')) return value
  return `#${createHash('sha256').update(value).digest('base64url')}`
}

/**
 * What a send to a FIFO queue is: `fresh` (a publish), `copy` (a replayed or retried copy going
 * back to its group), `dead` (a copy into the DLQ).
 */
export type FifoSend = 'fresh' | 'copy' | 'dead'

/**
 * The FIFO fields of one send. A publish is deduplicated on its id (a retried send, or a
 * publish again with the same `id` within SQS's 5-minute window, is stored once); copies the
 * kit makes itself get a fresh deduplication id, since they may repeat an id within the window.
 * A message without `group` is its own group: ordered with nothing, run beside everything. In
 * the DLQ each message is its own group, so a DLQ scan sees all of them (SQS hands out one
 * message of a group at a time).
 */
export function fifoFields(
  envelope: BrokerEnvelope,
  kind: FifoSend,
): { MessageGroupId: string; MessageDeduplicationId: string } {
  return {
    MessageGroupId: sqsId(kind === 'dead' ? envelope.id : (envelope.group ?? envelope.id)),
    MessageDeduplicationId: kind === 'fresh' ? sqsId(envelope.id) : randomUUID(),
  }
}

/** SQS attributes of a FIFO queue (and of its DLQ, which SQS requires to be FIFO too). */
export const FIFO_ATTRIBUTES = { FifoQueue: 'true' } as const

/** SQS limits a queue name to 80 characters, `.fifo` included. */
export const FIFO_SUFFIX = '.fifo'
