import { defineChannels, event, tracing } from '@beaver-kit/core'

/** Every diagnostics channel of @beaver-kit/audit; the README's Diagnostics table is generated from it. */
export const channels = defineChannels('audit', {
  record: tracing<{ store: string; stream: string; action: string }>(
    'record() appends one record to its chain',
    'store, stream, action',
  ),
  verify: tracing<{ store: string; stream: string }>('verify() walks a chain', 'store, stream'),
  anchor: event<{ stream: string; seq: number }>('a signed anchor was stored', 'stream, seq'),
  prune: event<{ stream: string; deleted: number; baseSeq: number }>(
    'retention deleted the start of a chain and moved its checkpoint',
    'stream, deleted, baseSeq',
  ),
  jobError: event<{ job: 'anchor' | 'retention'; error: unknown }>(
    'a background anchor or retention run failed (it runs again at the next interval)',
    'job, error',
  ),
})
