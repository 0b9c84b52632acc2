import type { IncomingMessage, ServerResponse } from 'node:http'

/** An answer the client gets as it is: status and message (never an internal detail). */
export class HttpProblem extends Error {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message)
    this.status = status
    this.headers = headers
  }
}

/** Largest request body read. */
export const MAX_BODY = 16_384

/** The request body as text, at most MAX_BODY bytes. */
export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_BODY) throw new HttpProblem(413, `body over ${MAX_BODY / 1024} KiB`)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** The request body as JSON, at most MAX_BODY bytes. */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const text = await readBody(req)
  try {
    return JSON.parse(text) as unknown
  } catch {
    throw new HttpProblem(400, 'body must be JSON')
  }
}

/** Sends a JSON body (Node leaves it out for HEAD, keeping the headers). Returns the status. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): number {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  })
  res.end(text)
  return status
}
