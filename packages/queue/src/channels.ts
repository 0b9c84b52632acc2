import { defineChannels, event, tracing } from '@beaver-kit/core'

/** Every diagnostics channel of @beaver-kit/queue; the README's Diagnostics table is generated from it. */
export const channels = defineChannels('queue', {
  publish: tracing<{ queue: string; driver: string; count: number; ids?: string[] }>(
    'One publish or publishBatch',
    'queue, driver, count, ids (set when it resolves)',
  ),
  handle: tracing<{
    queue: string
    driver: string
    id: string
    attempt: number
    outcome?: string
    traceparent?: string | undefined
    tracestate?: string | undefined
  }>(
    'One handler run',
    'queue, driver, id, attempt, outcome (completed, retry, dead, released, cancelled), traceparent and tracestate (the W3C trace context the message was published in, if any)',
  ),
  retry: event<{ queue: string; id: string; attempt: number; delayMs: number; error: string }>(
    'A failed delivery was scheduled again',
    'queue, id, attempt, delayMs, error',
  ),
  dead: event<{ queue: string; id: string; attempt: number; reason: string; error: string }>(
    'A message went to the dead-letter queue',
    'queue, id, attempt, reason, error',
  ),
  leaseLost: event<{ queue: string; id: string }>(
    'A running message’s lease expired and it may run elsewhere; its handler is aborted',
    'queue, id',
  ),
  connection: event<{ driver: string; state: 'lost' | 'restored'; error?: unknown }>(
    'The backend went away or came back; consumers pause and resume on their own',
    'driver, state, error',
  ),
  ready: tracing<{ driver: string }>('ready() checks the backend', 'driver'),
})
