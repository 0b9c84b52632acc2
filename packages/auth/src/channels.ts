import { defineChannels, event, tracing } from '@beaver-kit/core'
import type { AuthEvent } from './events.ts'

/** Every diagnostics channel of @beaver-kit/auth; the README's Diagnostics table is generated from it. */
export const channels = defineChannels('auth', {
  ready: tracing<{ store: string }>('ready() opens the store (and migrates its tables)', 'store'),
  login: tracing<{ store: string }>('one login attempt, password check included', 'store'),
  register: tracing<{ store: string }>('one registration', 'store'),
  refresh: tracing<{ store: string }>('one refresh-token rotation', 'store'),
  authenticate: tracing<{ scheme: 'bearer' | 'apiKey' | 'session' | 'none' }>(
    'authenticate() reads a request',
    'scheme',
  ),
  event: event<AuthEvent>(
    'every flow’s audit event (also given to the onEvent sink)',
    'type, outcome, userId, reason, target, ip, userAgent, at (never a secret)',
  ),
})
