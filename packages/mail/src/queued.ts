import { importPeer } from '@beaver-kit/core'
import type { QueueLike } from '@beaver-kit/delivery'
import { formatAddress } from './address.ts'
import { MailError } from './errors.ts'
import type { MailMessage, OutgoingMail } from './message.ts'

/**
 * A checked message as a queue job carries it: plain JSON, attachments as base64, the
 * template already rendered, so the worker sends exactly what `sendLater()` checked.
 */
export function toJob(mail: OutgoingMail): MailMessage & { idempotencyKey?: string | undefined } {
  return {
    from: formatAddress(mail.from),
    to: mail.to.map(formatAddress),
    cc: mail.cc.map(formatAddress),
    bcc: mail.bcc.map(formatAddress),
    replyTo: mail.replyTo.map(formatAddress),
    subject: mail.subject,
    ...(mail.text !== undefined ? { text: mail.text } : {}),
    ...(mail.html !== undefined ? { html: mail.html } : {}),
    attachments: mail.attachments.map((a) => ({
      filename: a.filename,
      content: a.content.toString('base64'),
      encoding: 'base64' as const,
      contentType: a.contentType,
      ...(a.cid !== undefined ? { cid: a.cid } : {}),
    })),
    headers: { ...mail.headers },
    tags: [...mail.tags],
    metadata: { ...mail.metadata },
    ...(mail.idempotencyKey !== undefined ? { idempotencyKey: mail.idempotencyKey } : {}),
  }
}

/** The default queue of `@beaver-kit/queue` (an optional peer), when the caller passed none. */
export async function defaultQueue(neededBy: string): Promise<QueueLike> {
  // A variable specifier: the queue package is optional, and its types are never required.
  const specifier = '@beaver-kit/queue'
  const mod = await importPeer(specifier, () => import(specifier) as Promise<{ queue?: () => QueueLike }>, neededBy)
  if (typeof mod.queue !== 'function') {
    throw new MailError('MAIL_QUEUE', `${specifier} has no queue() accessor; pass { queue } explicitly.`)
  }
  return mod.queue()
}
