import { importPeer } from '@beaver-kit/core'
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
