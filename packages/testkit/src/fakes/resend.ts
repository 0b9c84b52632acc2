// Resend's send-email API, as documented at https://resend.com/docs/api-reference/emails/send-email
// and /errors: POST /emails with `Authorization: Bearer <key>`, a JSON body of from, to (array),
// cc, bcc, reply_to, subject, html, text, headers, tags [{name, value}], attachments
// [{filename, content, content_type, content_id}]; 200 `{ id }`; errors as
// `{ statusCode, message, name }`: 401 missing_api_key, 403 invalid_api_key, 422
// validation_error/missing_required_field, 429 rate_limit_exceeded with ratelimit-* and
// retry-after headers. An Idempotency-Key replays the first answer for the same payload and is
// a 409 invalid_idempotent_request for a different one.
import { createHash, randomUUID } from 'node:crypto'
import type { ReceivedMail } from '../mail.ts'
import { addressesOf } from './postmark.ts'
import { header, jsonBody, startHttpFake, type HttpFake } from './http-fake.ts'

interface ResendBody {
  from?: string
  to?: string | string[]
  cc?: string | string[]
  bcc?: string | string[]
  reply_to?: string | string[]
  subject?: string
  html?: string
  text?: string
  headers?: Record<string, string>
  tags?: Array<{ name: string; value: string }>
  attachments?: Array<{ filename: string; content: string; content_type?: string; content_id?: string }>
}

export interface ResendFake extends HttpFake {
  readonly apiKey: string
  received(): ReceivedMail[]
  rateLimitNext(): void
}

const err = (statusCode: number, name: string, message: string) => ({
  status: statusCode,
  body: { statusCode, message, name },
})
const many = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : (Array.isArray(v) ? v : [v]).flatMap((a) => addressesOf(a))
const TAG = /^[A-Za-z0-9_-]{1,256}$/

export async function startResendFake(apiKey = 're_test_key'): Promise<ResendFake> {
  const accepted: ReceivedMail[] = []
  const idempotent = new Map<string, { hash: string; id: string }>()
  const fake = await startHttpFake((req) => {
    if (req.method !== 'POST' || req.path !== '/emails')
      return err(404, 'not_found', 'The requested endpoint does not exist.')
    const auth = header(req, 'authorization')
    if (!auth) return err(401, 'missing_api_key', 'Missing API key in the authorization header.')
    if (auth !== `Bearer ${apiKey}`) return err(403, 'invalid_api_key', 'API key is invalid')
    const b = jsonBody(req) as ResendBody | undefined
    if (!b) return err(422, 'validation_error', 'Invalid JSON')
    for (const field of ['from', 'to', 'subject'] as const) {
      if (!b[field]) return err(422, 'missing_required_field', `Missing \`${field}\` field.`)
    }
    if (b.tags?.some((t) => !TAG.test(t.name) || !TAG.test(t.value))) {
      return err(422, 'validation_error', 'Tags should only contain ASCII letters, numbers, underscores, or dashes.')
    }
    const key = header(req, 'idempotency-key')
    const hash = createHash('sha256').update(req.body).digest('hex')
    if (key !== undefined) {
      const seen = idempotent.get(key)
      if (seen && seen.hash !== hash)
        return err(409, 'invalid_idempotent_request', 'Same idempotency key used with a different request payload.')
      if (seen) return { status: 200, body: { id: seen.id } }
    }
    const id = randomUUID()
    if (key !== undefined) idempotent.set(key, { hash, id })
    const tags = b.tags ?? []
    accepted.push({
      from: addressesOf(b.from)[0] ?? '',
      to: many(b.to),
      cc: many(b.cc),
      bcc: many(b.bcc),
      replyTo: many(b.reply_to),
      subject: b.subject ?? '',
      text: b.text,
      html: b.html,
      headers: Object.fromEntries(Object.entries(b.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
      attachments: (b.attachments ?? []).map((a) => ({
        filename: a.filename,
        contentType: a.content_type ?? 'application/octet-stream',
        content: Buffer.from(a.content, 'base64'),
        cid: a.content_id,
      })),
      tags: tags.filter((t) => t.value === 'true').map((t) => t.name),
      metadata: Object.fromEntries(tags.filter((t) => t.value !== 'true').map((t) => [t.name, t.value])),
    })
    return { status: 200, body: { id } }
  })
  return {
    ...fake,
    apiKey,
    received: () => accepted.slice(),
    rateLimitNext: () =>
      fake.script({
        ...err(
          429,
          'rate_limit_exceeded',
          'Too many requests. You can only make 2 requests per second. See rate limit response headers for more information. Or contact support to increase rate limit.',
        ),
        headers: { 'ratelimit-limit': '2', 'ratelimit-remaining': '0', 'ratelimit-reset': '1', 'retry-after': '1' },
      }),
    clear() {
      fake.clear()
      accepted.length = 0
      idempotent.clear()
    },
  }
}
