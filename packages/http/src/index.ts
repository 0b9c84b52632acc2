import { defineDefaultInstance } from '@beaver-kit/core'
import { HttpClient, type HttpClientOptions } from './client.ts'

export { HttpClient } from './client.ts'
export type {
  BreakerKeyInput,
  HttpClientOptions,
  RequestOptions,
  RequestRetryOptions,
  ResponsePromise,
  TimeoutOptions,
} from './client.ts'
export { channels } from './channels.ts'
export type { EgressDeniedEvent, RequestEvent, RetryEvent } from './channels.ts'
export { HttpResponse } from './response.ts'
export type { HttpRequest, Interceptor, Next } from './interceptors.ts'
export type { RequestBodyData, RequestBodyInit } from './body.ts'
export type { QueryParams, QueryValue } from './url.ts'
export { BreakerRegistry } from './breaker-registry.ts'
export type { BreakerSnapshot, BreakerState, BreakerStateChange } from './breaker.ts'
export { httpSchema } from './config.ts'
export type { HttpConfig, HttpSchemaOptions } from './config.ts'
export {
  CircuitOpenError,
  HttpError,
  HttpNetworkError,
  HttpRequestError,
  HttpTimeoutError,
  RetryBudgetExceededError,
  isCircuitOpenError,
  isHttpError,
  isHttpNetworkError,
  isHttpRequestError,
  isHttpTimeoutError,
  isRetryBudgetExceededError,
} from './errors.ts'
export type { HttpErrorCode, ResponseHeaders, TimeoutPhase } from './errors.ts'

/**
 * Creates a client. Options beat `BEAVER_HTTP_*` variables, which beat the defaults.
 * @example
 * const github = createHttpClient({ baseUrl: 'https://api.github.com', headers: { authorization: `Bearer ${token}` } })
 * const repo = await github.get('/repos/:owner/:repo', { params: { owner, repo } }).json<Repo>()
 */
export function createHttpClient(options?: HttpClientOptions): HttpClient {
  return new HttpClient(options)
}

const def = defineDefaultInstance<HttpClient, HttpClientOptions>('http', (options) => createHttpClient(options))

/**
 * The default client, built from `BEAVER_HTTP_*` on first use and closed by `shutdown()`.
 * @example const page = await http().get('https://example.com/').text()
 */
export const http = def.get

/**
 * Configures the default client before its first use; throws once it exists.
 * @example initHttp({ dispatcher: mockAgent }) // in a test setup
 */
export const initHttp = def.init

/** Closes and forgets the default client (tests); the next `http()` builds a new one. */
export const resetHttp = def.reset

/**
 * A client configured from variables with another prefix: `withPrefix('GITHUB_')` reads `GITHUB_HTTP_*`.
 * @example const github = withPrefix('GITHUB_') // GITHUB_HTTP_BASE_URL, GITHUB_HTTP_HEADERS, ...
 */
export function withPrefix(prefix: string): HttpClient {
  return createHttpClient({ envPrefix: prefix })
}
