import { defineChannels, event, tracing } from '@beaver-kit/core'

/** Every diagnostics channel of @beaver-kit/ratelimit; the README's Diagnostics table is generated from it. */
export const channels = defineChannels('ratelimit', {
  limit: tracing<{ store: string; keys: number; cost: number }>(
    'limit()/limitAll() asks the store',
    'store, keys (how many limits), cost',
  ),
  denied: event<{ key: string; retryAfterMs: number; shadow: boolean }>(
    'a request was refused (or would have been, in shadow mode)',
    'key (hashed when long), retryAfterMs, shadow',
  ),
  storeError: event<{ store: string; error: unknown; policy: 'open' | 'closed' }>(
    'the store failed; the failure policy decided instead',
    'store, error, policy',
  ),
})
