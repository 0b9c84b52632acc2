import { withSendRetries } from '@beaver-kit/delivery'
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
  return withSendRetries(transport, {
    ...policy,
    isTransient,
    retryAfter: retryAfterOf,
    onRetry: ({ sender, attempt, delayMs, code }) => {
      if (channels.retry.hasSubscribers) channels.retry.publish({ transport: sender, attempt, delayMs, code })
    },
  })
}
