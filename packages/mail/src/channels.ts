import { defineChannels, event, tracing } from '@beaver-kit/core'

/** What `beaver:mail:send` publishes: counts and names, never addresses or content. */
export interface SendContext {
  transport: string
  recipients: number
  attachments: number
  template: string | undefined
  /** Set once the send settles: the transport that took it (after failover). */
  sentBy?: string | undefined
}

/** Every diagnostics channel of @beaver-kit/mail; the README's Diagnostics table is generated from it. */
export const channels = defineChannels('mail', {
  send: tracing<SendContext>(
    'One message: checks, suppression, rate limit, transport',
    'transport, recipients, attachments, template, sentBy',
  ),
  sendBatch: tracing<{ messages: number; concurrency: number }>('A batch of messages', 'messages, concurrency'),
  render: tracing<{ template: string }>('One template render (subject, html, text)', 'template'),
  retry: event<{ transport: string; attempt: number; delayMs: number; code: string }>(
    'A temporary failure that is retried after a backoff',
    'transport, attempt, delayMs, code',
  ),
  failover: event<{ from: string; to: string; code: string }>(
    'A failover or round-robin set moved on from a failing transport',
    'from, to, code',
  ),
  breaker: event<{ transport: string; state: 'open' | 'closed' }>(
    'A transport of a failover set was put last in line (open) or back in its place (closed)',
    'transport, state',
  ),
  suppressed: event<{ recipients: number; transport: string }>(
    'Recipients skipped because they are on the suppression list',
    'recipients, transport',
  ),
  delivery: event<{ provider: string; type: string }>(
    'A verified delivery event from a provider webhook (delivered, bounced, complained...)',
    'provider, type',
  ),
  ready: tracing<{ transport: string }>('ready() checks the transport', 'transport'),
})
