import { defineChannels, event, tracing } from '@beaver-kit/core'

/**
 * Every diagnostics channel of @beaver-kit/krypto; the README's Diagnostics table is generated
 * from it. Payloads carry algorithms, URLs (masked) and times, never a password, hash, key or token.
 */
export const channels = defineChannels('krypto', {
  passwordHash: tracing<{ algorithm: string }>('A password is hashed', 'algorithm'),
  passwordVerify: tracing<{ algorithm: string }>(
    'A password is checked against a stored hash',
    'algorithm (of the stored hash: argon2id, scrypt, bcrypt or unknown)',
  ),
  jwksFetch: tracing<{ url: string }>('The remote JWKS is fetched', 'url (credentials masked)'),
  jwksStale: event<{ url: string; error: unknown; fetchedAt: number }>(
    'A JWKS refresh failed and the keys fetched before keep serving',
    'url, error, fetchedAt (ms)',
  ),
})
