import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks'
import { createRequire } from 'node:module'

/** Fields carried by every line logged inside `withLogContext()`. */
export type LogContext = Record<string, unknown>

const KEY = Symbol.for('beaver-kit.logger.context')
const holder = globalThis as typeof globalThis & { [KEY]?: AsyncLocalStorage<LogContext> }
// One store per process, so two copies of the package still see each other's context.
const storage: AsyncLocalStorage<LogContext> = (holder[KEY] ??= new AsyncLocalStorage<LogContext>())

/**
 * Runs `fn` with `fields` added to every line logged inside it, across await, timers, event
 * emitters and streams created inside. Nested calls add to (and may override) the outer fields.
 * @example
 * await withLogContext({ requestId: req.headers['x-request-id'] }, () => handle(req, res))
 */
export function withLogContext<T>(fields: LogContext, fn: () => T): T {
  const outer = storage.getStore()
  return storage.run(outer === undefined ? { ...fields } : { ...outer, ...fields }, fn)
}

/** Adds fields to the current context (e.g. `userId` once authenticated); false outside any context. */
export function setLogContext(fields: LogContext): boolean {
  const store = storage.getStore()
  if (store === undefined) return false
  Object.assign(store, fields)
  return true
}

/** The fields of the current context (a copy), or undefined outside any. */
export function getLogContext(): LogContext | undefined {
  const store = storage.getStore()
  return store === undefined ? undefined : { ...store }
}

/**
 * Binds `fn` to the current context, for callbacks that run from somewhere else: a listener
 * on a long-lived emitter, a queue consumer, a pool callback.
 */
export function bindLogContext<F extends (...args: never[]) => unknown>(fn: F): F {
  return AsyncResource.bind(fn as unknown as (...args: unknown[]) => unknown) as unknown as F
}

// --- OpenTelemetry ----------------------------------------------------------------------
// The api keeps its registrations on this global; while nobody registered a context manager
// the peer is not even loaded, so a process without OpenTelemetry pays one property read.
const OTEL_GLOBAL = Symbol.for('opentelemetry.js.api.1')
interface OtelSpanContext {
  traceId: string
  spanId: string
  traceFlags: number
}
interface OtelApi {
  trace: { getActiveSpan(): { spanContext(): OtelSpanContext } | undefined }
}
let otelApi: OtelApi | null | undefined

function loadOtel(): OtelApi | null {
  try {
    // Synchronous on purpose: a log call cannot wait. The api keeps its state on a global,
    // so this copy sees the spans of whichever copy the application imported.
    return createRequire(import.meta.url)('@opentelemetry/api') as OtelApi
  } catch {
    return null // not installed: trace correlation is simply off (documented)
  }
}

/** trace_id/span_id of the active span, or undefined. */
export function activeTraceIds(): { trace_id: string; span_id: string; trace_flags: string } | undefined {
  const g = (globalThis as Record<symbol, { context?: unknown } | undefined>)[OTEL_GLOBAL]
  if (g === undefined || g.context === undefined) return undefined
  otelApi ??= loadOtel()
  if (otelApi === null) return undefined
  const span = otelApi.trace.getActiveSpan()
  if (span === undefined) return undefined
  const { traceId, spanId, traceFlags } = span.spanContext()
  return { trace_id: traceId, span_id: spanId, trace_flags: traceFlags.toString(16).padStart(2, '0') }
}

/**
 * The fields of the current context (and trace ids) as a reader called once per line; undefined
 * when there are none. Not a copy: the caller must not mutate it.
 */
export function contextReader(withOtel: boolean): () => LogContext | undefined {
  if (!withOtel) {
    return function logContext() {
      return storage.getStore()
    }
  }
  return function logContextWithTrace() {
    const store = storage.getStore()
    const ids = activeTraceIds()
    if (ids === undefined) return store
    return store === undefined ? ids : { ...store, ...ids }
  }
}
