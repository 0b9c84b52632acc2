import { parseAddress, parseAddressList, type Address, type AddressInput } from './address.ts'
import { prepareAttachments, type AttachmentInput, type PreparedAttachment } from './attachments.ts'
import { invalidField, MailError } from './errors.ts'

/**
 * A message as callers write it. `to`, `cc` or `bcc` must name someone; `subject` and a body
 * (`text` or `html`) are required unless a template gives them.
 */
export interface MailMessage {
  from?: AddressInput | undefined
  to?: AddressInput | readonly AddressInput[] | undefined
  cc?: AddressInput | readonly AddressInput[] | undefined
  bcc?: AddressInput | readonly AddressInput[] | undefined
  replyTo?: AddressInput | readonly AddressInput[] | undefined
  subject?: string | undefined
  text?: string | undefined
  html?: string | undefined
  attachments?: readonly AttachmentInput[] | undefined
  /** Extra headers (`List-Unsubscribe`, `X-Entity-Ref-ID`); addressing headers are set through their fields. */
  headers?: Readonly<Record<string, string>> | undefined
  /** Labels for the provider's analytics (SendGrid categories, Mailgun/Postmark/SES/Resend tags). */
  tags?: readonly string[] | undefined
  /** Key/value pairs the provider echoes in delivery events (custom args, variables, metadata). */
  metadata?: Readonly<Record<string, string>> | undefined
  /**
   * A key unique to this logical message: providers that dedupe (Resend) get it as their
   * Idempotency-Key, and queued sending uses it so a retried job never sends twice.
   */
  idempotencyKey?: string | undefined
  /** Render this template (subject, html, text) with `data`; explicit fields win over rendered ones. */
  template?: string | undefined
  data?: Readonly<Record<string, unknown>> | undefined
}

/** A checked message, every address parsed and every attachment read: what transports send. */
export interface OutgoingMail {
  readonly from: Address
  readonly to: readonly Address[]
  readonly cc: readonly Address[]
  readonly bcc: readonly Address[]
  readonly replyTo: readonly Address[]
  readonly subject: string
  readonly text: string | undefined
  readonly html: string | undefined
  readonly attachments: readonly PreparedAttachment[]
  readonly headers: Readonly<Record<string, string>>
  readonly tags: readonly string[]
  readonly metadata: Readonly<Record<string, string>>
  readonly idempotencyKey: string | undefined
}

/** Every recipient address of a message, to then cc then bcc. */
export function recipientsOf(mail: Pick<OutgoingMail, 'to' | 'cc' | 'bcc'>): string[] {
  return [...mail.to, ...mail.cc, ...mail.bcc].map((a) => a.address)
}

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,76}$/
const CONTROL = /[\r\n\0]/
// The characters every provider accepts in tag names and values (SES and Resend are the strictest).
const TAG = /^[A-Za-z0-9_-]{1,128}$/
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,256}$/
// Set through fields, or by the transport: letting `headers` set them would let one message
// say two things (a Bcc header leaking recipients, a second From defeating DMARC).
const RESERVED = new Set([
  'from',
  'to',
  'cc',
  'bcc',
  'reply-to',
  'subject',
  'sender',
  'date',
  'message-id',
  'mime-version',
  'content-type',
  'content-transfer-encoding',
  'dkim-signature',
  'return-path',
])

export interface PrepareLimits {
  maxMessageSize: number
  maxRecipients: number
  defaultFrom: string | undefined
  defaultReplyTo: string | undefined
}

function checkText(value: unknown, field: string, oneLine: boolean): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string') throw invalidField(field, `expected a string, got ${typeof value}`)
  if (oneLine && CONTROL.test(value)) throw invalidField(field, 'holds no line breaks (header injection)')
  return value
}

function checkHeaders(headers: MailMessage['headers']): Record<string, string> {
  const out: Record<string, string> = {}
  if (headers === undefined) return out
  if (typeof headers !== 'object' || headers === null) throw invalidField('headers', 'expected an object of strings')
  const seen = new Set<string>()
  for (const [name, value] of Object.entries(headers)) {
    const field = `headers.${name}`
    if (!HEADER_NAME.test(name)) throw invalidField(field, 'a header name is printable ASCII without spaces or colons')
    const lower = name.toLowerCase()
    if (RESERVED.has(lower)) throw invalidField(field, `set ${name} through its own message field, not headers`)
    if (seen.has(lower)) throw invalidField(field, 'the header is given twice (names are case-insensitive)')
    seen.add(lower)
    if (typeof value !== 'string' || CONTROL.test(value) || value.length > 2000) {
      throw invalidField(field, 'a header value is one line of at most 2000 characters')
    }
    out[name] = value
  }
  return out
}

function checkTags(tags: MailMessage['tags'], metadata: MailMessage['metadata']): [string[], Record<string, string>] {
  const list: string[] = []
  if (tags !== undefined) {
    if (!Array.isArray(tags)) throw invalidField('tags', 'expected an array of strings')
    tags.forEach((t: unknown, i) => {
      if (typeof t !== 'string' || !TAG.test(t))
        throw invalidField(`tags[${i}]`, 'a tag is 1-128 letters, digits, _ and - (what every provider accepts)')
      list.push(t)
    })
  }
  const meta: Record<string, string> = {}
  if (metadata !== undefined) {
    if (typeof metadata !== 'object' || metadata === null)
      throw invalidField('metadata', 'expected an object of strings')
    for (const [k, v] of Object.entries(metadata)) {
      if (!TAG.test(k))
        throw invalidField(`metadata.${k.slice(0, 40)}`, 'a metadata key is 1-128 letters, digits, _ and -')
      if (typeof v !== 'string' || CONTROL.test(v) || v.length > 1000) {
        throw invalidField(`metadata.${k}`, 'a metadata value is one line of at most 1000 characters')
      }
      meta[k] = v
    }
  }
  return [list, meta]
}

/**
 * Checks a message field by field and reads its attachments: every problem is a MailError
 * naming the field, raised before anything is sent.
 */
export async function prepareMessage(message: MailMessage, limits: PrepareLimits): Promise<OutgoingMail> {
  if (typeof message !== 'object' || message === null) throw invalidField('message', 'expected a message object')
  const fromInput = message.from ?? limits.defaultFrom
  if (fromInput === undefined) {
    throw invalidField('from', 'no sender: set from on the message, or BEAVER_MAIL_FROM')
  }
  const from = parseAddress(fromInput, 'from')
  const to = parseAddressList(message.to, 'to')
  const cc = parseAddressList(message.cc, 'cc')
  const bcc = parseAddressList(message.bcc, 'bcc')
  const replyTo = parseAddressList(message.replyTo ?? limits.defaultReplyTo, 'replyTo')
  const count = to.length + cc.length + bcc.length
  if (count === 0) throw invalidField('to', 'no recipient: give to, cc or bcc')
  if (count > limits.maxRecipients) {
    throw invalidField(
      'to',
      `${count} recipients; at most ${limits.maxRecipients} per message (BEAVER_MAIL_MAX_RECIPIENTS), use sendBatch()`,
    )
  }
  const subject = checkText(message.subject, 'subject', true)
  if (subject === undefined || subject.trim() === '') throw invalidField('subject', 'a subject is required')
  if (subject.length > 998) throw invalidField('subject', 'at most 998 characters')
  const text = checkText(message.text, 'text', false)
  const html = checkText(message.html, 'html', false)
  if (!text && !html) throw invalidField('text', 'a body is required: give text or html (or a template)')
  const idempotencyKey = checkText(message.idempotencyKey, 'idempotencyKey', true)
  if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
    throw invalidField('idempotencyKey', '1 to 256 printable ASCII characters')
  }
  const headers = checkHeaders(message.headers)
  const [tags, metadata] = checkTags(message.tags, message.metadata)
  const bodySize = Buffer.byteLength(text ?? '') + Buffer.byteLength(html ?? '')
  if (bodySize > limits.maxMessageSize) {
    throw new MailError(
      'MAIL_TOO_LARGE',
      `The bodies are ${bodySize} bytes, more than maxMessageSize (${limits.maxMessageSize}).`,
      {
        details: { field: html ? 'html' : 'text', limit: limits.maxMessageSize },
      },
    )
  }
  const attachments = await prepareAttachments(message.attachments, limits.maxMessageSize - bodySize)
  return Object.freeze({
    from,
    to,
    cc,
    bcc,
    replyTo,
    subject,
    text: text || undefined,
    html: html || undefined,
    attachments,
    headers: Object.freeze(headers),
    tags: Object.freeze(tags),
    metadata: Object.freeze(metadata),
    idempotencyKey,
  })
}

/** The same message for fewer recipients (suppressed ones removed). */
export function withRecipients(mail: OutgoingMail, keep: (address: string) => boolean): OutgoingMail {
  return Object.freeze({
    ...mail,
    to: mail.to.filter((a) => keep(a.address)),
    cc: mail.cc.filter((a) => keep(a.address)),
    bcc: mail.bcc.filter((a) => keep(a.address)),
  })
}
