import { retry } from '@beaver-kit/core'
import { channels } from './channels.ts'
import { isTransient, retryAfterOf } from './failures.ts'
import type { MailTransport } from './transport.ts'

export interface RetryPolicy {
  attempts: number
  baseMs: number
  maxMs: number
}

/**
 * Wraps a transport that does not retry by itself (SMTP, file, registered ones) so temporary
 * failures (421/450/451/452/454 replies, lost connections) are sent again with exponential
 * backoff and full jitter, honouring a server's delay hint. The mailer wraps every such leaf
 * transport, so a failover set retries each member before moving on.
 */
export function withRetries(transport: MailTransport, policy: RetryPolicy): MailTransport {
  if (transport.capabilities.retries || policy.attempts <= 1) return transport
  return {
    name: transport.name,
    capabilities: Object.freeze({ ...transport.capabilities, retries: true }),
    send: (mail, options) =>
      retry(() => transport.send(mail, options), {
        maxAttempts: policy.attempts,
        baseMs: policy.baseMs,
        maxMs: policy.maxMs,
        signal: options.signal,
        shouldRetry: isTransient,
        retryAfter: retryAfterOf,
        onRetry: ({ attempt, delayMs, error }) => {
          if (channels.retry.hasSubscribers) {
            channels.retry.publish({
              transport: transport.name,
              attempt,
              delayMs,
              code: (error as { code?: string }).code ?? 'UNKNOWN',
            })
          }
        },
      }),
    ...(transport.verify
      ? { verify: (options) => (transport.verify as NonNullable<MailTransport['verify']>)(options) }
      : {}),
    close: () => transport.close(),
  }
}
