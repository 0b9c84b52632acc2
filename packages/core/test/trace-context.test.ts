import { afterEach, describe, expect, it } from 'vitest'
import { activeTraceHeaders } from '../src/index.ts'

// The layout @opentelemetry/api 1.x keeps on its global; the queue tests use the real api.
const OTEL_GLOBAL = Symbol.for('opentelemetry.js.api.1')
const SPAN_KEY = Symbol.for('OpenTelemetry Context Key SPAN')
const store = globalThis as Record<symbol, unknown>
const saved = store[OTEL_GLOBAL]

afterEach(() => {
  store[OTEL_GLOBAL] = saved
})

function withActiveSpan(spanContext: object, propagation?: object): void {
  const span = { spanContext: () => spanContext }
  const active = { getValue: (key: symbol) => (key === SPAN_KEY ? span : undefined) }
  store[OTEL_GLOBAL] = { version: '1.9.0', context: { active: () => active }, propagation }
}

describe('activeTraceHeaders', () => {
  it('is undefined without OpenTelemetry, without a context manager, or without an active span', () => {
    store[OTEL_GLOBAL] = undefined
    expect(activeTraceHeaders()).toBeUndefined()
    store[OTEL_GLOBAL] = { version: '1.9.0' }
    expect(activeTraceHeaders()).toBeUndefined()
    store[OTEL_GLOBAL] = { version: '1.9.0', context: { active: () => ({ getValue: () => undefined }) } }
    expect(activeTraceHeaders()).toBeUndefined()
  })

  it('writes traceparent and tracestate itself when no propagator is registered', () => {
    withActiveSpan({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: 1,
      traceState: { serialize: () => 'vendor=1' },
    })
    expect(activeTraceHeaders()).toEqual({
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      tracestate: 'vendor=1',
    })
  })

  it('refuses an invalid span context (all-zero ids)', () => {
    withActiveSpan({ traceId: '0'.repeat(32), spanId: 'b7ad6b7169203331', traceFlags: 1 })
    expect(activeTraceHeaders()).toBeUndefined()
    withActiveSpan({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: '0'.repeat(16), traceFlags: 0 })
    expect(activeTraceHeaders()).toBeUndefined()
  })

  it('lets the registered propagator write the headers (baggage included)', () => {
    withActiveSpan(
      { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 0 },
      {
        inject(_ctx: unknown, carrier: Record<string, string>, setter: { set(c: object, k: string, v: string): void }) {
          setter.set(carrier, 'traceparent', 'from-propagator')
          setter.set(carrier, 'baggage', 'tenant=a')
        },
      },
    )
    expect(activeTraceHeaders()).toEqual({ traceparent: 'from-propagator', baggage: 'tenant=a' })
  })
})
