// SendGrid v3 Mail Send, as documented at
// https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send: POST /v3/mail/send
// with `Authorization: Bearer <key>`, a JSON body of personalizations/from/subject/content;
// 202 with an empty body and `X-Message-Id`; errors as `{ errors: [{ message, field, help }] }`
// (401 for a bad key, 400 for a bad body); 429 with X-RateLimit-Limit/Remaining/Reset.
import { randomBytes } from 'node:crypto'
import type { ReceivedMail } from '../mail.ts'
import { header, jsonBody, startHttpFake, type HttpFake } from './http-fake.ts'

interface Person {
  email: string
  name?: string
}
interface SendgridBody {
  personalizations?: Array<{ to?: Person[]; cc?: Person[]; bcc?: Person[] }>
  from?: Person
  reply_to?: Person
  reply_to_list?: Person[]
  subject?: string
  content?: Array<{ type: string; value: string }>
  attachments?: Array<{ content: string; filename: string; type?: string; disposition?: string; content_id?: string }>
  headers?: Record<string, string>
  categories?: string[]
  custom_args?: Record<string, string>
}

export interface SendgridFake extends HttpFake {
  readonly apiKey: string
  /** Messages accepted (202), normalized. */
  received(): ReceivedMail[]
  /** The next request gets SendGrid's 429 with its rate-limit headers. */
  rateLimitNext(): void
}

const error = (status: number, message: string, field: string | null = null) => ({
  status,
  body: { errors: [{ message, field, help: null }] },
})

export async function startSendgridFake(apiKey = 'SG.test-key'): Promise<SendgridFake> {
  const accepted: ReceivedMail[] = []
  const fake = await startHttpFake((req) => {
    if (req.method !== 'POST' || req.path !== '/v3/mail/send')
      return { status: 404, body: { errors: [{ message: 'Not found' }] } }
    if (header(req, 'authorization') !== `Bearer ${apiKey}`) {
      return error(401, 'The provided authorization grant is invalid, expired, or revoked')
    }
    const b = jsonBody(req) as SendgridBody | undefined
    if (!b) return error(400, 'Bad Request', null)
    const p = b.personalizations?.[0]
    if (!p?.to?.length)
      return error(
        400,
        'The to array is required for all personalization objects, and must have at least one email object with a valid email address.',
        'personalizations.0.to',
      )
    if (!b.from?.email) return error(400, 'The from object must be provided for every email send.', 'from')
    if (!b.subject) return error(400, 'The subject is required.', 'subject')
    if (!b.content?.length)
      return error(400, 'Unless a valid template_id is provided, the content parameter is required.', 'content')
    if (b.content[0]?.type !== 'text/plain' && b.content.some((c) => c.type === 'text/plain')) {
      return error(
        400,
        'If present, text/plain must be first, followed by text/html, followed by any other content.',
        'content',
      )
    }
    if ((b.categories?.length ?? 0) > 10) return error(400, 'Too many categories. Max: 10', 'categories')
    for (const list of [p.to, p.cc, p.bcc])
      if (list && list.length === 0) return error(400, 'The array must have at least one element.', 'personalizations')
    accepted.push({
      from: b.from.email,
      to: p.to.map((x) => x.email),
      cc: (p.cc ?? []).map((x) => x.email),
      bcc: (p.bcc ?? []).map((x) => x.email),
      replyTo: b.reply_to_list ? b.reply_to_list.map((x) => x.email) : b.reply_to ? [b.reply_to.email] : [],
      subject: b.subject,
      text: b.content.find((c) => c.type === 'text/plain')?.value,
      html: b.content.find((c) => c.type === 'text/html')?.value,
      headers: Object.fromEntries(Object.entries(b.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
      attachments: (b.attachments ?? []).map((a) => ({
        filename: a.filename,
        contentType: a.type ?? 'application/octet-stream',
        content: Buffer.from(a.content, 'base64'),
        cid: a.content_id,
      })),
      tags: b.categories ?? [],
      metadata: b.custom_args ?? {},
    })
    return { status: 202, headers: { 'x-message-id': randomBytes(11).toString('base64url') } }
  })
  return {
    ...fake,
    apiKey,
    received: () => accepted.slice(),
    rateLimitNext: () =>
      fake.script({
        status: 429,
        body: { errors: [{ field: null, message: 'too many requests' }] },
        headers: {
          'x-ratelimit-limit': '600',
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': String(Math.floor(Date.now() / 1000)),
        },
      }),
    clear() {
      fake.clear()
      accepted.length = 0
    },
  }
}
