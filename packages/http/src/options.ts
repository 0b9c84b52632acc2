import type { Bytes, Duration, InstanceOptions } from '@beaver-kit/config'
import type { Dispatcher } from 'undici'
import type { RequestBodyInit } from './body.ts'
import type { BreakerStateChange } from './breaker.ts'
import type { RetryEvent } from './channels.ts'
import type { HttpConfig, HttpSchemaOptions } from './config.ts'
import { ACCEPT_ENCODING } from './decompress.ts'
import type { Interceptor } from './interceptors.ts'
import type { HttpResponse } from './response.ts'
import { splitBase, type QueryParams, type Target } from './url.ts'

/** Per-phase timeouts: ms, or durations such as `250ms`, `5s`. */
export interface TimeoutOptions {
  connect?: Duration
  headers?: Duration
  body?: Duration
  total?: Duration
}

/** Per-call retry settings; `false` turns retries off for the call. */
export interface RequestRetryOptions {
  maxAttempts?: number
  /** Retry this call even though its method is not idempotent (you know the server dedupes it). */
  unsafe?: boolean
  statuses?: readonly number[]
}

/** Options of one call; each overrides the client's setting for this call only. */
export interface RequestOptions {
  /** Header names are case-insensitive: they are lower-cased once, here. `undefined` removes a default. */
  headers?: Readonly<Record<string, string | undefined>>
  query?: QueryParams
  /** Values for `:name` segments of the path: `get('/users/:id', { params: { id } })`. Encoded; `.`, `..` and empty refused. */
  params?: Readonly<Record<string, string | number>>
  /** Sent as JSON with `content-type: application/json`. */
  json?: unknown
  body?: RequestBodyInit
  signal?: AbortSignal
  timeouts?: TimeoutOptions
  retry?: false | RequestRetryOptions
  /** An Idempotency-Key for this call (`true` generates one); makes POST/PATCH retryable. */
  idempotencyKey?: string | true
  /** `false` bypasses the circuit breaker for this call. */
  breaker?: boolean
  /**
   * `buffer` (default): the body is read within the attempt; `stream`: `response.body` is a
   * Readable, still bounded by the call deadline, the idle timeout and `maxResponseSize`.
   */
  responseType?: 'buffer' | 'stream'
  throwHttpErrors?: boolean
  maxResponseSize?: Bytes
  redirect?: 'follow' | 'manual' | 'error'
  maxRedirects?: number
  /** The route template for events and per-route breakers when the path was built by hand. */
  route?: string
  /** Free-form data handed to interceptors. */
  context?: Record<string, unknown>
}

/** What a custom breaker key function sees. */
export interface BreakerKeyInput {
  method: string
  origin: string
  route: string
}

/** TLS settings only code can pass (the CA itself may also come from `BEAVER_HTTP_TLS_CA`/`_FILE`). */
export interface TlsOptions {
  /** Extra trusted CA certificates (PEM), added to the system's. */
  ca?: string | Buffer | readonly (string | Buffer)[]
  /** A client certificate and key (PEM) for mutual TLS. */
  cert?: string | Buffer
  key?: string | Buffer
}

/** Options of `createHttpClient`: every env setting, where the environment comes from, and what only code can pass. */
export type HttpClientOptions = Omit<HttpSchemaOptions, 'breaker' | 'retry' | 'egress' | 'tls'> &
  InstanceOptions & {
    /** A dispatcher to send through (a MockAgent in tests, a ProxyAgent, your own Agent); never closed by the client. */
    dispatcher?: Dispatcher
    /** Interceptors, in execution order. */
    interceptors?: readonly Interceptor[]
    retry?: HttpSchemaOptions['retry'] & {
      /** Called before each backoff. */
      onRetry?: (info: RetryEvent) => void
    }
    breaker?: HttpSchemaOptions['breaker'] & {
      /** Your own breaker key (per tenant, per upstream service, ...). */
      key?: (input: BreakerKeyInput) => string
      onStateChange?: (change: BreakerStateChange) => void
    }
    /** A header that carries the remaining deadline in ms to the server (e.g. `x-request-timeout-ms`). */
    deadlineHeader?: string
    /**
     * Where connections may go, checked on the resolved address of every connection (so every
     * redirect hop, DNS rebinding and numeric spellings such as `2130706433` are covered).
     * `deny: 'private'` refuses loopback, private, link-local (cloud metadata) and reserved ranges.
     */
    egress?: {
      /** `'private'`, CIDRs/IPs, or both: `['private', '100.100.0.0/16']`. */
      deny?: 'private' | readonly string[]
      /** Host names (`api.internal`, `*.corp.example`) or CIDRs let through despite `deny`. */
      allow?: readonly string[]
    }
    tls?: TlsOptions
  }

/** A call's response promise, with shortcuts: `await client.get(url).json<User>()`. */
export interface ResponsePromise extends Promise<HttpResponse> {
  json<T = unknown>(): Promise<T>
  text(): Promise<string>
  bytes(): Promise<Buffer>
}

/** The resolved settings every call starts from, decided once at creation. */
export interface ClientSettings {
  readonly base: Target | undefined
  /** Default headers, lower-case names (user agent and accept-encoding included). */
  readonly headers: Readonly<Record<string, string>>
  readonly connectMs: number
  readonly headersMs: number
  readonly bodyMs: number
  readonly totalMs: number
  readonly maxAttempts: number
  readonly retryMethods: ReadonlySet<string>
  readonly retryStatuses: ReadonlySet<number>
  readonly idempotencyKeys: boolean
  readonly maxSize: number
  readonly throwHttpErrors: boolean
  readonly redirect: 'follow' | 'manual' | 'error'
  readonly maxRedirects: number
  readonly redirectDowngrade: boolean
  readonly decompress: boolean
  readonly propagateTrace: boolean
  readonly breakerEnabled: boolean
  readonly breakerScope: 'host' | 'route'
  readonly breakerKey: ((input: BreakerKeyInput) => string) | undefined
  /** Lower-case, or undefined for none. */
  readonly deadlineHeader: string | undefined
}

/** Turns the resolved configuration and the code-only options into the settings calls read. */
export function clientSettings(c: HttpConfig, options: HttpClientOptions): ClientSettings {
  const headers: Record<string, string> = { 'user-agent': c.userAgent }
  if (c.decompress) headers['accept-encoding'] = ACCEPT_ENCODING
  Object.assign(headers, c.headers)
  return Object.freeze({
    base: c.baseUrl === undefined ? undefined : splitBase(c.baseUrl),
    headers: Object.freeze(headers),
    connectMs: c.timeouts.connect,
    headersMs: c.timeouts.headers,
    bodyMs: c.timeouts.body,
    totalMs: c.timeouts.total,
    maxAttempts: c.retry.maxAttempts,
    retryMethods: new Set(c.retry.methods),
    retryStatuses: new Set(c.retry.statuses.map(Number)),
    idempotencyKeys: c.retry.idempotencyKeys,
    maxSize: c.limits.maxResponseSize,
    throwHttpErrors: c.throwHttpErrors,
    redirect: c.redirect,
    maxRedirects: c.limits.maxRedirects,
    redirectDowngrade: c.redirectDowngrade,
    decompress: c.decompress,
    propagateTrace: c.propagateTrace,
    breakerEnabled: c.breaker.enabled,
    breakerScope: c.breaker.scope,
    breakerKey: options.breaker?.key,
    deadlineHeader: options.deadlineHeader?.toLowerCase(),
  })
}
