import { defineChannels, event, tracing } from '@beaver-kit/core'

/** Every diagnostics channel of @beaver-kit/oauth; the README's Diagnostics table is generated from it. */
export const channels = defineChannels('oauth', {
  discovery: tracing<{ provider: string }>('One fetch of a provider discovery document', 'provider'),
  callback: tracing<{ provider: string }>('One callback: state, code exchange, ID token, profile', 'provider'),
  tokenRequest: tracing<{ provider: string; grant: string }>(
    'One call to a token endpoint (authorization_code or refresh_token)',
    'provider, grant',
  ),
  rejected: event<{ provider: string; code: string }>(
    'A callback or ID token was refused (state replayed, wrong audience, ...); never carries tokens',
    'provider, code',
  ),
})
