import { formatAddress } from '../address.ts'
import type { OutgoingMail } from '../message.ts'
import { defineMailDriver } from '../transport.ts'
import { apiTransport, jsonErrorText, providerApi, requireSetting, type HttpProviderExtras } from './http-provider.ts'

/** Mailgun settings: BEAVER_MAIL_MAILGUN_* or `createMailer({ mailgun: {...} })`. */
export interface MailgunTransportOptions extends HttpProviderExtras {
  apiKey?: string | undefined
  domain?: string | undefined
  region?: 'us' | 'eu' | undefined
  baseUrl?: string | undefined
}

const BASES = { us: 'https://api.mailgun.net', eu: 'https://api.eu.mailgun.net' } as const

/**
 * The multipart form of POST /v3/{domain}/messages
 * (https://documentation.mailgun.com/docs/mailgun/api-reference/send/mailgun/messages).
 * Mailgun names an inline part's Content-ID after its file name, so inline parts are sent
 * under their content id.
 */
export function mailgunForm(mail: OutgoingMail): FormData {
  const form = new FormData()
  form.append('from', formatAddress(mail.from))
  for (const a of mail.to) form.append('to', formatAddress(a))
  for (const a of mail.cc) form.append('cc', formatAddress(a))
  for (const a of mail.bcc) form.append('bcc', formatAddress(a))
  form.append('subject', mail.subject)
  if (mail.text !== undefined) form.append('text', mail.text)
  if (mail.html !== undefined) form.append('html', mail.html)
  if (mail.replyTo.length) form.append('h:Reply-To', mail.replyTo.map(formatAddress).join(', '))
  for (const [name, value] of Object.entries(mail.headers)) form.append(`h:${name}`, value)
  for (const tag of mail.tags) form.append('o:tag', tag)
  for (const [key, value] of Object.entries(mail.metadata)) form.append(`v:${key}`, value)
  for (const a of mail.attachments) {
    const blob = new Blob([new Uint8Array(a.content)], { type: a.contentType })
    form.append(a.cid === undefined ? 'attachment' : 'inline', blob, a.cid ?? a.filename)
  }
  return form
}

/**
 * Mailgun's messages API through the kit's HTTP client (Basic `api:<key>`), on the US or EU
 * base. Three tags at most (Mailgun's limit); metadata as user variables, which Mailgun's
 * webhooks echo back.
 */
export const mailgunDriver = defineMailDriver<MailgunTransportOptions>({
  name: 'mailgun',
  peers: ['@beaver-kit/http'],
  section: 'mailgun',
  async create(options, context) {
    const apiKey = requireSetting(options.apiKey, 'BEAVER_MAIL_MAILGUN_API_KEY', 'mailgun')
    const domain = requireSetting(options.domain, 'BEAVER_MAIL_MAILGUN_DOMAIN', 'mailgun')
    const api = await providerApi(
      'mailgun',
      options.baseUrl ?? BASES[options.region ?? 'us'],
      { authorization: `Basic ${Buffer.from(`api:${apiKey}`).toString('base64')}` },
      context.config,
      options,
      jsonErrorText((b) => (typeof b.message === 'string' ? b.message : undefined)),
    )
    return apiTransport(
      'mailgun',
      api,
      { maxTags: 3 },
      (mail) => ({ path: `/v3/${encodeURIComponent(domain)}/messages`, body: mailgunForm(mail) }),
      (r) => (r.body as { id?: unknown } | undefined)?.id,
    )
  },
})
