// Kit operations that can only be recorded inside a trace subscribe to their channels only while
// a span records: outside any sampled trace a cache read or a query pays nothing for tracing.
import dc from 'node:diagnostics_channel'
import { afterEach, describe, expect, it } from 'vitest'
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace'
import { ROOT_CONTEXT, trace } from '@opentelemetry/api'
import { eventually } from '@beaver-kit/testkit'
import { createCache } from '@beaver-kit/cache'
import { createTracing, type TracingOptions } from '@beaver-kit/tracing'
import { RecordingGate } from '../src/recording-gate.ts'
import { recordedOnlyInTrace } from '../src/sampler.ts'

const open: Array<{ close(): Promise<void> }> = []
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close()
})

const cacheGet = dc.tracingChannel('beaver:cache:get')

function setup(options: TracingOptions): InMemorySpanExporter {
  const memory = new InMemorySpanExporter()
  open.push(
    createTracing({ envPrefix: false, spanProcessors: [new SimpleSpanProcessor({ exporter: memory })], ...options }),
  )
  return memory
}

describe('RecordingGate', () => {
  it('subscribes at the first recording span, once, and unsubscribes after the last one ended and the linger passed', async () => {
    const gate = new RecordingGate(20)
    let subscribed = 0
    let unsubscribed = 0
    gate.add(() => {
      subscribed++
      return () => void unsubscribed++
    })
    expect([gate.open, subscribed]).toEqual([false, 0])
    gate.onStart()
    gate.onStart()
    expect([gate.open, subscribed]).toEqual([true, 1])
    gate.onEnd()
    gate.onEnd()
    // Lingering: a span that starts now keeps the same subscription.
    gate.onStart()
    gate.onEnd()
    expect([gate.open, subscribed, unsubscribed]).toEqual([true, 1, 0])
    await eventually(() => !gate.open)
    expect([subscribed, unsubscribed]).toEqual([1, 1])
    // A subscription added while open is made at once, and dropped with its own undo.
    gate.onStart()
    let late = 0
    const drop = gate.add(() => {
      late++
      return () => void late--
    })
    expect([subscribed, late]).toEqual([2, 1])
    drop()
    expect(late).toBe(0)
    await gate.shutdown()
    expect([gate.open, unsubscribed]).toEqual([false, 2])
  })

  it('gates every package when roots are dropped, requireParent packages under a parent-based sampler, none otherwise', () => {
    const table = (gated: (pkg: string) => boolean) => ['cache', 'database'].map(gated)
    expect(table(recordedOnlyInTrace('parentbased_traceidratio', 0, []))).toEqual([true, true])
    expect(table(recordedOnlyInTrace('always_off', undefined, []))).toEqual([true, true])
    expect(table(recordedOnlyInTrace('traceidratio', 0, []))).toEqual([true, true])
    expect(table(recordedOnlyInTrace('parentbased_always_on', undefined, ['database']))).toEqual([false, true])
    expect(table(recordedOnlyInTrace('parentbased_traceidratio', 0.5, []))).toEqual([false, false])
    // Outside parent-based sampling a child of an unsampled parent may still be sampled.
    expect(table(recordedOnlyInTrace('traceidratio', 0.5, ['database']))).toEqual([false, false])
  })
})

describe('kit channels behind the gate', () => {
  it('at ratio 0 a cache read is unobserved outside a trace and traced inside a sampled one', async () => {
    const memory = setup({ sampler: 'parentbased_traceidratio', samplerArg: 0 })
    const cache = createCache({ driver: 'memory', envPrefix: false })
    open.push(cache)
    await cache.get('outside')
    expect(cacheGet.hasSubscribers).toBe(false)
    const tracer = trace.getTracer('test')
    // A caller's sampled trace continued here (as the server middleware does).
    const sampled = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: 1,
      isRemote: true,
    })
    let inside = false
    await tracer.startActiveSpan('request', {}, sampled, async (span) => {
      inside = cacheGet.hasSubscribers
      await cache.get('inside')
      span.end()
    })
    expect(inside).toBe(true)
    const names = memory.getFinishedSpans().map((s) => s.name)
    expect(names).toContain('request')
    expect(names.filter((n) => n !== 'request')).toHaveLength(1)
    expect(memory.getFinishedSpans().every((s) => s.spanContext().traceId === '0af7651916cd43dd8448eb211c80319c')).toBe(
      true,
    )
  })

  it('sampling roots keeps the channels subscribed all the time', async () => {
    const memory = setup({})
    const cache = createCache({ driver: 'memory', envPrefix: false })
    open.push(cache)
    expect(cacheGet.hasSubscribers).toBe(true)
    await cache.get('root')
    expect(memory.getFinishedSpans()).toHaveLength(1)
  })
})
