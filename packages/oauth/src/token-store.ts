import { toMs, type Duration } from '@beaver-kit/config'
import { createKeyRing, type KeyRing, type KeyRingInput } from '@beaver-kit/krypto'
import { OAuthError, isOAuthError } from './errors.ts'
import type { OAuth } from './oauth.ts'
import type { OAuthTokens } from './types.ts'

/** Where encrypted tokens are kept: any kit cache (memory, Redis, database driver) fits. */
export interface TokenBackend {
  get(key: string): Promise<unknown>
  set(key: string, value: string, options?: { ttl?: number }): Promise<void>
  delete(key: string): Promise<unknown>
}

/** Options of `createTokenStore`. */
export interface TokenStoreOptions {
  /** The OAuth instance that refreshes and revokes. */
  oauth: Pick<OAuth, 'refresh' | 'revoke'>
  /** The key ring that encrypts tokens at rest (`kid:base64,...` or a krypto KeyRing); keep it apart from the state keys. */
  keys: KeyRingInput | KeyRing
  /** Default: a Map in this process (tests, one process). */
  backend?: TokenBackend
  /** Refresh when the access token expires within this. Default 60 s. */
  refreshBefore?: Duration
  /** How long an entry is kept without being written again. Default 180 days. */
  ttl?: Duration
  now?: () => number
}

/** Provider tokens per user, encrypted at rest, refreshed before they expire, revoked on unlink. */
export interface TokenStore {
  save(userId: string, provider: string, tokens: OAuthTokens): Promise<void>
  /** The tokens, refreshed first when the access token is about to expire (one refresh at a time per user and provider). */
  get(userId: string, provider: string, options?: { signal?: AbortSignal }): Promise<OAuthTokens | undefined>
  /** A fresh access token; OAUTH_TOKEN_NOT_FOUND when none is stored. */
  accessToken(userId: string, provider: string, options?: { signal?: AbortSignal }): Promise<string>
  /**
   * Revokes at the provider, then forgets the tokens. When the provider refuses, the tokens are
   * kept and the error thrown (so the unlink can be retried) unless `force` is set.
   */
  unlink(userId: string, provider: string, options?: { force?: boolean; signal?: AbortSignal }): Promise<void>
}

function isKeyRing(keys: KeyRingInput | KeyRing): keys is KeyRing {
  return typeof (keys as KeyRing).encrypt === 'function'
}

function memoryBackend(): TokenBackend {
  const map = new Map<string, string>()
  return {
    get: (key) => Promise.resolve(map.get(key)),
    set: (key, value) => {
      map.set(key, value)
      return Promise.resolve()
    },
    delete: (key) => Promise.resolve(map.delete(key)),
  }
}

/**
 * An encrypted token store. Each entry is AES-256-GCM encrypted with the user id and provider as
 * associated data, so an entry copied to another user's key does not decrypt.
 * @example
 * const tokens = createTokenStore({ oauth, keys: process.env.TOKEN_KEYS!, backend: createCache({ namespace: 'oauth-tokens' }) })
 * await tokens.save(user.id, 'github', result.tokens)
 * const accessToken = await tokens.accessToken(user.id, 'github') // refreshed when near expiry
 */
export function createTokenStore(options: TokenStoreOptions): TokenStore {
  const ring = isKeyRing(options.keys) ? options.keys : createKeyRing(options.keys)
  const backend = options.backend ?? memoryBackend()
  const refreshBefore = toMs(options.refreshBefore ?? '60s', 'refreshBefore')
  const ttl = toMs(options.ttl ?? '180d', 'ttl')
  const now = options.now ?? Date.now
  const inflight = new Map<string, Promise<OAuthTokens | undefined>>()
  const keyOf = (userId: string, provider: string): string => `${provider}:${encodeURIComponent(userId)}`
  const aad = (userId: string, provider: string): string => `beaver-kit/oauth token\u0000${provider}\u0000${userId}`

  async function write(userId: string, provider: string, tokens: OAuthTokens): Promise<void> {
    const sealed = ring.encrypt(JSON.stringify(tokens), { associatedData: aad(userId, provider) })
    await backend.set(keyOf(userId, provider), sealed, { ttl })
  }

  async function read(userId: string, provider: string): Promise<OAuthTokens | undefined> {
    const sealed = await backend.get(keyOf(userId, provider))
    if (sealed === undefined || sealed === null) return undefined
    try {
      return JSON.parse(ring.decryptString(String(sealed), { associatedData: aad(userId, provider) })) as OAuthTokens
    } catch (err) {
      throw new OAuthError(
        'OAUTH_TOKEN_UNREADABLE',
        `The stored ${provider} tokens of this user do not decrypt (altered, moved, or a key left the ring)`,
        {
          cause: err,
          details: { provider },
        },
      )
    }
  }

  async function fresh(userId: string, provider: string, signal?: AbortSignal): Promise<OAuthTokens | undefined> {
    const tokens = await read(userId, provider)
    if (tokens === undefined) return undefined
    const due = tokens.expiresAt !== undefined && tokens.expiresAt - now() <= refreshBefore
    if (!due) return tokens
    if (tokens.refreshToken === undefined) {
      if ((tokens.expiresAt as number) > now()) return tokens
      throw new OAuthError(
        'OAUTH_REFRESH_UNAVAILABLE',
        `The ${provider} access token expired and there is no refresh token: sign in again`,
        {
          details: { provider },
        },
      )
    }
    const refreshed = await options.oauth.refresh(provider, tokens.refreshToken, signal ? { signal } : {})
    await write(userId, provider, refreshed)
    return refreshed
  }

  const store: TokenStore = {
    save: write,
    get(userId, provider, opts = {}) {
      const key = keyOf(userId, provider)
      let p = inflight.get(key)
      if (p === undefined) {
        p = fresh(userId, provider, opts.signal).finally(() => inflight.delete(key))
        inflight.set(key, p)
      }
      return p
    },
    async accessToken(userId, provider, opts = {}) {
      const tokens = await store.get(userId, provider, opts)
      if (tokens === undefined)
        throw new OAuthError(
          'OAUTH_TOKEN_NOT_FOUND',
          `No ${provider} tokens are stored for this user: link the account first`,
          {
            details: { provider },
          },
        )
      return tokens.accessToken
    },
    async unlink(userId, provider, opts = {}) {
      const tokens = await read(userId, provider).catch((err: unknown) => {
        if (opts.force) return undefined
        throw err
      })
      if (tokens !== undefined) {
        const token = tokens.refreshToken ?? tokens.accessToken
        const hint = tokens.refreshToken !== undefined ? 'refresh_token' : 'access_token'
        try {
          await options.oauth.revoke(provider, token, { hint, ...(opts.signal ? { signal: opts.signal } : {}) })
        } catch (err) {
          if (!opts.force && !isOAuthError(err, 'OAUTH_REVOKE_UNSUPPORTED')) throw err
        }
      }
      await backend.delete(keyOf(userId, provider))
    },
  }
  return store
}
