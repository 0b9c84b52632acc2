import { defineChannels, event, tracing } from '@beaver-kit/core'

/** Every diagnostics channel of @beaver-kit/sms; the README's Diagnostics table is generated from it. */
export const channels = defineChannels('sms', {
  send: tracing<{ driver: string; segments: number; sentBy?: string | undefined }>(
    'One message: checks, opt-out list, driver',
    'driver, segments, sentBy',
  ),
  sendBatch: tracing<{ messages: number; concurrency: number }>('A batch of messages', 'messages, concurrency'),
  retry: event<{ driver: string; attempt: number; delayMs: number; code: string }>(
    'A temporary failure retried after a backoff',
    'driver, attempt, delayMs, code',
  ),
  failover: event<{ from: string; to: string; code: string }>(
    'A failover or round-robin set moved on from a failing driver',
    'from, to, code',
  ),
  breaker: event<{ driver: string; state: 'open' | 'closed' }>(
    'A driver of a failover set was put last in line (open) or back (closed)',
    'driver, state',
  ),
  optOut: event<{ provider: string; action: 'stop' | 'start' }>(
    'A number opted out (STOP) or back in (START) by an inbound message',
    'provider, action',
  ),
  inbound: event<{ provider: string; keyword: string | undefined }>('A verified inbound message', 'provider, keyword'),
  status: event<{ provider: string; type: string }>(
    'A verified delivery-status callback (sent, delivered, failed)',
    'provider, type',
  ),
  slack: tracing<{ attempt: number; status?: number | undefined }>('One Slack webhook notification', 'attempt, status'),
  ready: tracing<{ driver: string }>('ready() checks the driver', 'driver'),
})
