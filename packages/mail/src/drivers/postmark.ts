import { formatAddress, type Address } from '../address.ts'
import type { OutgoingMail } from '../message.ts'
import { defineMailDriver } from '../transport.ts'
import { apiTransport, jsonErrorText, providerApi, requireSetting, type HttpProviderExtras } from './http-provider.ts'

/** Postmark settings: BEAVER_MAIL_POSTMARK_* or `createMailer({ postmark: {...} })`. */
export interface PostmarkTransportOptions extends HttpProviderExtras {
  serverToken?: string | undefined
  messageStream?: string | undefined
  baseUrl?: string | undefined
}

const joined = (list: readonly Address[]): string | undefined =>
  list.length ? list.map(formatAddress).join(', ') : undefined

/** The /email body (https://postmarkapp.com/developer/api/email-api). */
export function postmarkBody(mail: OutgoingMail, messageStream: string): Record<string, unknown> {
  const body: Record<string, unknown> = {
    From: formatAddress(mail.from),
    To: joined(mail.to),
    Cc: joined(mail.cc),
    Bcc: joined(mail.bcc),
    ReplyTo: joined(mail.replyTo),
    Subject: mail.subject,
    HtmlBody: mail.html,
    TextBody: mail.text,
    MessageStream: messageStream,
  }
  if (Object.keys(mail.headers).length)
    body.Headers = Object.entries(mail.headers).map(([Name, Value]) => ({ Name, Value }))
  if (mail.tags.length) body.Tag = mail.tags[0]
  if (Object.keys(mail.metadata).length) body.Metadata = mail.metadata
  if (mail.attachments.length) {
    body.Attachments = mail.attachments.map((a) => ({
      Name: a.filename,
      Content: a.content.toString('base64'),
      ContentType: a.contentType,
      ...(a.cid !== undefined ? { ContentID: `cid:${a.cid}` } : {}),
    }))
  }
  return body
}

/**
 * Postmark's email API through the kit's HTTP client (`X-Postmark-Server-Token`). One tag per
 * message (Postmark's limit: more are refused, not dropped), metadata as Metadata.
 */
export const postmarkDriver = defineMailDriver<PostmarkTransportOptions>({
  name: 'postmark',
  peers: ['@beaver-kit/http'],
  section: 'postmark',
  async create(options, context) {
    const token = requireSetting(options.serverToken, 'BEAVER_MAIL_POSTMARK_SERVER_TOKEN', 'postmark')
    const api = await providerApi(
      'postmark',
      options.baseUrl ?? 'https://api.postmarkapp.com',
      { 'x-postmark-server-token': token, accept: 'application/json' },
      context.config,
      options,
      jsonErrorText((b) =>
        b.Message === undefined ? undefined : `ErrorCode ${String(b.ErrorCode)}: ${String(b.Message)}`,
      ),
    )
    return apiTransport(
      'postmark',
      api,
      { maxTags: 1 },
      (mail) => ({ path: '/email', json: postmarkBody(mail, options.messageStream ?? 'outbound') }),
      (r) => (r.body as { MessageID?: unknown } | undefined)?.MessageID,
    )
  },
})
