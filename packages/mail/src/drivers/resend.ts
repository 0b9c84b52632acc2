import { formatAddress } from '../address.ts'
import type { OutgoingMail } from '../message.ts'
import { defineMailDriver } from '../transport.ts'
import { apiTransport, jsonErrorText, providerApi, requireSetting, type HttpProviderExtras } from './http-provider.ts'

/** Resend settings: BEAVER_MAIL_RESEND_* or `createMailer({ resend: {...} })`. */
export interface ResendTransportOptions extends HttpProviderExtras {
  apiKey?: string | undefined
  baseUrl?: string | undefined
}

/** The POST /emails body (https://resend.com/docs/api-reference/emails/send-email). */
export function resendBody(mail: OutgoingMail): Record<string, unknown> {
  const body: Record<string, unknown> = {
    from: formatAddress(mail.from),
    to: mail.to.map(formatAddress),
    subject: mail.subject,
  }
  if (mail.cc.length) body.cc = mail.cc.map(formatAddress)
  if (mail.bcc.length) body.bcc = mail.bcc.map(formatAddress)
  if (mail.replyTo.length) body.reply_to = mail.replyTo.map(formatAddress)
  if (mail.html !== undefined) body.html = mail.html
  if (mail.text !== undefined) body.text = mail.text
  if (Object.keys(mail.headers).length) body.headers = mail.headers
  // Resend tags are name/value pairs: a tag is a name whose value is "true"; metadata maps as is.
  const tags = [
    ...mail.tags.map((name) => ({ name, value: 'true' })),
    ...Object.entries(mail.metadata).map(([name, value]) => ({ name, value })),
  ]
  if (tags.length) body.tags = tags
  if (mail.attachments.length) {
    body.attachments = mail.attachments.map((a) => ({
      filename: a.filename,
      content: a.content.toString('base64'),
      content_type: a.contentType,
      ...(a.cid !== undefined ? { content_id: a.cid } : {}),
    }))
  }
  return body
}

/**
 * Resend's email API through the kit's HTTP client (Bearer key). Resend deduplicates by
 * Idempotency-Key for 24 hours, so a message with an idempotency key is never sent twice,
 * even when a retry follows a lost response.
 */
export const resendDriver = defineMailDriver<ResendTransportOptions>({
  name: 'resend',
  peers: ['@beaver-kit/http'],
  section: 'resend',
  async create(options, context) {
    const apiKey = requireSetting(options.apiKey, 'BEAVER_MAIL_RESEND_API_KEY', 'resend')
    const api = await providerApi(
      'resend',
      options.baseUrl ?? 'https://api.resend.com',
      { authorization: `Bearer ${apiKey}` },
      context.config,
      options,
      jsonErrorText((b) => (b.message === undefined ? undefined : `${String(b.name)}: ${String(b.message)}`)),
    )
    return apiTransport(
      'resend',
      api,
      { idempotencyKeys: true, maxTags: 50 },
      (mail) => ({
        path: '/emails',
        json: resendBody(mail),
        ...(mail.idempotencyKey !== undefined ? { idempotencyKey: mail.idempotencyKey } : {}),
      }),
      (r) => (r.body as { id?: unknown } | undefined)?.id,
    )
  },
})
