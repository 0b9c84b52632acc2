// Reads a raw RFC 5322 message back with mailparser (a devDependency of @beaver-kit/mail,
// imported lazily) into the suite's ReceivedMail, so SMTP, SES raw and .eml files are
// asserted the same way as the provider APIs.
import type { ReceivedMail } from './mail.ts'

interface ParsedAddress {
  value: Array<{ address?: string; name: string }>
}
interface ParsedMail {
  from?: ParsedAddress
  to?: ParsedAddress | ParsedAddress[]
  cc?: ParsedAddress | ParsedAddress[]
  replyTo?: ParsedAddress
  subject?: string
  text?: string
  html?: string | false
  headerLines: ReadonlyArray<{ key: string; line: string }>
  attachments: Array<{
    filename?: string
    contentType: string
    content: Buffer
    cid?: string
    contentDisposition?: string
  }>
}

const list = (a: ParsedAddress | ParsedAddress[] | undefined): string[] =>
  (Array.isArray(a) ? a : a ? [a] : []).flatMap((x) => x.value.map((v) => v.address ?? ''))

/** The raw (unfolded, undecoded) value of every header, lower-case names; repeated ones joined. */
export function rawHeaders(parsed: Pick<ParsedMail, 'headerLines'>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const { key, line } of parsed.headerLines) {
    const value = line
      .slice(line.indexOf(':') + 1)
      .replace(/\r?\n[ \t]+/g, ' ')
      .trim()
    out[key] = out[key] === undefined ? value : `${out[key]}, ${value}`
  }
  return out
}

/**
 * Parses a raw message; `envelope` (the SMTP RCPT TO list) gives the Bcc recipients, which no
 * header shows. Tags and metadata come from the X-Tags and X-Metadata headers SMTP carries them in.
 */
export async function parseRawMail(raw: Buffer | string, envelope?: readonly string[]): Promise<ReceivedMail> {
  const name = 'mailparser'
  const { simpleParser } = (await import(name)) as { simpleParser: (input: Buffer | string) => Promise<ParsedMail> }
  const parsed = await simpleParser(raw)
  const headers = rawHeaders(parsed)
  const to = list(parsed.to)
  const cc = list(parsed.cc)
  const shown = new Set([...to, ...cc].map((a) => a.toLowerCase()))
  return {
    from: list(parsed.from)[0] ?? '',
    to,
    cc,
    bcc: (envelope ?? []).filter((a) => !shown.has(a.toLowerCase())),
    replyTo: list(parsed.replyTo),
    subject: parsed.subject ?? '',
    text: parsed.text,
    html: parsed.html === false ? undefined : parsed.html,
    headers,
    attachments: parsed.attachments.map((a) => ({
      filename: a.filename ?? '',
      contentType: a.contentType,
      content: a.content,
      cid: a.contentDisposition === 'inline' || a.cid ? a.cid?.replace(/^<|>$/g, '') : undefined,
    })),
    tags: headers['x-tags'] ? headers['x-tags'].split(',').map((t) => t.trim()) : [],
    metadata: Object.fromEntries(
      (headers['x-metadata'] ?? '')
        .split(';')
        .map((pair) => pair.trim())
        .filter(Boolean)
        .map((pair) => [pair.slice(0, pair.indexOf('=')), decodeURIComponent(pair.slice(pair.indexOf('=') + 1))]),
    ),
  }
}
