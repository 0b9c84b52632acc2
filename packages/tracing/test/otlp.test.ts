// Spans exported over OTLP/HTTP to a receiver in the test, from this process and from a second
// one (support/downstream.ts, configured by OTEL_* env alone): parent/child across an HTTP call,
// database and cache spans under the server span, and a queue consumer linked to its producer.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace'
import { SimpleSpanProcessor } from '@opentelemetry/sdk-trace'
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer'
import { eventually } from '@beaver-kit/testkit'
import { createHttpClient } from '@beaver-kit/http'
import { createQueue } from '@beaver-kit/queue'
import { createTracing } from '@beaver-kit/tracing'
import { KIND, startReceiver, type ReceivedSpan, type Receiver } from './support/otlp-receiver.ts'

const dir = mkdtempSync(join(tmpdir(), 'beaver-tracing-otlp-'))
const downstream = fileURLToPath(new URL('./support/downstream.ts', import.meta.url))
let receiver: Receiver
let child: ChildProcess
let port: number

beforeAll(async () => {
  receiver = await startReceiver()
  child = spawn(process.execPath, ['--conditions=@beaver-kit/source', downstream], {
    env: {
      ...process.env,
      OTEL_SERVICE_NAME: 'downstream',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '50',
      BEAVER_TRACING_REQUIRE_PARENT: 'database',
      DOWNSTREAM_DB_URL: `sqlite:${join(dir, 'app.db')}`,
      DOWNSTREAM_QUEUE_URL: `sqlite:${join(dir, 'queue.db')}`,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  port = await new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      if (out.includes('\n')) resolve(Number(out.trim()))
    })
    child.once('exit', (code) => reject(new Error(`downstream exited with ${code}`)))
  })
}, 60_000)

afterAll(async () => {
  if (child.exitCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await exited
  }
  await receiver.close()
  rmSync(dir, { recursive: true, force: true })
})

const one = (spans: ReceivedSpan[], pick: (s: ReceivedSpan) => boolean, what: string): ReceivedSpan => {
  const found = spans.filter(pick)
  if (found.length !== 1)
    throw new Error(
      `expected one ${what}, found ${found.length}: ${JSON.stringify(spans.map((s) => [s.service, s.name]))}`,
    )
  return found[0] as ReceivedSpan
}

describe('OTLP export across two processes', () => {
  it(
    'links client → server → db/cache spans, and a consumer to its producer, with semantic attributes',
    { timeout: 90_000 },
    async () => {
      await using tracing = createTracing({
        envPrefix: false,
        serviceName: 'upstream',
        exporter: 'otlp',
        otlp: { tracesEndpoint: `${receiver.url}/v1/traces`, protocol: 'http/json' },
        batch: { scheduleDelay: 50 },
        requireParent: ['database'],
      })
      await tracing.ready()
      await using client = createHttpClient({ envPrefix: false, baseUrl: `http://127.0.0.1:${port}` })
      await using queue = createQueue({
        driver: 'sqlite',
        envPrefix: false,
        db: { url: `sqlite:${join(dir, 'queue.db')}` },
      })
      const checkoutId = await tracing.tracer.startActiveSpan('checkout', async (span) => {
        expect(await client.get('/users/:id', { params: { id: 7 } }).json()).toEqual({ rows: 1 })
        await queue.publish('orders', { n: 1 })
        span.end()
        return span.spanContext().spanId
      })
      await tracing.flush()
      await eventually(
        () => receiver.spans().filter((s) => s.service === 'downstream' && s.name === 'cache.get').length >= 2,
        { timeoutMs: 60_000 },
      )
      const spans = receiver.spans()
      const checkout = one(spans, (s) => s.spanId === checkoutId, 'checkout span')
      expect(checkout).toMatchObject({ service: 'upstream', parentSpanId: '' })
      const trace = checkout.traceId

      const clientSpan = one(spans, (s) => s.kind === KIND.CLIENT && s.name === 'GET', 'http client span')
      expect(clientSpan).toMatchObject({ service: 'upstream', traceId: trace, parentSpanId: checkout.spanId })
      expect(clientSpan.attributes).toMatchObject({
        'http.request.method': 'GET',
        'http.response.status_code': 200,
        'server.address': '127.0.0.1',
        'server.port': port,
        'url.full': `http://127.0.0.1:${port}/users/:id`,
      })

      const server = one(spans, (s) => s.kind === KIND.SERVER, 'server span')
      expect(server).toMatchObject({
        service: 'downstream',
        name: 'GET /users/:id',
        traceId: trace,
        parentSpanId: clientSpan.spanId,
      })
      expect(server.attributes).toMatchObject({ 'http.route': '/users/:id', 'http.response.status_code': 200 })

      const inServer = spans.filter((s) => s.service === 'downstream' && s.parentSpanId === server.spanId)
      const query = one(inServer, (s) => s.name === 'SELECT', 'db span')
      expect(query.kind).toBe(KIND.CLIENT)
      expect(query.attributes).toMatchObject({
        'db.system.name': 'sqlite',
        'db.operation.name': 'SELECT',
        'db.query.text': 'SELECT email FROM users WHERE id = ?',
        'db.response.returned_rows': 1,
      })
      expect(one(inServer, (s) => s.name === 'cache.get', 'cache span in the request').attributes).toMatchObject({
        'beaver.cache.driver': 'memory',
        'beaver.cache.hit': false,
      })

      const producer = one(spans, (s) => s.kind === KIND.PRODUCER, 'producer span')
      expect(producer).toMatchObject({
        service: 'upstream',
        name: 'publish orders',
        traceId: trace,
        parentSpanId: checkout.spanId,
      })
      expect(producer.attributes).toMatchObject({
        'messaging.destination.name': 'orders',
        'messaging.operation.type': 'send',
      })
      const consumer = one(spans, (s) => s.kind === KIND.CONSUMER, 'consumer span')
      expect(consumer).toMatchObject({ service: 'downstream', name: 'process orders', parentSpanId: '' })
      expect(consumer.traceId).not.toBe(trace)
      expect(consumer.links).toEqual([{ traceId: trace, spanId: producer.spanId }])
      expect(consumer.attributes).toMatchObject({
        'messaging.message.id': producer.attributes['messaging.message.id'],
        'beaver.queue.outcome': 'completed',
      })
      one(spans, (s) => s.name === 'cache.get' && s.parentSpanId === consumer.spanId, 'cache span in the handler')

      // Parameters never leave the process: the row's e-mail was bound, never part of a statement.
      expect(receiver.requests.some((r) => r.body.includes('secret@example.com'))).toBe(false)
      expect(receiver.requests.every((r) => r.path === '/v1/traces')).toBe(true)
    },
  )

  it('sends OTLP http/protobuf: the official serializer’s bytes for the same spans', { timeout: 30_000 }, async () => {
    const memory = new InMemorySpanExporter()
    const before = receiver.requests.length
    await using tracing = createTracing({
      envPrefix: false,
      serviceName: 'proto',
      exporter: 'otlp',
      otlp: { endpoint: receiver.url },
      spanProcessors: [new SimpleSpanProcessor({ exporter: memory })],
      batch: { scheduleDelay: 60_000 },
    })
    tracing.tracer.startActiveSpan('outer', (outer) => {
      tracing.tracer.startSpan('inner').end()
      outer.end()
    })
    await tracing.flush()
    const sent = receiver.requests.slice(before)
    expect(sent.map((r) => [r.path, r.contentType])).toEqual([['/v1/traces', 'application/x-protobuf']])
    const expected = ProtobufTraceSerializer.serializeRequest(memory.getFinishedSpans())
    expect(Buffer.compare(sent[0]?.body ?? Buffer.alloc(0), Buffer.from(expected ?? []))).toBe(0)
    expect(tracing.stats()).toMatchObject({ exported: 2, failed: 0 })
  })

  it('counts a failing collector and publishes beaver:tracing:exportFailed', { timeout: 30_000 }, async () => {
    receiver.failWith(400)
    try {
      await using tracing = createTracing({
        envPrefix: false,
        exporter: 'otlp',
        otlp: { endpoint: receiver.url, protocol: 'http/json' },
      })
      const failed: unknown[] = []
      const { channels } = await import('@beaver-kit/tracing')
      const onFail = (m: unknown): void => void failed.push(m)
      channels.exportFailed.subscribe(onFail)
      tracing.tracer.startSpan('lost').end()
      await expect(tracing.flush()).rejects.toMatchObject({ code: 'TRACING_EXPORT_FAILED' })
      channels.exportFailed.unsubscribe(onFail)
      expect(tracing.stats()).toMatchObject({ exported: 0, failed: 1, failures: 1 })
      expect(failed).toMatchObject([{ exporter: 'otlp http/json', spans: 1 }])
    } finally {
      receiver.failWith(undefined)
    }
  })
})
