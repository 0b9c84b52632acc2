// W3C trace context for messages a package sends (queue headers), read from OpenTelemetry's
// global registration without importing @opentelemetry/api: the api keeps its context manager
// and propagator on this global (one per major version, shared by every installed copy), and
// the span on a context under a Symbol.for key. A process without OpenTelemetry pays one read.
const OTEL_GLOBAL = Symbol.for('opentelemetry.js.api.1')
const SPAN_KEY = Symbol.for('OpenTelemetry Context Key SPAN')

interface OtelContext {
  getValue(key: symbol): unknown
}
interface Setter {
  set(carrier: Record<string, string>, key: string, value: string): void
}
interface OtelGlobal {
  context?: { active(): OtelContext }
  propagation?: {
    inject(context: OtelContext, carrier: Record<string, string>, setter: Setter): void
  }
}
interface SpanLike {
  spanContext(): { traceId: string; spanId: string; traceFlags: number; traceState?: { serialize(): string } }
}

const setter: Setter = {
  set(carrier: Record<string, string>, key: string, value: string): void {
    carrier[key] = value
  },
}
const TRACE_ID = /^(?!0{32})[0-9a-f]{32}$/
const SPAN_ID = /^(?!0{16})[0-9a-f]{16}$/

/**
 * The W3C `traceparent` (and `tracestate`, `baggage` when a propagator adds them) of the active
 * OpenTelemetry span, through the registered propagator when there is one; undefined when no
 * span is active or OpenTelemetry is not set up. Queue publishing puts them in message headers.
 */
export function activeTraceHeaders(): Record<string, string> | undefined {
  const otel = (globalThis as Record<symbol, OtelGlobal | undefined>)[OTEL_GLOBAL]
  const active = otel?.context?.active()
  if (active === undefined) return undefined
  const span = active.getValue(SPAN_KEY) as SpanLike | undefined
  if (span === undefined) return undefined
  const sc = span.spanContext()
  if (!TRACE_ID.test(sc.traceId) || !SPAN_ID.test(sc.spanId)) return undefined
  const carrier: Record<string, string> = {}
  otel?.propagation?.inject(active, carrier, setter)
  if (carrier.traceparent === undefined) {
    carrier.traceparent = `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, '0')}`
    const state = sc.traceState?.serialize()
    if (state) carrier.tracestate = state
  }
  return carrier
}
