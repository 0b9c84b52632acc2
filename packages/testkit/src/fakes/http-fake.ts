// The base of the provider API stand-ins: a loopback HTTP server that records every request
// and answers from a route function, after any scripted answers (429s, 5xx) queued for the
// next requests. Each provider's file states its API as documented: paths, auth headers,
// bodies, error shapes and rate-limit responses.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface RecordedRequest {
  readonly method: string
  /** Path without the query. */
  readonly path: string
  readonly query: URLSearchParams
  readonly headers: IncomingHttpHeaders
  readonly body: Buffer
}

export interface FakeResponse {
  status: number
  /** An object is sent as JSON. */
  body?: string | object | undefined
  headers?: Record<string, string> | undefined
}

export interface HttpFake {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  readonly requests: RecordedRequest[]
  /** Answers the next requests with these, in order, before the route is consulted. */
  script(...responses: FakeResponse[]): void
  clear(): void
  stop(): Promise<void>
}

/** The value of a header as a string (first of repeated ones). */
export function header(req: RecordedRequest, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()]
  return Array.isArray(v) ? v[0] : v
}

/** The request body parsed as JSON, or undefined when it is not JSON. */
export function jsonBody(req: RecordedRequest): Record<string, unknown> | undefined {
  try {
    return JSON.parse(req.body.toString('utf8')) as Record<string, unknown>
  } catch {
    return undefined
  }
}

/** A form body (urlencoded or multipart), parsed the way a server would (Node's own Request). */
export async function formBody(req: RecordedRequest): Promise<FormData> {
  const type = header(req, 'content-type') ?? ''
  return new Request('http://fake/', {
    method: 'POST',
    headers: { 'content-type': type },
    body: new Uint8Array(req.body),
  }).formData()
}

export async function startHttpFake(
  route: (req: RecordedRequest) => FakeResponse | Promise<FakeResponse>,
): Promise<HttpFake> {
  const requests: RecordedRequest[] = []
  const scripted: FakeResponse[] = []
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake')
      const recorded: RecordedRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks),
      }
      requests.push(recorded)
      const next = scripted.shift()
      // A route that throws synchronously is answered 500 like one that rejects, never left hanging.
      new Promise<FakeResponse>((resolve) => resolve(next ?? route(recorded))).then(
        (r) => {
          const isJson = typeof r.body === 'object'
          const payload = r.body === undefined ? '' : isJson ? JSON.stringify(r.body) : String(r.body)
          res.writeHead(r.status, {
            ...(r.body !== undefined
              ? { 'content-type': isJson ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8' }
              : {}),
            ...r.headers,
          })
          res.end(payload)
        },
        (err: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' })
          res.end(`fake failed: ${(err as Error).message}`)
        },
      )
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    script: (...responses) => void scripted.push(...responses),
    clear() {
      requests.length = 0
      scripted.length = 0
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
