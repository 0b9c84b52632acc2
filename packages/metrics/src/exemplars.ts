import { isSpanContextValid, trace, TraceFlags } from '@opentelemetry/api'

/**
 * The trace and span id of the active, sampled span (from @opentelemetry/api, which
 * @beaver-kit/tracing and any OpenTelemetry SDK set), as OpenMetrics exemplar labels.
 */
export function activeTraceExemplar(): Record<string, string> | undefined {
  const span = trace.getActiveSpan()
  if (span === undefined) return undefined
  const context = span.spanContext()
  if (!isSpanContextValid(context) || (context.traceFlags & TraceFlags.SAMPLED) === 0) return undefined
  return { trace_id: context.traceId, span_id: context.spanId }
}
