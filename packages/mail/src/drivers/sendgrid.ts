import type { Address } from '../address.ts'
import type { OutgoingMail } from '../message.ts'
import { defineMailDriver } from '../transport.ts'
import { apiTransport, jsonErrorText, providerApi, requireSetting, type HttpProviderExtras } from './http-provider.ts'

/** SendGrid settings: BEAVER_MAIL_SENDGRID_* or `createMailer({ sendgrid: {...} })`. */
export interface SendgridTransportOptions extends HttpProviderExtras {
  apiKey?: string | undefined
  baseUrl?: string | undefined
  sandbox?: boolean | undefined
  ipPool?: string | undefined
}

const person = (a: Address): { email: string; name?: string } =>
  a.name ? { email: a.address, name: a.name } : { email: a.address }
const nonEmpty = <T>(list: readonly T[]): T[] | undefined => (list.length ? [...list] : undefined)

/** The v3 Mail Send body (https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send). */
export function sendgridBody(mail: OutgoingMail, options: SendgridTransportOptions): Record<string, unknown> {
  const content: Array<{ type: string; value: string }> = []
  // text/plain must come first, then text/html (SendGrid refuses other orders).
  if (mail.text !== undefined) content.push({ type: 'text/plain', value: mail.text })
  if (mail.html !== undefined) content.push({ type: 'text/html', value: mail.html })
  const body: Record<string, unknown> = {
    personalizations: [
      { to: nonEmpty(mail.to.map(person)), cc: nonEmpty(mail.cc.map(person)), bcc: nonEmpty(mail.bcc.map(person)) },
    ],
    from: person(mail.from),
    subject: mail.subject,
    content,
  }
  if (mail.replyTo.length === 1) body.reply_to = person(mail.replyTo[0] as Address)
  else if (mail.replyTo.length > 1) body.reply_to_list = mail.replyTo.map(person)
  if (mail.attachments.length) {
    body.attachments = mail.attachments.map((a) => ({
      content: a.content.toString('base64'),
      filename: a.filename,
      type: a.contentType,
      disposition: a.disposition,
      ...(a.cid !== undefined ? { content_id: a.cid } : {}),
    }))
  }
  if (Object.keys(mail.headers).length) body.headers = mail.headers
  if (mail.tags.length) body.categories = mail.tags
  if (Object.keys(mail.metadata).length) body.custom_args = mail.metadata
  if (options.sandbox) body.mail_settings = { sandbox_mode: { enable: true } }
  if (options.ipPool) body.ip_pool_name = options.ipPool
  return body
}

/**
 * SendGrid's v3 Mail Send API through the kit's HTTP client (Bearer key). It answers 202 with
 * the id in `X-Message-Id`; tags go as categories (10 at most), metadata as custom_args,
 * which SendGrid's event webhook echoes back.
 */
export const sendgridDriver = defineMailDriver<SendgridTransportOptions>({
  name: 'sendgrid',
  peers: ['@beaver-kit/http'],
  section: 'sendgrid',
  async create(options, context) {
    const apiKey = requireSetting(options.apiKey, 'BEAVER_MAIL_SENDGRID_API_KEY', 'sendgrid')
    const api = await providerApi(
      'sendgrid',
      options.baseUrl ?? 'https://api.sendgrid.com',
      { authorization: `Bearer ${apiKey}` },
      context.config,
      options,
      jsonErrorText((b) => (b.errors as Array<{ message?: string }> | undefined)?.map((e) => e.message).join('; ')),
    )
    return apiTransport(
      'sendgrid',
      api,
      { maxTags: 10 },
      (mail) => ({ path: '/v3/mail/send', json: sendgridBody(mail, options) }),
      (r) => r.header('x-message-id'),
    )
  },
})
