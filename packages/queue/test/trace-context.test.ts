import { afterEach, describe, expect, it } from 'vitest'
import dc from 'node:diagnostics_channel'
import { context, propagation, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { eventually } from '@beaver-kit/testkit'
import { createQueue, type Message } from '../src/index.ts'

afterEach(() => {
  context.disable()
  propagation.disable()
})

const span = trace.wrapSpanContext({
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  traceFlags: 1,
})

describe('W3C trace context on messages', () => {
  it('carries the publishing span in headers and hands it to beaver:queue:handle', async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
    propagation.setGlobalPropagator(new W3CTraceContextPropagator())
    const handled: Array<{ traceparent?: string }> = []
    const handlers = {
      start: (m: unknown) => void handled.push({ ...(m as { traceparent?: string }) }),
      end: () => undefined,
      asyncStart: () => undefined,
      asyncEnd: () => undefined,
      error: () => undefined,
    }
    const channel = dc.tracingChannel('beaver:queue:handle')
    channel.subscribe(handlers)
    await using q = createQueue({ driver: 'memory', envPrefix: false })
    const seen: Message<string>[] = []
    await q.consume('traced', (m: Message<string>) => void seen.push(m))
    await context.with(trace.setSpan(context.active(), span), () => q.publish('traced', 'in span'))
    await q.publish('traced', 'outside')
    await context.with(trace.setSpan(context.active(), span), () =>
      q.publish('traced', 'own', {
        headers: { traceparent: '00-11111111111111111111111111111111-2222222222222222-00' },
      }),
    )
    await eventually(() => seen.length === 3, { timeoutMs: 10_000 })
    channel.unsubscribe(handlers)
    const byPayload = Object.fromEntries(seen.map((m) => [m.payload, m.headers.traceparent]))
    expect(byPayload).toEqual({
      'in span': '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      outside: undefined,
      own: '00-11111111111111111111111111111111-2222222222222222-00',
    })
    expect(handled.map((h) => h.traceparent).sort()).toEqual(Object.values(byPayload).sort())
  })

  it('adds nothing when propagateTrace is off', async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
    await using q = createQueue({ driver: 'memory', envPrefix: false, propagateTrace: false })
    const seen: Message<string>[] = []
    await q.consume('untraced', (m: Message<string>) => void seen.push(m))
    await context.with(trace.setSpan(context.active(), span), () => q.publish('untraced', 'x'))
    await eventually(() => seen.length === 1, { timeoutMs: 10_000 })
    expect(seen[0]?.headers.traceparent).toBeUndefined()
  })
})
