// Mailgun's messages API, as documented at
// https://documentation.mailgun.com/docs/mailgun/api-reference/send/mailgun/messages:
// POST /v3/{domain}/messages with HTTP Basic `api:<key>`, a multipart form of from, to/cc/bcc
// (repeatable), subject, text, html, `h:` headers, `o:tag` (3 at most), `v:` user variables,
// `attachment` and `inline` files (an inline part's Content-ID is its file name); 200
// `{ id: "<…@domain>", message: "Queued. Thank you." }`; 401 with the text "Forbidden" for a
// bad key; 400 `{ message }` for a bad form; 404 for an unknown domain; 429 when rate limited.
import { randomBytes } from 'node:crypto'
import type { ReceivedMail } from '../mail.ts'
import { addressesOf } from './postmark.ts'
import { formBody, header, startHttpFake, type HttpFake } from './http-fake.ts'

export interface MailgunFake extends HttpFake {
  readonly apiKey: string
  readonly domain: string
  received(): ReceivedMail[]
}

const strings = (form: FormData, name: string): string[] =>
  form.getAll(name).filter((v): v is string => typeof v === 'string')

export async function startMailgunFake(apiKey = 'key-test', domain = 'mg.example.com'): Promise<MailgunFake> {
  const accepted: ReceivedMail[] = []
  const expected = `Basic ${Buffer.from(`api:${apiKey}`).toString('base64')}`
  const fake = await startHttpFake(async (req) => {
    const m = /^\/v3\/([^/]+)\/messages$/.exec(req.path)
    if (req.method !== 'POST' || !m) return { status: 404, body: { message: 'Not Found' } }
    if (header(req, 'authorization') !== expected) return { status: 401, body: 'Forbidden' }
    if (decodeURIComponent(m[1] as string) !== domain)
      return { status: 404, body: { message: `Domain not found: ${m[1]}` } }
    const form = await formBody(req)
    const to = strings(form, 'to').flatMap(addressesOf)
    if (to.length === 0) return { status: 400, body: { message: "'to' parameter is missing" } }
    if (!form.get('from')) return { status: 400, body: { message: "'from' parameter is missing" } }
    if (!form.get('text') && !form.get('html'))
      return { status: 400, body: { message: "Need at least one of 'text' or 'html' parameters specified" } }
    const tags = strings(form, 'o:tag')
    if (tags.length > 3) return { status: 400, body: { message: 'Too many tags: 3 max' } }
    const headers: Record<string, string> = {}
    const metadata: Record<string, string> = {}
    for (const [key, value] of form.entries()) {
      if (typeof value !== 'string') continue
      if (key.startsWith('h:')) headers[key.slice(2).toLowerCase()] = value
      if (key.startsWith('v:')) metadata[key.slice(2)] = value
    }
    const files = async (field: string, inline: boolean) =>
      Promise.all(
        form
          .getAll(field)
          .filter((v): v is File => typeof v !== 'string')
          .map(async (f) => ({
            filename: f.name,
            contentType: f.type || 'application/octet-stream',
            content: Buffer.from(await f.arrayBuffer()),
            cid: inline ? f.name : undefined,
          })),
      )
    const replyTo = headers['reply-to']
    delete headers['reply-to']
    accepted.push({
      from: addressesOf(String(form.get('from')))[0] ?? '',
      to,
      cc: strings(form, 'cc').flatMap(addressesOf),
      bcc: strings(form, 'bcc').flatMap(addressesOf),
      replyTo: addressesOf(replyTo),
      subject: String(form.get('subject') ?? ''),
      text: (form.get('text') as string | null) ?? undefined,
      html: (form.get('html') as string | null) ?? undefined,
      headers,
      attachments: [...(await files('attachment', false)), ...(await files('inline', true))],
      tags,
      metadata,
    })
    return {
      status: 200,
      body: { id: `<${Date.now()}.${randomBytes(6).toString('hex')}@${domain}>`, message: 'Queued. Thank you.' },
    }
  })
  return {
    ...fake,
    apiKey,
    domain,
    received: () => accepted.slice(),
    clear() {
      fake.clear()
      accepted.length = 0
    },
  }
}
