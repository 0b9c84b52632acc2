// A message tree from nodemailer's MailComposer written out in one synchronous pass. MailComposer
// decides everything a message says (structure, boundaries, every header and its encoding);
// this only concatenates what its streaming writer would emit, without the writer's streams,
// pipelines and a setImmediate per part, which cost more than the rest of a send together.

/** The parts of nodemailer's MimeNode the writer reads (the same fields since nodemailer 6). */
export interface MimeTree {
  readonly multipart?: string | false | undefined
  readonly boundary?: string | false | undefined
  readonly childNodes: readonly MimeTree[]
  readonly content?: unknown
  readonly _raw?: unknown
  readonly contentType?: string | false | undefined
  buildHeaders(): string
  getTransferEncoding(): string | false
}

/** A quoted-printable encoder stream of nodemailer's (`nodemailer/lib/qp`), as a Transform implements it. */
interface QpEncoder {
  push(chunk: unknown, encoding?: string): boolean
  _transform(chunk: Buffer, encoding: string, done: () => void): void
  _flush(done: () => void): void
}
/** nodemailer's quoted-printable module. */
export interface QuotedPrintable {
  Encoder: new (options: { lineLength: number; binary: boolean }) => unknown
}

/**
 * Quoted-printable exactly as nodemailer's writer streams it: its own encoder, given the whole
 * content as one chunk and then flushed, synchronously (its wrapping differs from `qp.wrap` at
 * line ends, and differs between nodemailer versions).
 */
function quotedPrintable(qp: QuotedPrintable, content: Buffer, binary: boolean): string {
  const encoder = new qp.Encoder({ lineLength: LINE, binary }) as QpEncoder
  const out: string[] = []
  encoder.push = (chunk) => {
    if (chunk !== null) out.push(String(chunk))
    return true
  }
  encoder._transform(content, 'buffer', () => {})
  encoder._flush(() => {})
  return out.join('')
}

const LINE = 76

function base64Lines(content: Buffer): string {
  const encoded = content.toString('base64')
  if (encoded.length <= LINE) return encoded
  const lines: string[] = []
  for (let at = 0; at < encoded.length; at += LINE) lines.push(encoded.slice(at, at + LINE))
  return lines.join('\r\n')
}

/**
 * The whole message as one buffer, or undefined when the tree holds something only the
 * streaming writer handles (a raw part, stream content): the caller then lets nodemailer build it.
 */
export function writeMime(root: MimeTree, qp: QuotedPrintable): Buffer | undefined {
  const parts: Array<string | Buffer> = []
  const write = (node: MimeTree): boolean => {
    if (node._raw !== undefined && node._raw !== null && node._raw !== false) return false
    const content = node.content
    if (
      content !== undefined &&
      content !== null &&
      content !== '' &&
      typeof content !== 'string' &&
      !Buffer.isBuffer(content)
    ) {
      return false
    }
    parts.push(`${node.buildHeaders()}\r\n\r\n`)
    const contentType = node.contentType || ''
    if (content) {
      const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : (content as Buffer)
      const encoding = node.getTransferEncoding()
      if (encoding === 'base64') parts.push(base64Lines(bytes))
      // Outside text a lone CR or LF is data, so it is encoded too (nodemailer's rule).
      else if (encoding === 'quoted-printable') parts.push(quotedPrintable(qp, bytes, !/^text\//i.test(contentType)))
      else parts.push(bytes)
    }
    if (node.multipart) {
      node.childNodes.forEach((child, i) => {
        parts.push(`${i > 0 ? '\r\n' : ''}--${String(node.boundary)}\r\n`)
        if (!write(child)) throw new Unwritable()
      })
      parts.push(`\r\n--${String(node.boundary)}--\r\n`)
    }
    return true
  }
  try {
    if (!write(root)) return undefined
  } catch (err) {
    if (err instanceof Unwritable) return undefined
    throw err
  }
  const last = parts[parts.length - 1]
  const lastByte = typeof last === 'string' ? last.charCodeAt(last.length - 1) : last?.[last.length - 1]
  // As nodemailer's writer does: the message ends with a line break.
  if (lastByte !== 0x0a) parts.push(lastByte === 0x0d ? '\n' : '\r\n')
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)))
}

class Unwritable extends Error {}
