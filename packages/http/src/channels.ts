import { defineChannels, event, tracing } from '@beaver-kit/core'
import type { BreakerStateChange } from './breaker.ts'

/** What `beaver:http:request` publishes for every exchange (each attempt and redirect hop). No query strings, no headers. */
export interface RequestEvent {
  method: string
  /** `https://api.example.com` (scheme, host and port). */
  host: string
  /** The route template (`/users/:id`) or, without one, the path without its query. */
  route: string
  attempt: number
  /** 0 when no response came. */
  status: number
  durationMs: number
  outcome:
    | 'success'
    | 'http_error'
    | 'timeout'
    | 'network_error'
    | 'circuit_open'
    | 'bulkhead_full'
    | 'too_large'
    | 'egress_denied'
    | 'aborted'
    | 'error'
  /** The error code when the exchange failed. */
  errorCode: string | undefined
}

/** What `beaver:http:retry` publishes before each backoff. */
export interface RetryEvent {
  method: string
  host: string
  route: string
  /** The attempt that failed. */
  attempt: number
  delayMs: number
  /** The failure's code, e.g. HTTP_STATUS or HTTP_NETWORK. */
  code: string
  status: number | undefined
}

/** What `beaver:http:egressDenied` publishes when the egress policy refuses a connection. */
export interface EgressDeniedEvent {
  method: string
  /** The origin the call named (`http://169.254.169.254`). */
  host: string
  /** The address the connection would have gone to. */
  address: string
}

/** Every diagnostics channel of `@beaver-kit/http`; the README's Diagnostics table is generated from it. */
export const channels = defineChannels('http', {
  request: tracing<RequestEvent>(
    'Each exchange: every attempt and redirect hop',
    'method, host, route, attempt, status, durationMs, outcome, errorCode',
  ),
  retry: event<RetryEvent>(
    'Before each backoff of a retried call',
    'method, host, route, attempt, delayMs, code, status',
  ),
  breaker: event<BreakerStateChange>('A circuit breaker changed state', 'key, from, to, reason, openUntil, at'),
  egressDenied: event<EgressDeniedEvent>(
    'The egress policy refused a connection (an SSRF attempt, or a missing allow entry)',
    'method, host, address',
  ),
})
