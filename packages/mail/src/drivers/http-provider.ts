import { importPeer } from '@beaver-kit/core'
import type { HttpClientOptions } from '@beaver-kit/http'
import type { MailConfig } from '../config.ts'
import { MailError } from '../errors.ts'
import { httpFailure } from '../failures.ts'
import { plainCapabilities, type MailTransportCapabilities } from '../transport.ts'

/** Settings every HTTP provider accepts from code besides its env section. */
export interface HttpProviderExtras {
  /**
   * More `@beaver-kit/http` client options (a dispatcher for a proxy, timeouts); typed loosely
   * so that the mail package's types never require the optional http package.
   */
  http?: Readonly<Record<string, unknown>> | undefined
}

/** One call to a provider API. */
export interface ProviderRequest {
  json?: unknown
  body?: FormData | URLSearchParams | undefined
  signal?: AbortSignal | undefined
  idempotencyKey?: string | undefined
}

/** One provider's API client: the kit's HTTP client with the provider's base URL and credentials. */
export interface ProviderApi {
  /** POSTs and answers the parsed JSON body (or undefined for an empty one) and the response headers; failures become MailErrors. */
  post(
    path: string,
    options: ProviderRequest,
  ): Promise<{ body: unknown; header: (name: string) => string | undefined; status: number }>
  close(): Promise<void>
}

export function requireSetting(value: string | undefined, variable: string, provider: string): string {
  if (value === undefined || value === '') {
    throw new MailError('MAIL_OPTIONS_INVALID', `The ${provider} transport needs ${variable}.`, {
      details: { field: variable },
    })
  }
  return value
}

/**
 * The kit's HTTP client for a provider API: its timeouts, breaker and retry budget, with
 * retries on 429 and 503 (the answers that say the message was not taken) and on lost
 * connections; with `idempotencyKeys` (Resend) every POST carries the message's key, so a
 * retry after a lost response is deduplicated by the provider.
 */
export async function providerApi(
  provider: string,
  baseUrl: string,
  headers: Readonly<Record<string, string>>,
  config: MailConfig,
  extras: HttpProviderExtras,
  describeError: (body: string) => string,
): Promise<ProviderApi> {
  const { createHttpClient } = await importPeer(
    '@beaver-kit/http',
    () => import('@beaver-kit/http'),
    `the ${provider} mail transport`,
  )
  const client = createHttpClient({
    ...(extras.http as HttpClientOptions | undefined),
    envPrefix: false,
    baseUrl,
    headers: { ...(extras.http?.headers as Record<string, string> | undefined), ...headers },
    userAgent: 'beaver-kit-mail',
    retry: {
      maxAttempts: config.retry.attempts,
      baseDelay: config.retry.baseDelay,
      maxDelay: config.retry.maxDelay,
      statuses: ['429', '503'],
    },
  })
  return {
    async post(path, options) {
      try {
        const response = await client.post(path, { ...options, retry: { unsafe: true, statuses: [429, 503] } })
        const text = await response.text()
        let body: unknown
        if (text !== '') {
          try {
            body = JSON.parse(text)
          } catch {
            body = text
          }
        }
        return { body, header: (name) => response.header(name), status: response.status }
      } catch (err) {
        const failure = httpFailure(provider, err, describeError)
        // SendGrid says when its window resets instead of sending Retry-After.
        const reset = (err as { headers?: Record<string, unknown> }).headers?.['x-ratelimit-reset']
        if (failure.details.retryAfterMs === undefined && typeof reset === 'string' && /^\d+$/.test(reset)) {
          const retryAfterMs = Math.max(0, Number(reset) * 1000 - Date.now())
          return Promise.reject(
            new MailError(failure.code, failure.message, { cause: err, details: { ...failure.details, retryAfterMs } }),
          )
        }
        throw failure
      }
    },
    close: () => client.close(),
  }
}

/** HTTP providers retry through the kit's client; the mailer does not wrap them again. */
export function apiCapabilities(differences: Partial<MailTransportCapabilities> = {}): MailTransportCapabilities {
  return plainCapabilities({ retries: true, ...differences })
}

/** The JSON error body of a provider, reduced to its messages. */
export function jsonErrorText(pick: (body: Record<string, unknown>) => string | undefined): (body: string) => string {
  return (body) => {
    try {
      return pick(JSON.parse(body) as Record<string, unknown>) ?? body
    } catch {
      return body
    }
  }
}
