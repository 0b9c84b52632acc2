import { BeaverError, errorGuard, type BeaverErrorOptions } from '@beaver-kit/core'

/** Every code `@beaver-kit/http` throws. */
export type HttpErrorCode =
  | 'HTTP_STATUS'
  | 'HTTP_TIMEOUT'
  | 'HTTP_NETWORK'
  | 'HTTP_CIRCUIT_OPEN'
  | 'HTTP_RETRY_BUDGET_EXCEEDED'
  | 'HTTP_BULKHEAD_FULL'
  | 'HTTP_RESPONSE_TOO_LARGE'
  | 'HTTP_REDIRECT'
  | 'HTTP_INVALID_REQUEST'
  | 'HTTP_CLOSED'
  | 'HTTP_EGRESS_DENIED'

/** The phase a timeout fired in: connecting, waiting for headers, between body chunks, or the call's deadline. */
export type TimeoutPhase = 'connect' | 'headers' | 'body' | 'total'

/**
 * Base class of every failure of `@beaver-kit/http`: `details` carries `method`, `url` (without
 * query string or credentials) and, once known, `attempts`.
 */
export class HttpRequestError extends BeaverError<HttpErrorCode> {}

/** The response headers, as undici gives them: lower-case names, repeated ones as arrays. */
export type ResponseHeaders = Readonly<Record<string, string | string[] | undefined>>

/**
 * A response with a status >= 400 (when `throwHttpErrors` is on), after retries. Carries the
 * status, headers, the first KiB of the body and the request id the server or the client set.
 */
export class HttpError extends HttpRequestError {
  readonly status: number
  readonly headers: ResponseHeaders
  /** The first 1024 characters of the body as text. */
  readonly bodyExcerpt: string
  readonly requestId: string | undefined
  constructor(
    message: string,
    init: { status: number; headers: ResponseHeaders; bodyExcerpt: string; requestId: string | undefined },
    options: BeaverErrorOptions = {},
  ) {
    super('HTTP_STATUS', message, options)
    this.status = init.status
    this.headers = init.headers
    this.bodyExcerpt = init.bodyExcerpt
    this.requestId = init.requestId
  }
}

/** A timeout, naming its phase (`connect`, `headers`, `body` or `total`) and its limit in ms. */
export class HttpTimeoutError extends HttpRequestError {
  readonly phase: TimeoutPhase
  readonly timeoutMs: number
  constructor(message: string, phase: TimeoutPhase, timeoutMs: number, options: BeaverErrorOptions = {}) {
    super('HTTP_TIMEOUT', message, options)
    this.phase = phase
    this.timeoutMs = timeoutMs
  }
}

const PHASE_TEXT = {
  connect: 'connecting',
  headers: 'waiting for the response headers',
  body: 'waiting for the next chunk of the body',
  total: 'the call deadline (all attempts, backoff, redirects and the body)',
} as const

/** What a timeout is about; `details` gets every field. */
export interface TimeoutInit {
  method: string
  /** The URL without query string or credentials. */
  url: string
  phase: TimeoutPhase
  timeoutMs: number
  attempts?: number | undefined
  cause?: unknown
  causeCode?: string | undefined
}

/** The one place an `HttpTimeoutError` is built: same message and details for every phase. */
export function timeoutError(init: TimeoutInit): HttpTimeoutError {
  const { method, url, phase, timeoutMs, attempts, cause, causeCode } = init
  return new HttpTimeoutError(
    `${method} ${url} timed out after ${timeoutMs} ms ${PHASE_TEXT[phase]} (phase ${phase})`,
    phase,
    timeoutMs,
    { cause, details: { method, url, phase, timeoutMs, attempts, causeCode } },
  )
}

/** A transport failure (refused, reset, DNS, TLS, socket closed mid-body); `cause` is undici's own error. */
export class HttpNetworkError extends HttpRequestError {
  /** undici's or the socket's code, e.g. `ECONNREFUSED`, `UND_ERR_SOCKET`. */
  readonly causeCode: string | undefined
  constructor(message: string, causeCode: string | undefined, options: BeaverErrorOptions = {}) {
    super('HTTP_NETWORK', message, options)
    this.causeCode = causeCode
  }
}

/** The breaker of `key` is open (or its half-open trials are taken): failed fast, the network untouched. */
export class CircuitOpenError extends HttpRequestError {
  readonly key: string
  /** When the breaker lets trial calls through (ms since epoch). */
  readonly retryAt: number
  constructor(message: string, key: string, retryAt: number, options: BeaverErrorOptions = {}) {
    super('HTTP_CIRCUIT_OPEN', message, options)
    this.key = key
    this.retryAt = retryAt
  }
}

/** A retry was due but the host's retry budget is spent; `cause` is the failure that was not retried. */
export class RetryBudgetExceededError extends HttpRequestError {
  constructor(message: string, options: BeaverErrorOptions = {}) {
    super('HTTP_RETRY_BUDGET_EXCEEDED', message, options)
  }
}

/** Guard for every error of this package, optionally narrowed to codes: `isHttpRequestError(e, 'HTTP_TIMEOUT')`. */
export const isHttpRequestError = errorGuard<HttpErrorCode, HttpRequestError>('HTTP_')

/** True for an `HttpError` (a response status >= 400), by brand and code, not `instanceof`. */
export function isHttpError(err: unknown): err is HttpError {
  return isHttpRequestError(err, 'HTTP_STATUS')
}

/** True for an `HttpTimeoutError`. */
export function isHttpTimeoutError(err: unknown): err is HttpTimeoutError {
  return isHttpRequestError(err, 'HTTP_TIMEOUT')
}

/** True for an `HttpNetworkError`. */
export function isHttpNetworkError(err: unknown): err is HttpNetworkError {
  return isHttpRequestError(err, 'HTTP_NETWORK')
}

/** True for a `CircuitOpenError`. */
export function isCircuitOpenError(err: unknown): err is CircuitOpenError {
  return isHttpRequestError(err, 'HTTP_CIRCUIT_OPEN')
}

/** True for a `RetryBudgetExceededError`. */
export function isRetryBudgetExceededError(err: unknown): err is RetryBudgetExceededError {
  return isHttpRequestError(err, 'HTTP_RETRY_BUDGET_EXCEEDED')
}
