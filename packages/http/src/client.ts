import { randomUUID } from 'node:crypto'
import type { Readable } from 'node:stream'
import { retry, parseRetryAfter, traceAsync, type RetryInfo } from '@beaver-kit/core'
import { ConfigError, parseBytes, parseDuration, resolveConfig, type ResolvedConfig } from '@beaver-kit/config'
import { Agent, type Dispatcher } from 'undici'
import { prepareBody, type PreparedBody, type RequestBodyData, type RequestBodyInit } from './body.ts'
import { REJECTED, type BreakerStateChange, type CircuitBreaker } from './breaker.ts'
import { BreakerRegistry } from './breaker-registry.ts'
import { Bulkhead } from './bulkhead.ts'
import { channels, type RequestEvent, type RetryEvent } from './channels.ts'
import { httpSchema, type HttpConfig, type HttpSchemaOptions } from './config.ts'
import { ACCEPT_ENCODING } from './decompress.ts'
import { EgressGuard } from './egress.ts'
import {
  CircuitOpenError,
  HttpError,
  HttpRequestError,
  HttpTimeoutError,
  RetryBudgetExceededError,
  isHttpRequestError,
  type HttpErrorCode,
} from './errors.ts'
import { runChain, type HttpRequest, type Interceptor } from './interceptors.ts'
import { type HttpResponse } from './response.ts'
import { RetryBudget } from './retry-budget.ts'
import { loadOtel, otelLoadError, otelSettled, withTraceHeaders } from './trace-context.ts'
import { ExchangeHandler, type Exchange } from './transport.ts'
import { resolveTarget, safeUrl, splitBase, type QueryParams, type Target } from './url.ts'

/** Per-phase timeouts; numbers are ms, strings are durations (`250ms`, `5s`). */
export interface TimeoutOptions {
  connect?: number | string
  headers?: number | string
  body?: number | string
  total?: number | string
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
  headers?: Readonly<Record<string, string | undefined>>
  query?: QueryParams
  /** Values for `:name` segments of the path: `get('/users/:id', { params: { id } })`. */
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
  /** `buffer` (default): the body is read within the attempt; `stream`: `response.body` is a Readable. */
  responseType?: 'buffer' | 'stream'
  throwHttpErrors?: boolean
  maxResponseSize?: number | string
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

/** Options of `createHttpClient`: every env setting, plus what only code can pass. */
export type HttpClientOptions = Omit<HttpSchemaOptions, 'breaker' | 'retry' | 'egress'> & {
  /** `USER_` reads USER_HTTP_*; `false` reads no environment. */
  envPrefix?: string | false
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
}

/** A call's response promise, with shortcuts: `await client.get(url).json<User>()`. */
export interface ResponsePromise extends Promise<HttpResponse> {
  json<T = unknown>(): Promise<T>
  text(): Promise<string>
  bytes(): Promise<Buffer>
}

interface HostState {
  budget: RetryBudget
  bulkhead: Bulkhead | undefined
  breaker: CircuitBreaker | undefined
}

const NO_OPTIONS: RequestOptions = Object.freeze({})
const ABSOLUTE = /^https?:\/\/[^/?#]*/i
const REDIRECTS = new Set([301, 302, 303, 307, 308])
const IDEMPOTENCY_KEY = 'idempotency-key'
const REQUEST_ID_HEADERS = ['x-request-id', 'request-id', 'x-amzn-requestid', 'x-correlation-id', 'cf-ray']

/** Everything one call needs across its attempts; also the abort listener of the caller's signal. */
class Call {
  method: string
  origin: string
  path: string
  headers: Readonly<Record<string, string>>
  body: RequestBodyData
  route: string
  breakerKey: string | undefined
  signal: AbortSignal | undefined
  connectMs: number
  headersMs: number
  bodyMs: number
  totalMs: number
  deadlineAt: number
  maxAttempts: number
  retryStatuses: ReadonlySet<number>
  stream: boolean
  maxSize: number
  throwHttpErrors: boolean
  redirect: 'follow' | 'manual' | 'error'
  maxRedirects: number
  context: Record<string, unknown> | undefined
  templated: boolean
  current: ExchangeHandler | undefined = undefined
  attempt = 1
  budgetDenied = false
  timer: NodeJS.Timeout | undefined = undefined

  constructor(client: ClientDefaults, method: string) {
    this.method = method
    this.origin = ''
    this.path = ''
    this.headers = client.headers
    this.body = null
    this.route = ''
    this.breakerKey = undefined
    this.signal = undefined
    this.connectMs = client.connectMs
    this.headersMs = client.headersMs
    this.bodyMs = client.bodyMs
    this.totalMs = client.totalMs
    this.deadlineAt = Infinity
    this.maxAttempts = client.retryMethods.has(method) ? client.maxAttempts : 1
    this.retryStatuses = client.retryStatuses
    this.stream = false
    this.maxSize = client.maxSize
    this.throwHttpErrors = client.throwHttpErrors
    this.redirect = client.redirect
    this.maxRedirects = client.maxRedirects
    this.context = undefined
    this.templated = false
  }

  /** The caller's signal aborted: abort the exchange in flight with its reason. */
  handleEvent(): void {
    const reason = this.signal?.reason as unknown
    this.current?.abort(reason instanceof Error ? reason : new Error(String(reason)))
  }

  deadlineError(): HttpTimeoutError {
    const url = safeUrl(this.origin, this.path)
    return new HttpTimeoutError(
      `${this.method} ${url} timed out after ${this.totalMs} ms: the call deadline (all attempts) passed (phase total)`,
      'total',
      this.totalMs,
      { details: { method: this.method, url, phase: 'total', timeoutMs: this.totalMs, attempts: this.attempt } },
    )
  }
}

function fireDeadline(call: Call): void {
  call.timer = undefined
  call.current?.abort(call.deadlineError())
}

/** The resolved settings every call starts from (decided once, at creation). */
interface ClientDefaults {
  headers: Readonly<Record<string, string>>
  connectMs: number
  headersMs: number
  bodyMs: number
  totalMs: number
  maxAttempts: number
  retryMethods: ReadonlySet<string>
  retryStatuses: ReadonlySet<number>
  maxSize: number
  throwHttpErrors: boolean
  redirect: 'follow' | 'manual' | 'error'
  maxRedirects: number
}

/**
 * An HTTP client on undici's pooled dispatchers, with per-phase timeouts and a call deadline,
 * retries with backoff and a retry budget, a circuit breaker and a bulkhead per host, and
 * interceptors. Build it with `createHttpClient()` or use the default `http()`.
 */
export class HttpClient {
  /** The resolved configuration (frozen). */
  readonly config: HttpConfig
  /** The circuit breakers, to read, export, restore or reset. */
  readonly breakers: BreakerRegistry
  readonly #resolved: ResolvedConfig<HttpConfig>
  readonly #defaults: ClientDefaults
  readonly #base: Target | undefined
  readonly #dispatcher: Dispatcher
  readonly #ownDispatcher: boolean
  readonly #agents = new Map<number, Agent>()
  readonly #interceptors: Interceptor[]
  readonly #hosts = new Map<string, HostState>()
  readonly #keyFn: ((input: BreakerKeyInput) => string) | undefined
  readonly #onRetry: ((info: RetryEvent) => void) | undefined
  readonly #deadlineHeader: string | undefined
  readonly #egress: EgressGuard | undefined
  #closing: Promise<void> | undefined

  constructor(options: HttpClientOptions = {}) {
    const { envPrefix, dispatcher, interceptors = [], deadlineHeader } = options
    this.#resolved = resolveConfig(httpSchema, { options: options as HttpSchemaOptions, envPrefix })
    const c = (this.config = this.#resolved.values)
    this.#base = c.baseUrl === undefined ? undefined : splitBase(c.baseUrl)
    const headers: Record<string, string> = { 'user-agent': c.userAgent }
    if (c.decompress) headers['accept-encoding'] = ACCEPT_ENCODING
    Object.assign(headers, c.headers)
    this.#defaults = {
      headers: Object.freeze(headers),
      connectMs: c.timeouts.connect,
      headersMs: c.timeouts.headers,
      bodyMs: c.timeouts.body,
      totalMs: c.timeouts.total,
      maxAttempts: c.retry.maxAttempts,
      retryMethods: new Set(c.retry.methods),
      retryStatuses: new Set(c.retry.statuses.map(Number)),
      maxSize: c.limits.maxResponseSize,
      throwHttpErrors: c.throwHttpErrors,
      redirect: c.redirect,
      maxRedirects: c.limits.maxRedirects,
    }
    this.#egress = c.egress.deny.length === 0 ? undefined : new EgressGuard(c.egress)
    if (this.#egress !== undefined && dispatcher !== undefined) {
      throw new ConfigError('HTTP client', [
        {
          name: 'option dispatcher',
          found: undefined,
          expected:
            "no custom dispatcher while egress.deny (BEAVER_HTTP_EGRESS_DENY) is set: the egress guard checks addresses on the connections of the client's own pool, and cannot see where another dispatcher connects. Drop one of the two",
        },
      ])
    }
    this.#ownDispatcher = dispatcher === undefined
    this.#dispatcher = dispatcher ?? this.#agentFor(c.timeouts.connect)
    this.#interceptors = [...interceptors]
    this.#keyFn = options.breaker?.key
    this.#onRetry = options.retry?.onRetry
    this.#deadlineHeader = deadlineHeader?.toLowerCase()
    this.breakers = new BreakerRegistry(
      {
        consecutiveFailures: c.breaker.consecutiveFailures,
        failureRate: c.breaker.failureRate,
        minimumRequests: c.breaker.minimumRequests,
        windowMs: c.breaker.window,
        openMs: c.breaker.openDuration,
        maxOpenMs: c.breaker.maxOpenDuration,
        halfOpenTrials: c.breaker.halfOpenTrials,
      },
      options.breaker?.onStateChange,
    )
    if (c.propagateTrace) void loadOtel()
  }

  /** The resolved settings with their sources, secrets masked. */
  describe(): string {
    return this.#resolved.describe()
  }

  /** Resolves once optional parts are loaded; rejects if `@opentelemetry/api` is installed but failed to load. */
  async ready(): Promise<void> {
    if (this.config.propagateTrace) await loadOtel()
    const error = otelLoadError()
    if (error !== undefined) throw error
  }

  /**
   * Adds an interceptor at the end of the chain (it runs after those registered before it).
   * Returns the function that removes it.
   */
  use(interceptor: Interceptor): () => void {
    this.#interceptors.push(interceptor)
    return () => {
      const i = this.#interceptors.indexOf(interceptor)
      if (i >= 0) this.#interceptors.splice(i, 1)
    }
  }

  /** `GET` a URL or a path under `baseUrl`. @example const user = await http().get('/users/:id', { params: { id } }).json<User>() */
  get(url: string, options?: RequestOptions): ResponsePromise {
    return this.request('GET', url, options)
  }

  /** `HEAD`: status and headers only. */
  head(url: string, options?: RequestOptions): ResponsePromise {
    return this.request('HEAD', url, options)
  }

  /** `POST`: not retried unless it has an Idempotency-Key or `retry: { unsafe: true }`. */
  post(url: string, options?: RequestOptions): ResponsePromise {
    return this.request('POST', url, options)
  }

  /** `PUT` (idempotent: retried). */
  put(url: string, options?: RequestOptions): ResponsePromise {
    return this.request('PUT', url, options)
  }

  /** `PATCH`: not retried unless it has an Idempotency-Key or `retry: { unsafe: true }`. */
  patch(url: string, options?: RequestOptions): ResponsePromise {
    return this.request('PATCH', url, options)
  }

  /** `DELETE` (idempotent: retried). */
  delete(url: string, options?: RequestOptions): ResponsePromise {
    return this.request('DELETE', url, options)
  }

  /** `OPTIONS`. */
  options(url: string, options?: RequestOptions): ResponsePromise {
    return this.request('OPTIONS', url, options)
  }

  /**
   * Sends one call: interceptors, breaker, bulkhead and retries included. Resolves with the
   * response (body read, unless `responseType: 'stream'`); rejects with an `HttpRequestError`.
   * @example const res = await client.request('POST', '/orders', { json: order, idempotencyKey: true })
   */
  request(method: string, url: string, options?: RequestOptions): ResponsePromise {
    const promise = this.#run(method.toUpperCase(), url, options) as ResponsePromise
    promise.json = jsonOf
    promise.text = textOf
    promise.bytes = bytesOf
    return promise
  }

  /** Stops new calls and closes the pools the client made, letting calls in flight finish. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= Promise.all([...this.#agents.values()].map((agent) => agent.close())).then(() => undefined)
    return this.#closing
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  async #run(method: string, url: string, o: RequestOptions | undefined): Promise<HttpResponse> {
    if (this.#closing !== undefined) {
      throw new HttpRequestError(
        'HTTP_CLOSED',
        `${method} ${url}: the HTTP client is closed. Create a new one, or stop calling after close().`,
        {
          details: { method },
        },
      )
    }
    const call = new Call(this.#defaults, method)
    let pending: Promise<PreparedBody> | undefined
    if (o === undefined && !(this.config.retry.idempotencyKeys && (method === 'POST' || method === 'PATCH'))) {
      const target = resolveTarget(url, this.#base, undefined, undefined)
      call.origin = target.origin
      call.path = target.path
    } else {
      pending = this.#applyOptions(call, url, o ?? NO_OPTIONS)
    }
    if (pending !== undefined) this.#applyBody(call, await pending)
    call.route ||= routeOf(call.path)
    if (this.config.breaker.enabled && o?.breaker !== false) {
      call.breakerKey = this.#keyFn
        ? this.#keyFn({ method, origin: call.origin, route: call.route })
        : this.config.breaker.scope === 'route'
          ? `${method} ${call.origin}${call.route}`
          : call.origin
    }
    if (!otelSettled() && this.config.propagateTrace) await loadOtel()
    if (this.config.propagateTrace) call.headers = withTraceHeaders(call.headers)

    const signal = call.signal
    signal?.throwIfAborted()
    if (call.totalMs > 0) {
      call.deadlineAt = Date.now() + call.totalMs
      call.timer = setTimeout(fireDeadline, call.totalMs, call)
      call.timer.unref()
    }
    signal?.addEventListener('abort', call)
    try {
      if (call.maxAttempts <= 1) return await this.#attempt(call, 1)
      let first: HttpResponse
      try {
        first = await this.#attempt(call, 1)
      } catch (error) {
        // The retry loop (and its bookkeeping) only starts once something failed.
        return await this.#withRetries(call, error)
      }
      return first
    } catch (error) {
      if (isHttpRequestError(error, 'HTTP_STATUS') && !call.throwHttpErrors)
        return (error as HttpErrorWithResponse).response
      throw error
    } finally {
      if (call.timer !== undefined) clearTimeout(call.timer)
      signal?.removeEventListener('abort', call)
    }
  }

  async #withRetries(call: Call, firstError: unknown): Promise<HttpResponse> {
    const c = this.config.retry
    const host = this.#host(call.origin)
    try {
      // Attempt 1 already ran: the core loop sees its failure, decides, backs off, then goes on.
      return await retry((attempt) => (attempt === 1 ? Promise.reject(firstError) : this.#attempt(call, attempt)), {
        maxAttempts: call.maxAttempts,
        baseMs: c.baseDelay,
        maxMs: c.maxDelay,
        jitter: 'full',
        maxRetryAfterMs: c.maxRetryAfter,
        signal: call.signal,
        deadline: call.deadlineAt === Infinity ? undefined : call.deadlineAt,
        shouldRetry: (error) => {
          if (!isRetryable(error, call)) return false
          if (host.budget.tryRetry(Date.now())) return true
          call.budgetDenied = true
          return false
        },
        retryAfter: retryAfterOf,
        onRetry: (info) => this.#retried(call, info),
      })
    } catch (error) {
      // With throwHttpErrors off, the caller wants the last response, budget or not.
      if (!call.budgetDenied || (!call.throwHttpErrors && isHttpRequestError(error, 'HTTP_STATUS'))) throw error
      const url = safeUrl(call.origin, call.path)
      throw new RetryBudgetExceededError(
        `${call.method} ${url}: attempt ${call.attempt} failed (${(error as Error).message}) and the retry budget of ${call.origin} is spent ` +
          `(retries may be ${this.config.budget.ratio * 100}% of recent requests plus ${this.config.budget.minPerSecond}/s). The host is likely down; retry later.`,
        { cause: error, details: { method: call.method, url, attempts: call.attempt, host: call.origin } },
      )
    }
  }

  #retried(call: Call, info: RetryInfo): void {
    if (!channels.retry.hasSubscribers && this.#onRetry === undefined) return
    const error = info.error as HttpRequestError
    const event: RetryEvent = {
      method: call.method,
      host: call.origin,
      route: call.route,
      attempt: info.attempt,
      delayMs: info.delayMs,
      code: error.code,
      status: (error as Partial<HttpError>).status,
    }
    if (channels.retry.hasSubscribers) channels.retry.publish(event)
    this.#onRetry?.(event)
  }

  async #attempt(call: Call, attempt: number): Promise<HttpResponse> {
    call.attempt = attempt
    if (attempt === 1) this.#host(call.origin).budget.request(Date.now())
    const response =
      this.#interceptors.length === 0
        ? await this.#follow(call, call.method, call.origin, call.path, call.headers, call.body)
        : await this.#intercepted(call, attempt)
    response.attempts = attempt
    if (
      response.status >= 400 &&
      (call.throwHttpErrors || (attempt < call.maxAttempts && call.retryStatuses.has(response.status)))
    ) {
      throw await httpErrorOf(call, response)
    }
    return response
  }

  #intercepted(call: Call, attempt: number): Promise<HttpResponse> {
    const url = call.origin + call.path
    const request: HttpRequest = {
      method: call.method,
      url,
      headers: { ...call.headers },
      body: call.body,
      route: call.templated ? call.route : undefined,
      attempt,
      signal: call.signal,
      context: (call.context ??= {}),
    }
    return runChain([...this.#interceptors], 0, request, (req) => {
      const target = req.url === url ? call : resolveTarget(req.url, undefined, undefined, undefined)
      return this.#follow(call, req.method.toUpperCase(), target.origin, target.path, req.headers, req.body)
    })
  }

  /** Sends one exchange and follows redirects as the policy says. */
  async #follow(
    call: Call,
    method: string,
    origin: string,
    path: string,
    headers: Readonly<Record<string, string>>,
    body: RequestBodyData,
  ): Promise<HttpResponse> {
    for (let hop = 0; ; hop++) {
      const response = await this.#exchange(call, method, origin, path, headers, body)
      if (call.redirect === 'manual' || !REDIRECTS.has(response.status)) return response
      const location = response.header('location')
      if (location === undefined) return response
      const from = safeUrl(origin, path)
      if (call.redirect === 'error') {
        throw redirectError(
          `${method} ${from} answered ${response.status} to ${location}, and redirect is 'error'.`,
          method,
          from,
        )
      }
      if (hop >= call.maxRedirects) {
        throw redirectError(
          `${method} ${from}: more than ${call.maxRedirects} redirects. Raise maxRedirects or fix the loop.`,
          method,
          from,
        )
      }
      const next = new URL(location, origin + path)
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw redirectError(
          `${method} ${from} redirected to ${next.protocol} URL, which is not followed.`,
          method,
          from,
        )
      }
      response.body?.destroy()
      const switchToGet =
        response.status === 303
          ? method !== 'HEAD'
          : (response.status === 301 || response.status === 302) && method === 'POST'
      if (next.origin !== origin || switchToGet) {
        const copy: Record<string, string> = { ...headers }
        if (next.origin !== origin) {
          // Credentials are for the origin they were given to.
          delete copy.authorization
          delete copy.cookie
          delete copy['proxy-authorization']
        }
        if (switchToGet) {
          delete copy['content-type']
          delete copy['content-length']
          method = 'GET'
          body = null
        }
        headers = copy
      } else if (isStreamBody(body)) {
        throw redirectError(
          `${method} ${from} answered ${response.status}, but its stream body cannot be sent again.`,
          method,
          from,
        )
      }
      origin = next.origin
      path = next.pathname + next.search
    }
  }

  #exchange(
    call: Call,
    method: string,
    origin: string,
    path: string,
    headers: Readonly<Record<string, string>>,
    body: RequestBodyData,
  ): Promise<HttpResponse> {
    if (!channels.request.hasSubscribers) return this.#send(call, method, origin, path, headers, body, undefined)
    const event: RequestEvent = {
      method,
      host: origin,
      route: call.route,
      attempt: call.attempt,
      status: 0,
      durationMs: 0,
      outcome: 'success',
      errorCode: undefined,
    }
    return this.#traced(call, method, origin, path, headers, body, event)
  }

  async #traced(
    call: Call,
    method: string,
    origin: string,
    path: string,
    headers: Readonly<Record<string, string>>,
    body: RequestBodyData,
    event: RequestEvent,
  ): Promise<HttpResponse> {
    let response: HttpResponse | undefined
    // The response stays out of the published context (its URL carries the query string).
    await traceAsync(
      channels.request,
      () => event,
      async () => {
        response = await this.#send(call, method, origin, path, headers, body, event)
      },
    )
    return response!
  }

  async #send(
    call: Call,
    method: string,
    origin: string,
    path: string,
    headers: Readonly<Record<string, string>>,
    body: RequestBodyData,
    event: RequestEvent | undefined,
  ): Promise<HttpResponse> {
    const started = event === undefined ? 0 : performance.now()
    const host = this.#host(origin)
    let breaker: CircuitBreaker | undefined
    let ticket = REJECTED
    let slot = false
    try {
      if (call.breakerKey !== undefined) {
        breaker =
          origin === call.origin && call.breakerKey === call.origin
            ? (host.breaker ??= this.breakers.get(origin))
            : this.breakers.get(this.#keyOf(call, method, origin))
        ticket = breaker.acquire(Date.now())
        if (ticket === REJECTED) throw circuitOpen(call, method, origin, path, breaker)
      }
      if (host.bulkhead !== undefined) {
        slot = host.bulkhead.tryAcquire()
        if (!slot) {
          await this.#queue(call, host.bulkhead, method, origin, path)
          slot = true
        }
      }
      const response = await this.#dispatch(call, method, origin, path, headers, body)
      if (breaker !== undefined) {
        if (response.status >= 500) breaker.failure(ticket, Date.now())
        else breaker.success(ticket, Date.now())
        ticket = REJECTED
      }
      if (event !== undefined) {
        event.status = response.status
        event.outcome = response.status >= 400 ? 'http_error' : 'success'
      }
      return response
    } catch (error) {
      if (breaker !== undefined && ticket !== REJECTED) {
        if (isHttpRequestError(error, 'HTTP_NETWORK', 'HTTP_TIMEOUT')) breaker.failure(ticket, Date.now())
        else breaker.release(ticket)
      }
      if (event !== undefined) {
        event.outcome = outcomeOf(error)
        event.errorCode = isHttpRequestError(error) ? error.code : undefined
      }
      throw error
    } finally {
      if (slot) host.bulkhead!.release()
      if (event !== undefined) event.durationMs = performance.now() - started
    }
  }

  #dispatch(
    call: Call,
    method: string,
    origin: string,
    path: string,
    headers: Readonly<Record<string, string>>,
    body: RequestBodyData,
  ): Promise<HttpResponse> {
    let headersMs = call.headersMs
    let bodyMs = call.bodyMs
    let clipped = false
    if (call.deadlineAt !== Infinity) {
      // Deadline propagation: an attempt never gets more time than the call has left.
      const remaining = Math.max(1, call.deadlineAt - Date.now())
      if (remaining < headersMs) {
        headersMs = remaining
        clipped = true
      }
      if (remaining < bodyMs) {
        bodyMs = remaining
        clipped = true
      }
      if (this.#deadlineHeader !== undefined) headers = { ...headers, [this.#deadlineHeader]: String(remaining) }
    }
    const exchange: Exchange = {
      dispatcher:
        call.connectMs === this.#defaults.connectMs || !this.#ownDispatcher
          ? this.#dispatcher
          : this.#agentFor(call.connectMs),
      options: { origin, path, method, headers, body, headersTimeout: headersMs, bodyTimeout: bodyMs },
      method,
      url: origin + path,
      safeUrl: safeUrl(origin, path),
      stream: call.stream,
      maxSize: call.maxSize,
      decompress: this.config.decompress,
      connectMs: call.connectMs,
      headersMs,
      bodyMs,
      clipped,
    }
    if (call.signal?.aborted) return Promise.reject(call.signal.reason as Error)
    const handler = new ExchangeHandler(exchange)
    call.current = handler
    return handler.promise
  }

  async #queue(call: Call, bulkhead: Bulkhead, method: string, origin: string, path: string): Promise<void> {
    if (!bulkhead.canQueue()) {
      const url = safeUrl(origin, path)
      throw new HttpRequestError(
        'HTTP_BULKHEAD_FULL',
        `${method} ${url}: ${bulkhead.maxConcurrent} requests to ${origin} are in flight and ${bulkhead.queued} wait; refused at once. Raise BEAVER_HTTP_BULKHEAD_MAX_CONCURRENT or _MAX_QUEUE, or slow down.`,
        { details: { method, url, host: origin, maxConcurrent: bulkhead.maxConcurrent, maxQueue: bulkhead.maxQueue } },
      )
    }
    if (call.deadlineAt === Infinity) return bulkhead.wait(call.signal)
    // Waiting for a slot counts against the deadline.
    const controller = new AbortController()
    const onAbort = (): void => controller.abort(call.signal?.reason)
    call.signal?.addEventListener('abort', onAbort, { once: true })
    const timer = setTimeout(() => controller.abort(call.deadlineError()), Math.max(0, call.deadlineAt - Date.now()))
    timer.unref()
    try {
      await bulkhead.wait(controller.signal)
    } finally {
      clearTimeout(timer)
      call.signal?.removeEventListener('abort', onAbort)
    }
  }

  #keyOf(call: Call, method: string, origin: string): string {
    if (this.#keyFn) return this.#keyFn({ method, origin, route: call.route })
    return this.config.breaker.scope === 'route' ? `${method} ${origin}${call.route}` : origin
  }

  #host(origin: string): HostState {
    let host = this.#hosts.get(origin)
    if (host === undefined) {
      const c = this.config
      host = {
        budget: new RetryBudget({
          ratio: c.budget.ratio,
          minPerSecond: c.budget.minPerSecond,
          windowMs: c.budget.window,
        }),
        bulkhead:
          c.bulkhead.maxConcurrent > 0 ? new Bulkhead(c.bulkhead.maxConcurrent, c.bulkhead.maxQueue) : undefined,
        breaker: undefined,
      }
      this.#hosts.set(origin, host)
    }
    return host
  }

  #agentFor(connectMs: number): Agent {
    let agent = this.#agents.get(connectMs)
    if (agent === undefined) {
      const p = this.config.pool
      agent = new Agent({
        connect:
          this.#egress === undefined
            ? { timeout: connectMs }
            : this.#egress.connector({ timeout: connectMs, allowH2: p.http2 }),
        keepAliveTimeout: p.keepAlive,
        connections: p.connections === 0 ? null : p.connections,
        pipelining: p.pipelining,
        allowH2: p.http2,
        // The client enforces its own limits per call; the pool keeps undici's defaults out of the way.
        headersTimeout: this.#defaults.headersMs,
        bodyTimeout: this.#defaults.bodyMs,
      })
      this.#agents.set(connectMs, agent)
    }
    return agent
  }

  /** Applies per-call options; returns the body still being serialised (FormData, Blob), if any. */
  #applyOptions(call: Call, url: string, o: RequestOptions): Promise<PreparedBody> | undefined {
    const d = this.#defaults
    const target = resolveTarget(url, this.#base, o.params, o.query)
    call.origin = target.origin
    call.path = target.path
    if (o.route !== undefined) {
      call.route = o.route
      call.templated = true
    } else if (o.params !== undefined) {
      call.route = ABSOLUTE.test(url)
        ? routeOf(url.replace(ABSOLUTE, ''))
        : (this.#base?.path ?? '') + (url.charCodeAt(0) === 47 ? url : `/${url}`)
      call.templated = true
    }
    call.signal = o.signal
    call.context = o.context
    if (o.timeouts !== undefined) {
      const t = o.timeouts
      if (t.connect !== undefined) call.connectMs = ms(t.connect)
      if (t.headers !== undefined) call.headersMs = ms(t.headers)
      if (t.body !== undefined) call.bodyMs = ms(t.body)
      if (t.total !== undefined) call.totalMs = ms(t.total)
    }
    if (o.responseType === 'stream') call.stream = true
    if (o.throwHttpErrors !== undefined) call.throwHttpErrors = o.throwHttpErrors
    if (o.maxResponseSize !== undefined)
      call.maxSize = typeof o.maxResponseSize === 'number' ? o.maxResponseSize : parseBytes(o.maxResponseSize)
    if (o.redirect !== undefined) call.redirect = o.redirect
    if (o.maxRedirects !== undefined) call.maxRedirects = o.maxRedirects

    let headers: Record<string, string> | undefined
    if (o.headers !== undefined) {
      headers = { ...d.headers }
      for (const [name, value] of Object.entries(o.headers)) {
        if (value === undefined) delete headers[name.toLowerCase()]
        else headers[name.toLowerCase()] = value
      }
    }
    const unsafe = !d.retryMethods.has(call.method)
    let key = o.idempotencyKey === true ? randomUUID() : o.idempotencyKey
    if (
      key === undefined &&
      unsafe &&
      this.config.retry.idempotencyKeys &&
      (call.method === 'POST' || call.method === 'PATCH')
    ) {
      key = (headers ?? d.headers)[IDEMPOTENCY_KEY] ?? randomUUID()
    }
    if (key !== undefined) (headers ??= { ...d.headers })[IDEMPOTENCY_KEY] = key
    if (headers !== undefined) call.headers = headers
    const retryable =
      !unsafe || call.headers[IDEMPOTENCY_KEY] !== undefined || (o.retry !== false && o.retry?.unsafe === true)
    if (o.retry === false || !retryable) call.maxAttempts = 1
    else {
      call.maxAttempts = o.retry?.maxAttempts ?? d.maxAttempts
      if (o.retry?.statuses !== undefined) call.retryStatuses = new Set(o.retry.statuses)
    }

    if (o.body === undefined && o.json === undefined) return undefined
    const prepared = prepareBody(o.body, o.json)
    if (prepared instanceof Promise) return prepared
    this.#applyBody(call, prepared)
    return undefined
  }

  #applyBody(call: Call, prepared: PreparedBody): void {
    call.body = prepared.data
    if (prepared.contentType !== undefined && call.headers['content-type'] === undefined) {
      call.headers = { ...call.headers, 'content-type': prepared.contentType }
    }
    // A stream can be sent once: no retry can replay it.
    if (isStreamBody(prepared.data)) call.maxAttempts = 1
  }
}

type HttpErrorWithResponse = HttpError & { response: HttpResponse }

function jsonOf<T>(this: Promise<HttpResponse>): Promise<T> {
  return this.then((response) => response.json<T>())
}

function textOf(this: Promise<HttpResponse>): Promise<string> {
  return this.then((response) => response.text())
}

function bytesOf(this: Promise<HttpResponse>): Promise<Buffer> {
  return this.then((response) => response.bytes())
}

function ms(value: number | string): number {
  return typeof value === 'number' ? value : parseDuration(value)
}

function routeOf(path: string): string {
  const q = path.indexOf('?')
  return q < 0 ? path : path.slice(0, q)
}

function isRetryable(error: unknown, call: Call): boolean {
  if (!isHttpRequestError(error)) return false
  switch (error.code) {
    case 'HTTP_STATUS':
      return call.retryStatuses.has((error as HttpError).status)
    case 'HTTP_NETWORK':
      return true
    case 'HTTP_TIMEOUT':
      return (error as HttpTimeoutError).phase !== 'total'
    default:
      return false
  }
}

function retryAfterOf(error: unknown): number | undefined {
  if (!isHttpRequestError(error, 'HTTP_STATUS')) return undefined
  const value = (error as HttpError).headers['retry-after']
  return parseRetryAfter(Array.isArray(value) ? value[0] : value)
}

async function httpErrorOf(call: Call, response: HttpResponse): Promise<HttpError> {
  let excerpt = ''
  if (response.body !== undefined) response.body.destroy()
  else excerpt = (response.bufferedBytes() ?? Buffer.alloc(0)).subarray(0, 4096).toString('utf8').slice(0, 1024)
  let requestId: string | undefined
  for (const name of REQUEST_ID_HEADERS) {
    requestId = response.header(name)
    if (requestId !== undefined) break
  }
  requestId ??= call.headers['x-request-id']
  const url = safeUrl(call.origin, call.path)
  const error = new HttpError(
    `${call.method} ${url} answered ${response.status}${response.statusText ? ` ${response.statusText}` : ''}` +
      `${requestId ? ` (request id ${requestId})` : ''} after ${call.attempt} attempt${call.attempt === 1 ? '' : 's'}`,
    { status: response.status, headers: response.headers, bodyExcerpt: excerpt, requestId },
    { details: { method: call.method, url, status: response.status, attempts: call.attempt, requestId } },
  )
  // The whole response stays reachable (not enumerable: logs stay short).
  Object.defineProperty(error, 'response', { value: response, enumerable: false })
  return error
}

function circuitOpen(
  call: Call,
  method: string,
  origin: string,
  path: string,
  breaker: CircuitBreaker,
): CircuitOpenError {
  const url = safeUrl(origin, path)
  const retryAt = breaker.openUntil
  return new CircuitOpenError(
    `${method} ${url}: the circuit breaker "${breaker.key}" is ${breaker.state}; failed fast without a request. It lets trial calls through after ${new Date(retryAt).toISOString()}.`,
    breaker.key,
    retryAt,
    { details: { method, url, key: breaker.key, state: breaker.state, retryAt, attempts: call.attempt } },
  )
}

function redirectError(message: string, method: string, url: string): HttpRequestError {
  return new HttpRequestError('HTTP_REDIRECT', message, { details: { method, url } })
}

function outcomeOf(error: unknown): RequestEvent['outcome'] {
  if (!isHttpRequestError(error)) return 'aborted'
  const map: Partial<Record<HttpErrorCode, RequestEvent['outcome']>> = {
    HTTP_TIMEOUT: 'timeout',
    HTTP_NETWORK: 'network_error',
    HTTP_CIRCUIT_OPEN: 'circuit_open',
    HTTP_BULKHEAD_FULL: 'bulkhead_full',
    HTTP_RESPONSE_TOO_LARGE: 'too_large',
    HTTP_EGRESS_DENIED: 'egress_denied',
  }
  return map[error.code] ?? 'error'
}

/** Whether `value` is a Readable (a body that can be sent once). */
function isStreamBody(value: RequestBodyData): value is Readable {
  return value !== null && typeof value === 'object' && !(value instanceof Uint8Array)
}
