export { createHttpClient } from './http.ts'
export type { HttpClient } from './http.ts'
export { http, initHttp, resetHttp, withPrefix } from './default.ts'
export type {
  BreakerKeyInput,
  HttpClientOptions,
  RequestOptions,
  RequestRetryOptions,
  ResponsePromise,
  TimeoutOptions,
  TlsOptions,
} from './options.ts'
export { HttpResponse } from './response.ts'
export type { HttpRequest, Interceptor, Next } from './interceptors.ts'
export type { RequestBodyData, RequestBodyInit } from './body.ts'
export type { QueryParams, QueryValue } from './url.ts'
export type { BreakerRegistry } from './breaker-registry.ts'
export type { BreakerSnapshot, BreakerState, BreakerStateChange } from './breaker.ts'
export { httpSchema } from './config.ts'
export type { HttpConfig, HttpSchemaOptions } from './config.ts'
export { channels } from './channels.ts'
export type { EgressDeniedEvent, RequestEvent, RetryEvent } from './channels.ts'
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
