// Kit operations as spans, in one process: the server middleware, samplers, log correlation,
// span events from event channels, exclusions, errors and the queue's child mode.
import dc from 'node:diagnostics_channel'
import { createServer, request, type RequestListener } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace } from '@opentelemetry/api'
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace'
import { eventually } from '@beaver-kit/testkit'
import { createCache } from '@beaver-kit/cache'
import { createDatabase } from '@beaver-kit/database'
import { createHttpClient } from '@beaver-kit/http'
import { createLogger } from '@beaver-kit/logger'
import { createQueue } from '@beaver-kit/queue'
import { createTracing, traceRequests, tracingMiddleware, type Tracing, type TracingOptions } from '@beaver-kit/tracing'
import { certainDrop } from '../src/sampler.ts'

const open: Array<{ close(): Promise<void> }> = []
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close()
})

function setup(options: TracingOptions = {}): { tracing: Tracing; memory: InMemorySpanExporter } {
  const memory = new InMemorySpanExporter()
  const tracing = createTracing({
    envPrefix: false,
    spanProcessors: [new SimpleSpanProcessor({ exporter: memory })],
    ...options,
  })
  open.push(tracing)
  return { tracing, memory }
}

async function serve(listener: RequestListener): Promise<string> {
  const server = createServer(listener)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  open.push({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

function get(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, { headers, agent: false }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
      .on('error', reject)
      .end()
  })
}

const PARENT = '0af7651916cd43dd8448eb211c80319c'
const parentHeader = (flags: string): Record<string, string> => ({
  traceparent: `00-${PARENT}-b7ad6b7169203331-${flags}`,
})

describe('HTTP server middleware', () => {
  it('continues the caller’s trace, names the span by route, marks 5xx as errors, skips ignored requests', async () => {
    const { memory } = setup()
    const cache = createCache({ driver: 'memory', envPrefix: false })
    open.push(cache)
    const url = await serve(
      traceRequests(
        async (req, res) => {
          await cache.get('k')
          res.statusCode = req.url?.startsWith('/boom') ? 500 : 200
          res.end()
        },
        {
          route: (req) => (req.url?.startsWith('/users/') ? '/users/:id' : undefined),
          ignore: (req) => req.url === '/livez',
        },
      ),
    )
    expect(await get(`${url}/users/1?token=x`, parentHeader('01'))).toBe(200)
    expect(await get(`${url}/boom`)).toBe(500)
    expect(await get(`${url}/livez`)).toBe(200)
    await eventually(() => memory.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER).length === 2)
    const [users, boom] = memory.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER)
    expect(users?.name).toBe('GET /users/:id')
    expect(users?.spanContext().traceId).toBe(PARENT)
    expect(users?.parentSpanContext?.spanId).toBe('b7ad6b7169203331')
    expect(users?.attributes).toMatchObject({
      'url.path': '/users/1',
      'http.route': '/users/:id',
      'http.response.status_code': 200,
    })
    expect(JSON.stringify(users?.attributes)).not.toContain('token')
    expect(boom?.name).toBe('GET')
    expect(boom?.status.code).toBe(SpanStatusCode.ERROR)
    // The ignored probe's cache read is a root span of its own; the others are children.
    const parents = memory
      .getFinishedSpans()
      .filter((s) => s.name === 'cache.get')
      .map((s) => s.parentSpanContext?.spanId ?? 'root')
    expect(parents.sort()).toEqual([users?.spanContext().spanId, boom?.spanContext().spanId, 'root'].sort())
    // The payload's fields as attributes, but not the operation: it is the span's name.
    const read = memory.getFinishedSpans().find((s) => s.name === 'cache.get')
    expect(Object.keys(read?.attributes ?? {}).sort()).toEqual([
      'beaver.cache.driver',
      'beaver.cache.hit',
      'beaver.cache.namespace',
    ])
  })

  it('runs the rest of a Connect/Express chain inside the span and names it by the matched route', async () => {
    const { memory } = setup()
    const middleware = tracingMiddleware()
    let active: string | undefined
    const url = await serve((req, res) => {
      middleware(req, res, () => {
        active = trace.getActiveSpan()?.spanContext().spanId
        Object.assign(req, { baseUrl: '/api', route: { path: '/orders/:id' } })
        res.end()
      })
    })
    await get(`${url}/api/orders/9`)
    await eventually(() => memory.getFinishedSpans().length === 1)
    const [span] = memory.getFinishedSpans()
    expect(span?.name).toBe('GET /api/orders/:id')
    expect(span?.spanContext().spanId).toBe(active)
  })
})

describe('samplers', () => {
  it('ratio 0 records nothing at the root, and a sampled caller still wins under parentbased', async () => {
    const { memory } = setup({ sampler: 'parentbased_traceidratio', samplerArg: 0 })
    const cache = createCache({ driver: 'memory', envPrefix: false })
    open.push(cache)
    const url = await serve(traceRequests(async (_req, res) => res.end(String(await cache.get('k')))))
    await cache.get('root')
    await get(url)
    await get(url, parentHeader('00'))
    expect(memory.getFinishedSpans()).toEqual([])
    await get(url, parentHeader('01'))
    await eventually(() => memory.getFinishedSpans().length === 2)
    expect(memory.getFinishedSpans().every((s) => s.spanContext().traceId === PARENT)).toBe(true)
  })

  it('a certain drop makes no span at all; an HTTP call forwards an unsampled caller’s trace with sampled=0', async () => {
    const { memory } = setup({ sampler: 'parentbased_traceidratio', samplerArg: 0 })
    const cache = createCache({ driver: 'memory', envPrefix: false })
    const client = createHttpClient({ envPrefix: false })
    open.push(cache, client)
    let inside: unknown = 'not run'
    await cache.getOrSet('k', () => {
      inside = trace.getActiveSpan()
      return 1
    })
    // Not even a non-recording span: the loader runs in the caller's (empty) context.
    expect(inside).toBeUndefined()
    const headers: string[] = []
    const url = await serve((req, res) => {
      headers.push(String(req.headers.traceparent))
      res.end()
    })
    // At the root: no span, not even the channel observed, and no trace to carry.
    expect(dc.tracingChannel('beaver:http:request').hasSubscribers).toBe(false)
    await client.get(url).text()
    expect(headers).toEqual(['undefined'])
    // Inside an unsampled caller's request: its trace goes on, still unsampled, through the
    // server span the middleware made (which does not record either).
    let serverSpan: string | undefined
    const front = await serve(
      traceRequests(async (_req, res) => {
        serverSpan = trace.getActiveSpan()?.spanContext().spanId
        res.end(await client.get(url).text())
      }),
    )
    await get(front, parentHeader('00'))
    expect(headers[1]).toBe(`00-${PARENT}-${serverSpan}-00`)
    expect(memory.getFinishedSpans()).toEqual([])
    // Inside a sampled caller's request: the client span records and is the parent downstream.
    await get(front, parentHeader('01'))
    await eventually(() => memory.getFinishedSpans().length === 2)
    const clientSpan = memory.getFinishedSpans().find((s) => s.kind === SpanKind.CLIENT)
    expect(headers[2]).toBe(`00-${PARENT}-${clientSpan?.spanContext().spanId}-01`)
  })

  it('under a ratio between 0 and 1 an unsampled caller’s HTTP call makes no span and forwards its trace', async () => {
    const { memory } = setup({ sampler: 'parentbased_traceidratio', samplerArg: 0.5 })
    const client = createHttpClient({ envPrefix: false })
    open.push(client)
    const headers: string[] = []
    const url = await serve((req, res) => {
      headers.push(String(req.headers.traceparent))
      res.end()
    })
    // The channel is observed (a root may be sampled), but this call's parent is certainly dropped.
    expect(dc.tracingChannel('beaver:http:request').hasSubscribers).toBe(true)
    let serverSpan: string | undefined
    const front = await serve(
      traceRequests(async (_req, res) => {
        serverSpan = trace.getActiveSpan()?.spanContext().spanId
        res.end(await client.get(url).text())
      }),
    )
    await get(front, parentHeader('00'))
    expect(headers).toEqual([`00-${PARENT}-${serverSpan}-00`])
    expect(memory.getFinishedSpans()).toEqual([])
  })

  it('certainDrop knows the samplers whose answer does not need a trace id', () => {
    const sampled = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: PARENT,
      spanId: 'b7ad6b7169203331',
      traceFlags: TraceFlags.SAMPLED,
    })
    const unsampled = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: PARENT,
      spanId: 'b7ad6b7169203331',
      traceFlags: TraceFlags.NONE,
    })
    const table = (name: Parameters<typeof certainDrop>[0], ratio?: number) => {
      const drops = certainDrop(name, ratio)
      return drops && [drops(ROOT_CONTEXT), drops(sampled), drops(unsampled)]
    }
    expect(table('parentbased_traceidratio', 0)).toEqual([true, false, true])
    expect(table('parentbased_traceidratio', 0.5)).toEqual([false, false, true])
    expect(table('parentbased_always_on')).toEqual([false, false, true])
    expect(table('parentbased_always_off')).toEqual([true, false, true])
    expect(table('always_off')).toEqual([true, true, true])
    expect(table('traceidratio', 0)).toEqual([true, true, true])
    expect(table('traceidratio', 0.5)).toBeUndefined()
    expect(table('always_on')).toBeUndefined()
  })

  it('traceidratio 1 and always_off do what they say', async () => {
    const on = setup({ sampler: 'traceidratio', samplerArg: 1 })
    on.tracing.tracer.startSpan('a').end()
    expect(on.memory.getFinishedSpans()).toHaveLength(1)
    await on.tracing.close()
    const off = setup({ sampler: 'always_off' })
    off.tracing.tracer.startSpan('b').end()
    expect(off.memory.getFinishedSpans()).toHaveLength(0)
  })
})

describe('kit spans', () => {
  it('puts trace_id/span_id of the kit span in log lines written inside it', async () => {
    const { tracing, memory } = setup()
    const lines: string[] = []
    const log = createLogger({ envPrefix: false, outputs: [], sinks: [{ write: (l: string) => void lines.push(l) }] })
    open.push(log)
    const queue = createQueue({ driver: 'memory', envPrefix: false })
    open.push(queue)
    await queue.consume('mails', () => void log.info('handling'))
    await tracing.tracer.startActiveSpan('signup', async (span) => {
      log.info('publishing')
      await queue.publish('mails', { to: 'x' })
      span.end()
    })
    await eventually(() => lines.length === 2)
    await log.flush()
    const [publishing, handling] = lines.map((l) => JSON.parse(l) as { trace_id?: string; span_id?: string })
    const signup = memory.getFinishedSpans().find((s) => s.name === 'signup')
    await eventually(() => memory.getFinishedSpans().some((s) => s.name === 'process mails'))
    const consumer = memory.getFinishedSpans().find((s) => s.name === 'process mails')
    expect(publishing).toMatchObject({ trace_id: signup?.spanContext().traceId, span_id: signup?.spanContext().spanId })
    expect(handling).toMatchObject({
      trace_id: consumer?.spanContext().traceId,
      span_id: consumer?.spanContext().spanId,
    })
  })

  it('makes the consumer a child of the producer with queueConsumer: child', async () => {
    const { tracing, memory } = setup({ queueConsumer: 'child' })
    const queue = createQueue({ driver: 'memory', envPrefix: false })
    open.push(queue)
    await queue.consume('jobs', () => undefined)
    await tracing.tracer.startActiveSpan('enqueue', async (span) => {
      await queue.publishBatch('jobs', [{ payload: 1 }, { payload: 2 }])
      span.end()
    })
    await eventually(() => memory.getFinishedSpans().filter((s) => s.kind === SpanKind.CONSUMER).length === 2)
    const producer = memory.getFinishedSpans().find((s) => s.kind === SpanKind.PRODUCER)
    expect(producer?.attributes['messaging.batch.message_count']).toBe(2)
    for (const consumer of memory.getFinishedSpans().filter((s) => s.kind === SpanKind.CONSUMER)) {
      expect(consumer.parentSpanContext?.spanId).toBe(producer?.spanContext().spanId)
      expect(consumer.links.map((l) => l.context.spanId)).toEqual([producer?.spanContext().spanId])
    }
  })

  it('records a failed query with its error, and never its parameters', async () => {
    const { memory } = setup()
    const db = createDatabase({ url: 'sqlite::memory:', envPrefix: false })
    open.push(db)
    await expect(db.query('SELECT * FROM missing WHERE email = ?', ['secret@example.com'])).rejects.toThrow()
    const [span] = memory.getFinishedSpans()
    expect(span?.status.code).toBe(SpanStatusCode.ERROR)
    expect(span?.attributes['db.query.text']).toBe('SELECT * FROM missing WHERE email = ?')
    expect(span?.events.map((e) => e.name)).toContain('exception')
    expect(JSON.stringify(span?.attributes)).not.toContain('secret@example.com')
  })

  it('adds event channels as span events (http retries) and leaves excluded channels alone', async () => {
    const { tracing, memory } = setup({ exclude: ['cache', 'http:request'] })
    const cache = createCache({ driver: 'memory', envPrefix: false })
    open.push(cache)
    let calls = 0
    const url = await serve((_req, res) => {
      calls++
      res.statusCode = calls === 1 ? 503 : 200
      res.end()
    })
    const client = createHttpClient({ envPrefix: false, retry: { baseDelay: 1 } })
    open.push(client)
    await tracing.tracer.startActiveSpan('job', async (span) => {
      await cache.get('k')
      await client.get(url)
      span.end()
    })
    const spans = memory.getFinishedSpans()
    expect(spans.map((s) => s.name)).toEqual(['job'])
    expect(spans[0]?.events.map((e) => [e.name, e.attributes?.['beaver.http.status']])).toEqual([['http.retry', 503]])
  })

  it('cuts long statements and leaves them out with dbStatement: false', async () => {
    const long = setup({ dbStatementMaxLength: 16 })
    const db = createDatabase({ url: 'sqlite::memory:', envPrefix: false })
    open.push(db)
    await db.query('SELECT 1 AS one, 2 AS two, 3 AS three')
    expect(long.memory.getFinishedSpans()[0]?.attributes['db.query.text']).toBe('SELECT 1 AS one…')
    await long.tracing.close()
    const without = setup({ dbStatement: false })
    await db.query('SELECT 1')
    expect(without.memory.getFinishedSpans()[0]?.attributes).not.toHaveProperty('db.query.text')
  })
})
