// Failed kit operations as error spans, and the console exporter.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { SpanKind, SpanStatusCode } from '@opentelemetry/api'
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace'
import { eventually } from '@beaver-kit/testkit'
import { createHttpClient } from '@beaver-kit/http'
import { createQueue } from '@beaver-kit/queue'
import { createTracing, type Tracing } from '@beaver-kit/tracing'

const open: Array<{ close(): Promise<void> }> = []
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close()
  vi.restoreAllMocks()
})

function setup(): { tracing: Tracing; memory: InMemorySpanExporter } {
  const memory = new InMemorySpanExporter()
  const tracing = createTracing({ envPrefix: false, spanProcessors: [new SimpleSpanProcessor({ exporter: memory })] })
  open.push(tracing)
  return { tracing, memory }
}

describe('failed operations', () => {
  it('marks an HTTP call that got no response with its error code', async () => {
    const { memory } = setup()
    const client = createHttpClient({ envPrefix: false, retry: { maxAttempts: 1 } })
    open.push(client)
    await expect(client.get('http://127.0.0.1:1/nothing')).rejects.toThrow()
    const span = memory.getFinishedSpans().find((s) => s.kind === SpanKind.CLIENT)
    expect(span?.status.code).toBe(SpanStatusCode.ERROR)
    expect(span?.attributes).toMatchObject({ 'error.type': 'HTTP_NETWORK', 'server.port': 1 })
    expect(span?.attributes).not.toHaveProperty('http.response.status_code')
  })

  it('marks a handler that failed for good as an error with its outcome', async () => {
    const { memory } = setup()
    const queue = createQueue({ driver: 'memory', envPrefix: false })
    open.push(queue)
    await queue.consume('fails', () => {
      throw new Error('no')
    })
    await queue.publish('fails', 1, { attempts: 1 })
    await eventually(() => memory.getFinishedSpans().some((s) => s.kind === SpanKind.CONSUMER))
    const span = memory.getFinishedSpans().find((s) => s.kind === SpanKind.CONSUMER)
    expect(span?.attributes['beaver.queue.outcome']).toBe('dead')
    expect(span?.status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'dead' })
  })
})

describe('console exporter', () => {
  it('prints each span as it ends', async () => {
    const printed: unknown[] = []
    vi.spyOn(console, 'dir').mockImplementation((value: unknown) => void printed.push(value))
    const tracing = createTracing({ envPrefix: false, exporter: 'console', serviceName: 'printed' })
    open.push(tracing)
    await tracing.ready()
    tracing.tracer.startSpan('shown').end()
    await tracing.flush()
    expect(JSON.stringify(printed)).toContain('shown')
    expect(tracing.stats()).toMatchObject({ exported: 1 })
  })
})
