import type * as OtelModule from '@opentelemetry/api'
import { importPeer, isCoreError } from '@beaver-kit/core'

type OtelApi = typeof OtelModule

/** `undefined` while loading, `null` when not installed, the API once loaded. */
let api: OtelApi | null | undefined
let loading: Promise<void> | undefined
let loadError: unknown

/**
 * Loads the optional `@opentelemetry/api` peer once per process. Its absence is normal
 * (no OTel, nothing to propagate); any other failure is kept and reported by `client.ready()`.
 */
export function loadOtel(): Promise<void> {
  loading ??= importPeer(
    '@opentelemetry/api',
    () => import('@opentelemetry/api'),
    'traceparent propagation in @beaver-kit/http',
  ).then(
    (loaded) => {
      api = loaded
    },
    (error: unknown) => {
      api = null
      if (!isCoreError(error, 'CORE_PEER_MISSING')) loadError = error
    },
  )
  return loading
}

/** True once the OTel load has settled (whatever the outcome). */
export function otelSettled(): boolean {
  return api !== undefined
}

/** The error that made loading `@opentelemetry/api` fail, other than its absence. */
export function otelLoadError(): unknown {
  return loadError
}

/**
 * Adds W3C `traceparent` (and `tracestate`) for the active OpenTelemetry span, through the
 * registered propagator when there is one, and directly otherwise. Returns the headers to
 * send: the same object when nothing was added, a copy otherwise.
 */
export function withTraceHeaders(headers: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  if (!api || headers.traceparent !== undefined) return headers
  const active = api.context.active()
  const span = api.trace.getSpan(active)
  if (span === undefined) return headers
  const sc = span.spanContext()
  if (!api.isSpanContextValid(sc)) return headers
  const out: Record<string, string> = { ...headers }
  api.propagation.inject(active, out)
  if (out.traceparent === undefined) {
    out.traceparent = `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, '0')}`
    const state = sc.traceState?.serialize()
    if (state) out.tracestate = state
  }
  return out
}
