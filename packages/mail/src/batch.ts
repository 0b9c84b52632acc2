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
  const items: BatchItem[] = new Array<BatchItem>(messages.length)
  let next = 0
  const worker = async (): Promise<void> => {
    for (;;) {
      const index = next++
      if (index >= messages.length) return
      const message = messages[index] as MailMessage
      if (signal?.aborted) {
        items[index] = { index, status: 'skipped', recipients: writtenRecipients(message) }
        continue
      }
      try {
        items[index] = { index, status: 'sent', result: await send(message) }
      } catch (error) {
        items[index] = { index, status: 'failed', error, recipients: writtenRecipients(message) }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, messages.length) }, worker))
  let sent = 0
  let failed = 0
  const accepted: string[] = []
  for (const item of items) {
    if (item.status === 'sent') {
      sent++
      accepted.push(...item.result.accepted)
    } else if (item.status === 'failed') failed++
  }
  return Object.freeze({ sent, failed, skipped: items.length - sent - failed, items, accepted })
}
