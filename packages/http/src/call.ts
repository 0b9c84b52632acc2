import { randomUUID } from 'node:crypto'
import type { Readable } from 'node:stream'
import { toBytes, toMs } from '@beaver-kit/config'
import { prepareBody, type PreparedBody, type RequestBodyData } from './body.ts'
import { timeoutError, type HttpTimeoutError } from './errors.ts'
import type { ExchangeHandler, Hop } from './exchange.ts'
import { mergeHeaders } from './headers.ts'
import type { ClientSettings, RequestOptions } from './options.ts'
import { resolveTarget, safeUrl } from './url.ts'

const ABSOLUTE = /^https?:\/\/[^/?#]*/i
const IDEMPOTENCY_KEY = 'idempotency-key'

/**
 * Everything one call needs across its attempts, planned once from the client's settings and
 * the call's options. It is also the call's first hop (method, target, headers, body) and the
 * abort listener of the caller's signal.
 */
export class Call implements Hop {
  method: string
  origin = ''
  path = ''
  headers: Readonly<Record<string, string>>
  body: RequestBodyData = null
  route = ''
  /** True when the route is a template the caller named (params or `route`), not a plain path. */
  templated = false
  breakerKey: string | undefined = undefined
  signal: AbortSignal | undefined = undefined
  connectMs: number
  headersMs: number
  bodyMs: number
  totalMs: number
  deadlineAt = Infinity
  maxAttempts: number
  retryStatuses: ReadonlySet<number>
  stream = false
  maxSize: number
  throwHttpErrors: boolean
  redirect: 'follow' | 'manual' | 'error'
  maxRedirects: number
  context: Record<string, unknown> | undefined = undefined
  /** The exchange in flight (in stream mode: the one whose body is being read). */
  current: ExchangeHandler | undefined = undefined
  attempt = 1
  budgetDenied = false
  #timer: NodeJS.Timeout | undefined = undefined

  constructor(settings: ClientSettings, method: string) {
    this.method = method
    this.headers = settings.headers
    this.connectMs = settings.connectMs
    this.headersMs = settings.headersMs
    this.bodyMs = settings.bodyMs
    this.totalMs = settings.totalMs
    this.maxAttempts = settings.retryMethods.has(method) ? settings.maxAttempts : 1
    this.retryStatuses = settings.retryStatuses
    this.maxSize = settings.maxSize
    this.throwHttpErrors = settings.throwHttpErrors
    this.redirect = settings.redirect
    this.maxRedirects = settings.maxRedirects
  }

  /** Starts the deadline and listens to the caller's signal. */
  arm(): void {
    if (this.totalMs > 0) {
      this.deadlineAt = Date.now() + this.totalMs
      // A deadline guards work something else keeps alive (a socket, a backoff): it never holds the process itself.
      this.#timer = setTimeout(fireDeadline, this.totalMs, this)
      this.#timer.unref()
    }
    this.signal?.addEventListener('abort', this)
  }

  /** Stops the deadline and the abort listener: the call (and its body, in stream mode) is over. */
  disarm(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
    this.signal?.removeEventListener('abort', this)
  }

  /** The caller's signal aborted: abort the exchange in flight with its reason. */
  handleEvent(): void {
    const reason = this.signal?.reason as unknown
    this.current?.abort(reason instanceof Error ? reason : new Error(String(reason)))
  }

  deadlineError(): HttpTimeoutError {
    return timeoutError({
      method: this.method,
      url: safeUrl(this.origin, this.path),
      phase: 'total',
      timeoutMs: this.totalMs,
      attempts: this.attempt,
    })
  }
}

function fireDeadline(call: Call): void {
  call.current?.abort(call.deadlineError())
}

/**
 * Plans a call: its target, route, headers, body, retry and time limits. Synchronous unless
 * the body must be serialised first (FormData, Blob), so a plain GET allocates nothing more.
 */
export function planCall(
  settings: ClientSettings,
  method: string,
  url: string,
  options: RequestOptions | undefined,
): Call | Promise<Call> {
  const call = new Call(settings, method)
  if (options === undefined && !(settings.idempotencyKeys && (method === 'POST' || method === 'PATCH'))) {
    const target = resolveTarget(url, settings.base, undefined, undefined)
    call.origin = target.origin
    call.path = target.path
    return finish(settings, call, true)
  }
  const o = options ?? {}
  const pending = applyOptions(settings, call, url, o)
  if (pending === undefined) return finish(settings, call, o.breaker !== false)
  return pending.then((prepared) => {
    applyBody(call, prepared)
    return finish(settings, call, o.breaker !== false)
  })
}

function finish(settings: ClientSettings, call: Call, breaker: boolean): Call {
  call.route ||= routeOf(call.path)
  if (settings.breakerEnabled && breaker) call.breakerKey = breakerKeyOf(settings, call, call)
  return call
}

/** The breaker key of a hop: the caller's function, or the host, or method + host + route. */
export function breakerKeyOf(settings: ClientSettings, call: Call, hop: Hop): string {
  if (settings.breakerKey) return settings.breakerKey({ method: hop.method, origin: hop.origin, route: call.route })
  return settings.breakerScope === 'route' ? `${hop.method} ${hop.origin}${call.route}` : hop.origin
}

/** Applies per-call options; returns the body still being serialised (FormData, Blob), if any. */
function applyOptions(
  settings: ClientSettings,
  call: Call,
  url: string,
  o: RequestOptions,
): Promise<PreparedBody> | undefined {
  const target = resolveTarget(url, settings.base, o.params, o.query)
  call.origin = target.origin
  call.path = target.path
  if (o.route !== undefined) {
    call.route = o.route
    call.templated = true
  } else if (o.params !== undefined) {
    call.route = ABSOLUTE.test(url)
      ? routeOf(url.replace(ABSOLUTE, ''))
      : (settings.base?.path ?? '') + (url.charCodeAt(0) === 47 ? url : `/${url}`)
    call.templated = true
  }
  call.signal = o.signal
  call.context = o.context
  if (o.timeouts !== undefined) {
    const t = o.timeouts
    if (t.connect !== undefined) call.connectMs = toMs(t.connect, 'timeouts.connect')
    if (t.headers !== undefined) call.headersMs = toMs(t.headers, 'timeouts.headers')
    if (t.body !== undefined) call.bodyMs = toMs(t.body, 'timeouts.body')
    if (t.total !== undefined) call.totalMs = toMs(t.total, 'timeouts.total')
  }
  if (o.responseType === 'stream') call.stream = true
  if (o.throwHttpErrors !== undefined) call.throwHttpErrors = o.throwHttpErrors
  if (o.maxResponseSize !== undefined) call.maxSize = toBytes(o.maxResponseSize, 'maxResponseSize')
  if (o.redirect !== undefined) call.redirect = o.redirect
  if (o.maxRedirects !== undefined) call.maxRedirects = o.maxRedirects

  let headers = o.headers === undefined ? undefined : mergeHeaders(settings.headers, o.headers)
  const unsafe = !settings.retryMethods.has(call.method)
  let key = o.idempotencyKey === true ? randomUUID() : o.idempotencyKey
  if (key === undefined && unsafe && settings.idempotencyKeys && (call.method === 'POST' || call.method === 'PATCH')) {
    key = (headers ?? settings.headers)[IDEMPOTENCY_KEY] ?? randomUUID()
  }
  if (key !== undefined) (headers ??= { ...settings.headers })[IDEMPOTENCY_KEY] = key
  if (headers !== undefined) call.headers = headers
  const retryable =
    !unsafe || call.headers[IDEMPOTENCY_KEY] !== undefined || (o.retry !== false && o.retry?.unsafe === true)
  if (o.retry === false || !retryable) call.maxAttempts = 1
  else {
    call.maxAttempts = o.retry?.maxAttempts ?? settings.maxAttempts
    if (o.retry?.statuses !== undefined) call.retryStatuses = new Set(o.retry.statuses)
  }

  if (o.body === undefined && o.json === undefined) return undefined
  const prepared = prepareBody(o.body, o.json)
  if (prepared instanceof Promise) return prepared
  applyBody(call, prepared)
  return undefined
}

function applyBody(call: Call, prepared: PreparedBody): void {
  call.body = prepared.data
  if (prepared.contentType !== undefined && call.headers['content-type'] === undefined) {
    call.headers = { ...call.headers, 'content-type': prepared.contentType }
  }
  // A stream can be sent once: no retry can replay it.
  if (isStreamBody(prepared.data)) call.maxAttempts = 1
}

function routeOf(path: string): string {
  const q = path.indexOf('?')
  return q < 0 ? path : path.slice(0, q)
}

/** Whether `value` is a Readable (a body that can be sent once). */
export function isStreamBody(value: RequestBodyData): value is Readable {
  return value !== null && typeof value === 'object' && !(value instanceof Uint8Array)
}
