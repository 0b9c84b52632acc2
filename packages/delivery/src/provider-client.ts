import { importPeer, parseRetryAfter } from '@beaver-kit/core'
import type { HttpClientOptions } from '@beaver-kit/http'

/** One call to a provider API. */
export interface ProviderRequest {
  json?: unknown
  body?: FormData | URLSearchParams | undefined
  signal?: AbortSignal | undefined
  /** Sent as `Idempotency-Key`; also what makes `@beaver-kit/http` willing to retry the POST. */
  idempotencyKey?: string | undefined
  headers?: Readonly<Record<string, string>> | undefined
}

/** A provider's answer: the parsed JSON body (text when it is not JSON, undefined when empty). */
export interface ProviderResponse {
  readonly status: number
  readonly body: unknown
  header(name: string): string | undefined
}

export interface ProviderClientOptions {
  /** What needs the HTTP client, for the missing-peer message: `the sendgrid mail transport`. */
  neededBy: string
  baseUrl: string
  headers: Readonly<Record<string, string>>
  retry: { attempts: number; baseDelay: number; maxDelay: number }
  /** More `@beaver-kit/http` client options (a dispatcher, timeouts), typed loosely so callers' types never require the optional package. */
  http?: Readonly<Record<string, unknown>> | undefined
  userAgent: string
}

/** A provider API client; failures are `@beaver-kit/http` errors, for the caller to classify. */
export interface ProviderClient {
  post(path: string, request: ProviderRequest): Promise<ProviderResponse>
  close(): Promise<void>
}

/**
 * The kit's HTTP client (an optional peer) for one provider API: its timeouts, breaker and
 * retry budget, retrying 429 and 503 (answers that say the request was not taken) and lost
 * connections, POSTs included. A request with an idempotency key carries it, so a provider
 * that deduplicates (Resend) makes the retry safe.
 */
export async function createProviderClient(options: ProviderClientOptions): Promise<ProviderClient> {
  const { createHttpClient } = await importPeer('@beaver-kit/http', () => import('@beaver-kit/http'), options.neededBy)
  const extra = options.http as HttpClientOptions | undefined
  const client = createHttpClient({
    ...extra,
    envPrefix: false,
    baseUrl: options.baseUrl,
    headers: { ...extra?.headers, ...options.headers },
    userAgent: options.userAgent,
    retry: {
      maxAttempts: options.retry.attempts,
      baseDelay: options.retry.baseDelay,
      maxDelay: options.retry.maxDelay,
      statuses: ['429', '503'],
    },
  })
  return {
    async post(path, request) {
      const response = await client.post(path, { ...request, retry: { unsafe: true, statuses: [429, 503] } })
      const text = await response.text()
      let body: unknown
      if (text !== '') {
        try {
          body = JSON.parse(text)
        } catch {
          body = text
        }
      }
      return { status: response.status, body, header: (name) => response.header(name) }
    },
    close: () => client.close(),
  }
}

/** What a provider API failure means for the sender. */
export interface ApiFailure {
  /** `auth`: credentials refused (fail over, do not retry); `temporary`: 429, 5xx or unreachable; `rejected`: the request itself. */
  readonly kind: 'auth' | 'temporary' | 'rejected'
  /** The HTTP status, or the client's error code when no response came. */
  readonly status: number | string | undefined
  /** The first KiB of the error body (empty without a response). */
  readonly body: string
  /** The server's Retry-After, in ms. */
  readonly retryAfterMs: number | undefined
  readonly message: string
}

const UNREACHABLE = new Set([
  'HTTP_TIMEOUT',
  'HTTP_NETWORK',
  'HTTP_CIRCUIT_OPEN',
  'HTTP_RETRY_BUDGET_EXCEEDED',
  'HTTP_BULKHEAD_FULL',
])

/**
 * Classifies an `@beaver-kit/http` failure of a provider call: 401/403 credentials, 429 and
 * 5xx temporary (with Retry-After), other statuses a rejection; timeouts, network failures,
 * an open circuit and a spent retry budget temporary; anything else a rejection.
 */
export function classifyApiFailure(err: unknown): ApiFailure {
  const e = err as {
    code?: string
    status?: number
    bodyExcerpt?: string
    headers?: Record<string, unknown>
    message?: string
  }
  const message = e.message ?? String(err)
  if (e.code === 'HTTP_STATUS' && typeof e.status === 'number') {
    const s = e.status
    const header = e.headers?.['retry-after']
    const retryAfterMs = parseRetryAfter(typeof header === 'string' ? header : undefined)
    const kind = s === 401 || s === 403 ? 'auth' : s === 429 || s >= 500 ? 'temporary' : 'rejected'
    return { kind, status: s, body: e.bodyExcerpt ?? '', retryAfterMs, message }
  }
  const kind = e.code !== undefined && UNREACHABLE.has(e.code) ? 'temporary' : 'rejected'
  return { kind, status: e.code, body: '', retryAfterMs: undefined, message }
}
