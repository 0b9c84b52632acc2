// A local OTLP/HTTP receiver for the tests: a node:http server on a spare port that keeps every
// export request (path, content type, raw body) and decodes the JSON encoding into flat spans.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ReceivedRequest {
  path: string
  contentType: string
  body: Buffer
}

/** One span as the OTLP JSON encoding carries it, flattened with its resource's service.name. */
export interface ReceivedSpan {
  service: string
  name: string
  kind: number
  traceId: string
  spanId: string
  parentSpanId: string
  attributes: Record<string, string | number | boolean>
  links: Array<{ traceId: string; spanId: string }>
  events: Array<{ name: string; attributes: Record<string, string | number | boolean> }>
  status: { code?: number; message?: string }
}

/** OTLP span kinds (SPAN_KIND_*). */
export const KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 } as const

interface AnyValue {
  stringValue?: string
  intValue?: number | string
  doubleValue?: number
  boolValue?: boolean
}
type KeyValue = { key: string; value: AnyValue }

function flatten(list: KeyValue[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {}
  for (const { key, value } of list ?? []) {
    out[key] =
      value.stringValue ??
      (value.intValue === undefined ? undefined : Number(value.intValue)) ??
      value.doubleValue ??
      value.boolValue ??
      ''
  }
  return out
}

interface JsonRequest {
  resourceSpans?: Array<{
    resource?: { attributes?: KeyValue[] }
    scopeSpans?: Array<{
      spans?: Array<{
        name: string
        kind: number
        traceId: string
        spanId: string
        parentSpanId?: string
        attributes?: KeyValue[]
        links?: Array<{ traceId: string; spanId: string }>
        events?: Array<{ name: string; attributes?: KeyValue[] }>
        status?: { code?: number; message?: string }
      }>
    }>
  }>
}

/** Flat spans of an OTLP JSON export request body. */
export function decodeJson(body: Buffer): ReceivedSpan[] {
  const request = JSON.parse(body.toString('utf8')) as JsonRequest
  const out: ReceivedSpan[] = []
  for (const rs of request.resourceSpans ?? []) {
    const service = String(flatten(rs.resource?.attributes)['service.name'] ?? '')
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          service,
          name: s.name,
          kind: s.kind,
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId ?? '',
          attributes: flatten(s.attributes),
          links: (s.links ?? []).map((l) => ({ traceId: l.traceId, spanId: l.spanId })),
          events: (s.events ?? []).map((e) => ({ name: e.name, attributes: flatten(e.attributes) })),
          status: s.status ?? {},
        })
      }
    }
  }
  return out
}

export interface Receiver {
  readonly url: string
  readonly requests: ReceivedRequest[]
  /** Every span received so far in JSON requests. */
  spans(): ReceivedSpan[]
  /** Answer the next exports with this status (503 to play a collector that is down). */
  failWith(status: number | undefined): void
  close(): Promise<void>
}

export async function startReceiver(): Promise<Receiver> {
  const requests: ReceivedRequest[] = []
  let failure: number | undefined
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      if (failure !== undefined) {
        res.writeHead(failure).end()
        return
      }
      requests.push({
        path: req.url ?? '',
        contentType: req.headers['content-type'] ?? '',
        body: Buffer.concat(chunks),
      })
      const json = (req.headers['content-type'] ?? '').includes('json')
      res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' }).end(json ? '{}' : '')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    spans: () => requests.filter((r) => r.contentType.includes('json')).flatMap((r) => decodeJson(r.body)),
    failWith(status) {
      failure = status
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
