import type { IncomingMessage, ServerResponse } from 'node:http'
import type { HeaderBag } from './signatures.ts'

/** A webhook request as the handlers see it, whatever server received it: the body as raw bytes (signatures cover them). */
export interface WebhookRequest {
  readonly method: string
  /** The full URL the provider called (Twilio signs it), or the path when the host is unknown. */
  readonly url: string
  readonly headers: HeaderBag
  readonly body: Buffer
}

/** What a webhook handler answers. */
export interface WebhookReply {
  readonly status: number
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: string
}

/** The body is larger than the limit; the adapter answers 413. */
export class BodyTooLargeError extends RangeError {
  readonly limit: number
  constructor(limit: number) {
    super(`The request body is larger than ${limit} bytes`)
    this.limit = limit
  }
}

/** Reads a request body, refusing (and dropping the rest of) anything past `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'])
    if (Number.isFinite(declared) && declared > limit) {
      req.resume()
      reject(new BodyTooLargeError(limit))
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        req.removeAllListeners('data')
        req.resume()
        reject(new BodyTooLargeError(limit))
        return
      }
      chunks.push(chunk)
    })
    req.once('end', () => resolve(Buffer.concat(chunks)))
    req.once('error', reject)
  })
}

/** The URL a request was made to, from its Host header and the `publicUrl` base when set (behind a proxy). */
export function requestUrl(req: IncomingMessage, publicUrl?: string): string {
  const path = req.url ?? '/'
  if (publicUrl) return new URL(path, publicUrl).href
  const host = req.headers.host
  const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true
  return host ? `${encrypted ? 'https' : 'http'}://${host}${path}` : path
}

export interface NodeAdapterOptions {
  /** Largest body accepted. Default 1 MiB (providers batch up to a few hundred KiB of events). */
  limit?: number
  /** The public base URL the provider calls (`https://api.example.com`), when a proxy changes Host or scheme. */
  publicUrl?: string
  /** Told about a handler failure that became a 500. */
  onError?: (error: unknown) => void
}

/**
 * Turns a webhook handler into a `node:http` (and Express/Fastify raw) request listener: reads
 * the raw body within a limit, calls the handler, writes its reply; 413 past the limit, 500
 * on an unexpected failure (reported to `onError`), so the provider retries later.
 */
export function toNodeHandler(
  handle: (request: WebhookRequest) => Promise<WebhookReply>,
  options: NodeAdapterOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const { limit = 1024 * 1024, publicUrl, onError } = options
  const reply = (res: ServerResponse, r: WebhookReply): void => {
    res.writeHead(r.status, { 'content-type': 'text/plain; charset=utf-8', ...r.headers })
    res.end(r.body ?? '')
  }
  return function webhookListener(req, res) {
    readBody(req, limit)
      .then((body) =>
        handle({ method: req.method ?? 'POST', url: requestUrl(req, publicUrl), headers: req.headers, body }),
      )
      .then(
        (r) => reply(res, r),
        (error: unknown) => {
          if (error instanceof BodyTooLargeError) return reply(res, { status: 413, body: error.message })
          onError?.(error)
          reply(res, { status: 500, body: 'webhook handler failed' })
        },
      )
  }
}
