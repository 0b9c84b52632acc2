import {
  ConfigError,
  describeInstance,
  resolveConfig,
  type InstanceDescription,
  type ResolvedConfig,
} from '@beaver-kit/config'
import {
  parseRetryAfter,
  raceAbort,
  retry,
  throwIfAborted,
  traceAsync,
  type Instance,
  type RetryInfo,
} from '@beaver-kit/core'
import { BreakerRegistry } from './breaker-registry.ts'
import { planCall, type Call } from './call.ts'
import { channels, type RequestEvent, type RetryEvent } from './channels.ts'
import { httpSchema, type HttpConfig, type HttpSchemaOptions } from './config.ts'
import { EgressGuard } from './egress.ts'
import {
  HttpError,
  HttpRequestError,
  RetryBudgetExceededError,
  isHttpRequestError,
  type HttpErrorCode,
  type HttpTimeoutError,
} from './errors.ts'
import { startExchange, type Hop } from './exchange.ts'
import { normalizeHeaders } from './headers.ts'
import { HostGuards } from './host-guard.ts'
import { runChain, type HttpRequest, type Interceptor } from './interceptors.ts'
import {
  clientSettings,
  type ClientSettings,
  type HttpClientOptions,
  type RequestOptions,
  type ResponsePromise,
} from './options.ts'
import { Pools } from './pool.ts'
import { followRedirects } from './redirects.ts'
import type { HttpResponse } from './response.ts'
import { loadOtel, otelLoadError, otelSettled } from './trace-context.ts'
import { resolveTarget, safeUrl } from './url.ts'

const REQUEST_ID_HEADERS = ['x-request-id', 'request-id', 'x-amzn-requestid', 'x-correlation-id', 'cf-ray']

/**
 * Creates a client. Options beat `BEAVER_HTTP_*` variables (or another prefix, or the `env`
 * you pass), which beat the defaults. Does no I/O; invalid settings throw one ConfigError.
 * @example
 * const github = createHttpClient({ baseUrl: 'https://api.github.com', headers: { authorization: `Bearer ${token}` } })
 * const repo = await github.get('/repos/:owner/:repo', { params: { owner, repo } }).json<Repo>()
 */
export function createHttpClient(options: HttpClientOptions = {}): HttpClient {
  return new HttpClient(options)
}

/**
 * An HTTP client on undici's pooled dispatchers, with per-phase timeouts and a call deadline,
 * retries with backoff and a retry budget, a circuit breaker and a bulkhead per host, an
 * egress guard, and interceptors. Made by `createHttpClient()`; the default is `http()`.
 */
export class HttpClient implements Instance<InstanceDescription> {
  /** The resolved configuration (frozen). */
  readonly config: HttpConfig
  /** The circuit breakers, to read, export, restore or reset. */
  readonly breakers: BreakerRegistry
  readonly #resolved: ResolvedConfig<HttpConfig>
  readonly #envPrefix: string | false | undefined
  readonly #settings: ClientSettings
  readonly #pools: Pools
  readonly #guards: HostGuards
  readonly #interceptors: Interceptor[]
  readonly #onRetry: ((info: RetryEvent) => void) | undefined
  readonly #exchange = (call: Call, hop: Hop): Promise<HttpResponse> =>
    startExchange(call, hop, this.#pools.for(call.connectMs), this.#settings)
  readonly #send = (call: Call, hop: Hop): Promise<HttpResponse> =>
    channels.request.hasSubscribers ? this.#traced(call, hop) : this.#guards.send(call, hop)
  #closing: Promise<void> | undefined

  constructor(options: HttpClientOptions) {
    const { envPrefix, env, dispatcher, interceptors = [], tls = {}, ...settings } = options
    this.#envPrefix = envPrefix
    // The CA goes through the schema like any setting (so describe() shows where it came from), as PEM text.
    const ca = tls.ca === undefined ? undefined : [tls.ca].flat().map(String).join('\n')
    this.#resolved = resolveConfig(httpSchema, {
      options: { ...settings, tls: { ca } } as HttpSchemaOptions,
      envPrefix,
      ...(env === undefined ? {} : { env }),
    })
    const c = (this.config = this.#resolved.values)
    this.#settings = clientSettings(c, options)
    const egress = c.egress.deny.length === 0 ? undefined : new EgressGuard(c.egress)
    if (egress !== undefined && dispatcher !== undefined) {
      throw new ConfigError('HTTP client', [
        {
          name: 'option dispatcher',
          found: undefined,
          expected:
            "no custom dispatcher while egress.deny (BEAVER_HTTP_EGRESS_DENY) is set: the egress guard checks the address of every connection of the client's own pool, and cannot see where another dispatcher connects. Drop one of the two",
        },
      ])
    }
    this.#pools = new Pools(c, dispatcher, egress, tls)
    this.#interceptors = [...interceptors]
    this.#onRetry = options.retry?.onRetry
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
    this.#guards = new HostGuards(c, this.#settings, this.breakers, this.#exchange)
    if (c.propagateTrace) void loadOtel()
  }

  /** The settings with their sources (secrets masked) and live state: hosts seen, breakers open, closed. */
  describe(): InstanceDescription {
    return describeInstance('http', this.#envPrefix, this.#resolved.entries, {
      dispatcher: this.#pools.own ? 'own pool' : 'given',
      hosts: this.#guards.size,
      openBreakers: this.breakers.openCount(),
      closed: this.#closing !== undefined,
    })
  }

  /**
   * Resolves once the client can serve: optional parts loaded. Rejects if `@opentelemetry/api`
   * is installed but failed to load, or the client is closed. (An HTTP client has no one server
   * to check; call the upstream's health route for that.)
   */
  async ready(options: { signal?: AbortSignal } = {}): Promise<void> {
    throwIfAborted(options.signal)
    if (this.#closing !== undefined) throw closedError('ready()')
    if (this.config.propagateTrace) await raceAbort(loadOtel(), { signal: options.signal })
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
    this.#closing ??= this.#pools.close()
    return this.#closing
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  async #run(method: string, url: string, options: RequestOptions | undefined): Promise<HttpResponse> {
    if (this.#closing !== undefined) throw closedError(`${method} ${url}`)
    const planned = planCall(this.#settings, method, url, options)
    const call = planned instanceof Promise ? await planned : planned
    // traceparent is added per exchange (startExchange), inside the request span when one is traced.
    if (this.#settings.propagateTrace && !otelSettled()) await loadOtel()
    call.signal?.throwIfAborted()
    call.arm()
    let streaming = false
    try {
      let response: HttpResponse
      if (call.maxAttempts <= 1) response = await this.#attempt(call, 1)
      else {
        try {
          response = await this.#attempt(call, 1)
        } catch (error) {
          // The retry loop (and its bookkeeping) only starts once something failed.
          response = await this.#withRetries(call, error)
        }
      }
      streaming = keepArmedWhileStreaming(call, response)
      return response
    } catch (error) {
      if (isHttpRequestError(error, 'HTTP_STATUS') && !call.throwHttpErrors) {
        const response = (error as HttpErrorWithResponse).response
        streaming = keepArmedWhileStreaming(call, response)
        return response
      }
      throw error
    } finally {
      if (!streaming) call.disarm()
    }
  }

  async #withRetries(call: Call, firstError: unknown): Promise<HttpResponse> {
    const c = this.config.retry
    const host = this.#guards.host(call.origin)
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
      const { budget } = this.config
      throw new RetryBudgetExceededError(
        `${call.method} ${url}: attempt ${call.attempt} failed (${(error as Error).message}) and the retry budget of ${call.origin} is spent ` +
          `(retries may be ${budget.ratio * 100}% of recent requests plus ${budget.minPerSecond}/s). The host is likely down; retry later.`,
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
    if (attempt === 1) this.#guards.host(call.origin).budget.request(Date.now())
    const response =
      this.#interceptors.length === 0
        ? await followRedirects(call, call, this.#settings, this.#send)
        : await this.#intercepted(call, attempt)
    response.attempts = attempt
    if (
      response.status >= 400 &&
      (call.throwHttpErrors || (attempt < call.maxAttempts && call.retryStatuses.has(response.status)))
    ) {
      throw httpErrorOf(call, response)
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
      // What an interceptor wrote (spread, assigned or mutated) is normalised here, once.
      const target = req.url === url ? call : resolveTarget(req.url, undefined, undefined, undefined)
      const hop: Hop = {
        method: req.method.toUpperCase(),
        origin: target.origin,
        path: target.path,
        headers: normalizeHeaders(req.headers),
        body: req.body,
      }
      return followRedirects(call, hop, this.#settings, this.#send)
    })
  }

  async #traced(call: Call, hop: Hop): Promise<HttpResponse> {
    const event: RequestEvent = {
      method: hop.method,
      host: hop.origin,
      route: call.route,
      attempt: call.attempt,
      status: 0,
      durationMs: 0,
      outcome: 'success',
      errorCode: undefined,
    }
    const started = performance.now()
    // The response stays out of the published context (its URL carries the query string).
    return traceAsync(
      channels.request,
      () => event,
      async () => {
        try {
          const response = await this.#guards.send(call, hop)
          event.status = response.status
          event.outcome = response.status >= 400 ? 'http_error' : 'success'
          return response
        } catch (error) {
          event.outcome = outcomeOf(error)
          event.errorCode = isHttpRequestError(error) ? error.code : undefined
          throw error
        } finally {
          event.durationMs = performance.now() - started
        }
      },
    )
  }
}

type HttpErrorWithResponse = HttpError & { response: HttpResponse }

/**
 * In stream mode the call is not over when the headers arrive: the deadline and the caller's
 * signal keep covering the body until it is read, fails or is dropped.
 */
function keepArmedWhileStreaming(call: Call, response: HttpResponse): boolean {
  const body = response.body
  if (body === undefined || body.closed || body.destroyed) return false
  body.once('close', () => call.disarm())
  return true
}

function closedError(what: string): HttpRequestError {
  return new HttpRequestError(
    'HTTP_CLOSED',
    `${what}: the HTTP client is closed. Create a new one, or stop calling after close().`,
  )
}

function jsonOf<T>(this: Promise<HttpResponse>): Promise<T> {
  return this.then((response) => response.json<T>())
}

function textOf(this: Promise<HttpResponse>): Promise<string> {
  return this.then((response) => response.text())
}

function bytesOf(this: Promise<HttpResponse>): Promise<Buffer> {
  return this.then((response) => response.bytes())
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

function httpErrorOf(call: Call, response: HttpResponse): HttpError {
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

const OUTCOMES: Partial<Record<HttpErrorCode, RequestEvent['outcome']>> = {
  HTTP_TIMEOUT: 'timeout',
  HTTP_NETWORK: 'network_error',
  HTTP_CIRCUIT_OPEN: 'circuit_open',
  HTTP_BULKHEAD_FULL: 'bulkhead_full',
  HTTP_RESPONSE_TOO_LARGE: 'too_large',
  HTTP_EGRESS_DENIED: 'egress_denied',
}

function outcomeOf(error: unknown): RequestEvent['outcome'] {
  if (!isHttpRequestError(error)) return 'aborted'
  return OUTCOMES[error.code] ?? 'error'
}
