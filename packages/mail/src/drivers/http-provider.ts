import { createProviderClient, type ProviderRequest, type ProviderResponse } from '@beaver-kit/delivery'
import type { MailConfig } from '../config.ts'
import { MailError } from '../errors.ts'
import { httpFailure } from '../failures.ts'
import { recipientsOf, type OutgoingMail } from '../message.ts'
import { plainCapabilities, type MailTransport, type MailTransportCapabilities } from '../transport.ts'

/** Settings every HTTP provider accepts from code besides its env section. */
export interface HttpProviderExtras {
  /**
   * More `@beaver-kit/http` client options (a dispatcher for a proxy, timeouts); typed loosely
   * so that the mail package's types never require the optional http package.
   */
  http?: Readonly<Record<string, unknown>> | undefined
}

/** One provider's API client with its failures classified as MailErrors. */
export interface ProviderApi {
  post(path: string, options: ProviderRequest): Promise<ProviderResponse>
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
 * The provider's API through `@beaver-kit/http` (see createProviderClient), its failures
 * classified for the mailer: 401/403 credentials, 429/5xx and lost connections temporary.
 */
export async function providerApi(
  provider: string,
  baseUrl: string,
  headers: Readonly<Record<string, string>>,
  config: MailConfig,
  extras: HttpProviderExtras,
  describeError: (body: string) => string,
): Promise<ProviderApi> {
  const client = await createProviderClient({
    neededBy: `the ${provider} mail transport`,
    baseUrl,
    headers,
    retry: { attempts: config.retry.attempts, baseDelay: config.retry.baseDelay, maxDelay: config.retry.maxDelay },
    http: extras.http,
    userAgent: 'beaver-kit-mail',
  })
  return {
    async post(path, options) {
      try {
        return await client.post(path, options)
      } catch (err) {
        const failure = httpFailure(provider, err, describeError)
        // SendGrid says when its window resets instead of sending Retry-After.
        const reset = (err as { headers?: Record<string, unknown> }).headers?.['x-ratelimit-reset']
        if (failure.details.retryAfterMs === undefined && typeof reset === 'string' && /^\d+$/.test(reset)) {
          const retryAfterMs = Math.max(0, Number(reset) * 1000 - Date.now())
          throw new MailError(failure.code, failure.message, {
            cause: err,
            details: { ...failure.details, retryAfterMs },
          })
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

/**
 * A transport that sends each message as one provider API call: `request` builds the call
 * from the checked message, `messageId` reads the provider's id from the answer.
 */
export function apiTransport(
  name: string,
  api: ProviderApi,
  capabilities: Partial<MailTransportCapabilities>,
  request: (mail: OutgoingMail) => { path: string } & ProviderRequest,
  messageId: (response: ProviderResponse) => unknown,
): MailTransport {
  return {
    name,
    capabilities: apiCapabilities(capabilities),
    async send(mail, sendOptions) {
      const { path, ...call } = request(mail)
      const response = await api.post(path, { ...call, signal: sendOptions.signal })
      return { messageId: String(messageId(response) ?? ''), accepted: recipientsOf(mail) }
    },
    close: () => api.close(),
  }
}
