// Reading an SQS dead-letter queue: SQS has no listing, so the driver receives the whole DLQ
// (hiding each message for a short while), then deletes what it took and gives back the rest.
import type { Message } from '@aws-sdk/client-sqs'
import type { StoredMessage } from '../driver.ts'
import { ENVELOPE_HEADER, decodeEnvelope, foreignEnvelope, toDeadMessage } from './broker-message.ts'

/** The SQS calls a DLQ scan makes, on the DLQ's URL. */
export interface DeadLetterCalls {
  /** One ReceiveMessage of up to ten, without waiting. */
  receive(): Promise<Message[]>
  remove(receipts: readonly string[]): Promise<void>
  /** Makes messages visible again at once. */
  giveBack(receipts: readonly string[]): Promise<void>
}

/**
 * Hands every DLQ message to `take`: taken ones are deleted once `onTake` stored any copy (a
 * crash in between leaves the original), the rest are made visible again. Resolves those taken.
 */
export async function scanDeadLetters(
  calls: DeadLetterCalls,
  queue: string,
  now: number,
  take: (m: StoredMessage) => boolean,
  onTake?: (m: StoredMessage) => Promise<void>,
): Promise<StoredMessage[]> {
  const seen: Array<{ m: StoredMessage; receipt: string }> = []
  for (;;) {
    const batch = await calls.receive()
    if (batch.length === 0) break
    for (const raw of batch) {
      const envelope =
        decodeEnvelope(raw.MessageAttributes?.[ENVELOPE_HEADER]?.StringValue) ??
        foreignEnvelope(raw.MessageId ?? '', queue, now)
      envelope.deadReason ??= 'moved by the SQS redrive policy (maxReceiveCount)'
      seen.push({ m: toDeadMessage(envelope, raw.Body ?? ''), receipt: raw.ReceiptHandle as string })
    }
  }
  const taken = seen.filter((s) => take(s.m))
  for (const t of taken) await onTake?.(t.m)
  await calls.remove(taken.map((t) => t.receipt))
  await calls.giveBack(seen.filter((s) => !taken.includes(s)).map((s) => s.receipt))
  return taken.map((t) => t.m)
}
