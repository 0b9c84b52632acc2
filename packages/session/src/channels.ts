import { defineChannels, event, tracing } from '@beaver-kit/core'

/** Every diagnostics channel of @beaver-kit/session; the README's Diagnostics table is generated from it. */
export const channels = defineChannels('session', {
  load: tracing<{ mode: string }>('load() reads the cookie (and the store)', 'mode'),
  save: tracing<{ mode: string; changed: number }>('a changed session is written', 'mode, changed (keys)'),
  rejected: event<{ reason: 'tampered' | 'expired' | 'revoked' | 'unknown' }>(
    'a cookie was refused and treated as no session',
    'reason',
  ),
  revoked: event<{ userId: string; sessions: number }>('sessions of a user were revoked', 'userId, sessions'),
})
