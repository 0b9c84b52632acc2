import { readFile, stat } from 'node:fs/promises'
import { basename, extname } from 'node:path'
import type { Readable } from 'node:stream'
import { MailError, invalidField } from './errors.ts'

/**
 * An attachment: `content` (text, bytes or a stream) or `path` (a local file). A `cid` makes
 * it an inline part the HTML shows with `<img src="cid:logo">`.
 */
export interface AttachmentInput {
  filename?: string | undefined
  content?: string | Uint8Array | Readable | undefined
  /** A local file read when the message is sent (never a URL: fetching URLs would be an SSRF hole). */
  path?: string | undefined
  /** How a string `content` is encoded. Default utf8. */
  encoding?: 'utf8' | 'base64' | undefined
  /** Default: from the file name's extension, else application/octet-stream. */
  contentType?: string | undefined
  /** Content-ID of an inline part. */
  cid?: string | undefined
}

/** An attachment read into memory, ready for any transport (and for a retry or failover to send again). */
export interface PreparedAttachment {
  readonly filename: string
  readonly content: Buffer
  readonly contentType: string
  /** Set for inline parts. */
  readonly cid: string | undefined
  readonly disposition: 'attachment' | 'inline'
}

const TYPES: Readonly<Record<string, string>> = {
  '.pdf': 'application/pdf',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain',
  '.html': 'text/html',
  '.htm': 'text/html',
  '.csv': 'text/csv',
  '.json': 'application/json',
  '.xml': 'application/xml',
  '.zip': 'application/zip',
  '.gz': 'application/gzip',
  '.ics': 'text/calendar',
  '.eml': 'message/rfc822',
  '.doc': 'application/msword',
  '.docx': 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  '.xls': 'application/vnd.ms-excel',
  '.xlsx': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
}

const CONTENT_TYPE = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+(\s*;\s*[a-z0-9_-]+=("[^"\r\n]*"|[^;\s]+))*$/i
const CID = /^[^\s<>"]{1,200}$/
const FILENAME = /^[^\r\n\0/\\]{1,255}$/

/** The MIME type of a file name, from a short table of what mail carries; octet-stream otherwise. */
export function contentTypeOf(filename: string): string {
  return TYPES[extname(filename).toLowerCase()] ?? 'application/octet-stream'
}

function isReadable(value: unknown): value is Readable {
  return typeof value === 'object' && value !== null && typeof (value as Readable).pipe === 'function'
}

async function readStream(stream: Readable, field: string, budget: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of stream) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array)
      size += buf.length
      if (size > budget) {
        stream.destroy()
        throw tooLarge(budget)
      }
      chunks.push(buf)
    }
  } catch (err) {
    if (err instanceof MailError) throw err
    throw new MailError('MAIL_ATTACHMENT_UNREADABLE', `${field}: the stream failed: ${(err as Error).message}`, {
      cause: err,
      details: { field },
    })
  }
  return Buffer.concat(chunks)
}

function tooLarge(limit: number): MailError {
  return new MailError(
    'MAIL_TOO_LARGE',
    `The message is larger than maxMessageSize (${limit} bytes); send a link to large files instead.`,
    {
      details: { field: 'attachments', limit },
    },
  )
}

/**
 * Reads every attachment into memory within `budget` bytes (what the bodies left of
 * maxMessageSize). Buffering is deliberate: a retry, a failover to another provider and the
 * base64 of an HTTP API all need the bytes again, which a stream cannot give twice.
 */
export async function prepareAttachments(
  list: readonly AttachmentInput[] | undefined,
  budget: number,
): Promise<PreparedAttachment[]> {
  if (list === undefined) return []
  if (!Array.isArray(list)) throw invalidField('attachments', 'expected an array of attachments')
  const out: PreparedAttachment[] = []
  let left = budget
  for (let i = 0; i < list.length; i++) {
    const a = list[i] as AttachmentInput
    const field = `attachments[${i}]`
    if (typeof a !== 'object' || a === null) throw invalidField(field, 'expected { filename, content } or { path }')
    if ((a.content === undefined) === (a.path === undefined)) {
      throw invalidField(field, 'give exactly one of content or path')
    }
    let content: Buffer
    if (a.path !== undefined) {
      if (
        typeof a.path !== 'string' ||
        a.path === '' ||
        a.path.includes('\0') ||
        /^[a-z][a-z0-9+.-]*:\/\//i.test(a.path)
      ) {
        throw invalidField(`${field}.path`, 'expected a local file path (URLs are not fetched)')
      }
      try {
        const info = await stat(a.path)
        if (!info.isFile()) throw new Error('not a regular file')
        if (info.size > left) throw tooLarge(budget)
        content = await readFile(a.path)
      } catch (err) {
        if (err instanceof MailError) throw err
        throw new MailError(
          'MAIL_ATTACHMENT_UNREADABLE',
          `${field}.path: cannot read "${a.path}" (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); check the path and permissions.`,
          { cause: err, details: { field: `${field}.path`, path: a.path } },
        )
      }
    } else if (typeof a.content === 'string') {
      content = Buffer.from(a.content, a.encoding === 'base64' ? 'base64' : 'utf8')
    } else if (a.content instanceof Uint8Array) {
      content = Buffer.from(a.content.buffer, a.content.byteOffset, a.content.byteLength)
    } else if (isReadable(a.content)) {
      content = await readStream(a.content, `${field}.content`, left)
    } else {
      throw invalidField(`${field}.content`, 'expected a string, bytes or a readable stream')
    }
    left -= content.length
    if (left < 0) throw tooLarge(budget)
    const filename = a.filename ?? (a.path !== undefined ? basename(a.path) : `attachment-${i + 1}`)
    if (!FILENAME.test(filename))
      throw invalidField(`${field}.filename`, 'a file name has 1 to 255 characters, no line breaks or slashes')
    const contentType = a.contentType ?? contentTypeOf(filename)
    if (!CONTENT_TYPE.test(contentType))
      throw invalidField(`${field}.contentType`, `"${contentType.slice(0, 80)}" is not a MIME type`)
    if (a.cid !== undefined && !CID.test(a.cid))
      throw invalidField(`${field}.cid`, 'a content id has no spaces, quotes or angle brackets')
    out.push(
      Object.freeze({
        filename,
        content,
        contentType,
        cid: a.cid,
        disposition: a.cid === undefined ? ('attachment' as const) : ('inline' as const),
      }),
    )
  }
  return out
}
