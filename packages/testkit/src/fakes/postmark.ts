// Postmark's email API, as documented at https://postmarkapp.com/developer/api/email-api:
// POST /email with `X-Postmark-Server-Token` and `Accept: application/json`, a JSON body of
// From/To/Cc/Bcc (comma-separated strings), Subject, HtmlBody/TextBody, Headers [{Name,Value}],
// Tag, Metadata, Attachments [{Name, Content, ContentType, ContentID}], MessageStream; 200 with
// `{ To, SubmittedAt, MessageID, ErrorCode: 0, Message: "OK" }`; 401 for a missing or wrong
// token; 422 `{ ErrorCode, Message }` for a bad request (300 invalid request, 406 inactive
// recipient); 429 when rate limited.
import { randomUUID } from 'node:crypto'
import type { ReceivedMail } from '../mail.ts'
import { header, jsonBody, startHttpFake, type HttpFake } from './http-fake.ts'

interface PostmarkBody {
  From?: string
  To?: string
  Cc?: string
  Bcc?: string
  ReplyTo?: string
  Subject?: string
  HtmlBody?: string
  TextBody?: string
  Headers?: Array<{ Name: string; Value: string }>
  Tag?: string
  Metadata?: Record<string, string>
  Attachments?: Array<{ Name: string; Content: string; ContentType: string; ContentID?: string }>
  MessageStream?: string
}

export interface PostmarkFake extends HttpFake {
  readonly token: string
  received(): ReceivedMail[]
  /** Addresses Postmark reports as inactive (422, ErrorCode 406). */
  readonly inactive: Set<string>
}

/** The bare addresses of a Postmark address list (`"Name" <a@b>, c@d`). */
export function addressesOf(list: string | undefined): string[] {
  if (!list) return []
  return (list.match(/(?:"(?:[^"\\]|\\.)*"|[^,])+/g) ?? []).map((part) => {
    const m = /<([^>]+)>/.exec(part)
    return (m ? (m[1] as string) : part).trim()
  })
}

export async function startPostmarkFake(token = 'pm-server-token'): Promise<PostmarkFake> {
  const accepted: ReceivedMail[] = []
  const inactive = new Set<string>()
  const fake = await startHttpFake((req) => {
    if (req.method !== 'POST' || req.path !== '/email')
      return { status: 404, body: { ErrorCode: 404, Message: 'Not found' } }
    const given = header(req, 'x-postmark-server-token')
    if (given === undefined) {
      return {
        status: 401,
        body: {
          ErrorCode: 10,
          Message:
            'No Account or Server API tokens were supplied in the HTTP headers. Please add a header for either X-Postmark-Server-Token or X-Postmark-Account-Token.',
        },
      }
    }
    if (given !== token)
      return {
        status: 401,
        body: {
          ErrorCode: 10,
          Message:
            'The Server Token you provided in the X-Postmark-Server-Token request header was invalid. Please verify that you are using a valid token.',
        },
      }
    const b = jsonBody(req) as PostmarkBody | undefined
    if (!b || !b.From || !b.To) return { status: 422, body: { ErrorCode: 300, Message: 'Invalid email request' } }
    if (!b.HtmlBody && !b.TextBody)
      return { status: 422, body: { ErrorCode: 300, Message: 'Provide either email TextBody or HtmlBody or both.' } }
    const to = addressesOf(b.To)
    const cc = addressesOf(b.Cc)
    const bcc = addressesOf(b.Bcc)
    if ([...to, ...cc, ...bcc].some((a) => inactive.has(a))) {
      return {
        status: 422,
        body: { ErrorCode: 406, Message: 'You tried to send to recipient(s) that have been marked as inactive.' },
      }
    }
    const id = randomUUID()
    accepted.push({
      from: addressesOf(b.From)[0] ?? '',
      to,
      cc,
      bcc,
      replyTo: addressesOf(b.ReplyTo),
      subject: b.Subject ?? '',
      text: b.TextBody,
      html: b.HtmlBody,
      headers: Object.fromEntries((b.Headers ?? []).map((h) => [h.Name.toLowerCase(), h.Value])),
      attachments: (b.Attachments ?? []).map((a) => ({
        filename: a.Name,
        contentType: a.ContentType,
        content: Buffer.from(a.Content, 'base64'),
        cid: a.ContentID?.replace(/^cid:/, ''),
      })),
      tags: b.Tag ? [b.Tag] : [],
      metadata: b.Metadata ?? {},
    })
    return {
      status: 200,
      body: { To: b.To, SubmittedAt: new Date().toISOString(), MessageID: id, ErrorCode: 0, Message: 'OK' },
    }
  })
  return {
    ...fake,
    token,
    inactive,
    received: () => accepted.slice(),
    clear() {
      fake.clear()
      accepted.length = 0
      inactive.clear()
    },
  }
}
