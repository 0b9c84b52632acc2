import { countOutcomes, sendEach } from '@beaver-kit/delivery'
import type { MailMessage } from './message.ts'
import type { SendResult } from './send-result.ts'

/** One message of a batch: sent, failed (with its error), or never started (the batch was aborted). */
export type BatchItem =
  | { readonly index: number; readonly status: 'sent'; readonly result: SendResult }
  | {
      readonly index: number
      readonly status: 'failed'
      readonly error: unknown
      readonly recipients: readonly string[]
    }
  | { readonly index: number; readonly status: 'skipped'; readonly recipients: readonly string[] }

/** What `sendBatch()` resolves to: every message's outcome, in input order. It never rejects for a message. */
export interface BatchResult {
  readonly sent: number
  readonly failed: number
  readonly skipped: number
  readonly items: readonly BatchItem[]
  /** Every recipient that a provider accepted, across the batch. */
  readonly accepted: readonly string[]
}

/** The recipients as written on a message, for reporting a message that never got parsed. */
export function writtenRecipients(message: MailMessage): string[] {
  const out: string[] = []
  for (const field of [message.to, message.cc, message.bcc]) {
    if (field === undefined) continue
    for (const a of Array.isArray(field) ? field : [field]) {
      out.push(typeof a === 'string' ? a : String((a as { address?: unknown }).address))
    }
  }
  return out
}

/**
 * Sends every message with at most `concurrency` in flight; one message's failure never stops
 * the others, and an abort stops starting new ones (they are reported `skipped`).
 */
export async function runBatch(
  messages: readonly MailMessage[],
  concurrency: number,
  signal: AbortSignal | undefined,
  send: (message: MailMessage) => Promise<SendResult>,
): Promise<BatchResult> {
  const outcomes = await sendEach(messages, { concurrency, signal }, send)
  const items = outcomes.map((o): BatchItem => {
    if (o.status === 'sent') return o
    return { ...o, recipients: writtenRecipients(messages[o.index] as MailMessage) }
  })
  const accepted = items.flatMap((item) => (item.status === 'sent' ? item.result.accepted : []))
  return Object.freeze({ ...countOutcomes(items), items, accepted })
}
