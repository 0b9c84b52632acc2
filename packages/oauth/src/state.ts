import { createHash, randomBytes } from 'node:crypto'
import { createMemoryNonceStore, timingSafeEqualString, type KeyRing } from '@beaver-kit/krypto'
import { OAuthError } from './errors.ts'

/** Records one-time state ids: `consume` is true the first time an id is seen, false afterwards. */
export interface ReplayStore {
  consume(id: string, expiresAt: number): boolean | Promise<boolean>
}

/** Any kit cache (or anything with an atomic increment and a TTL) as a replay store shared by processes. */
export interface IncrementingStore {
  increment(key: string, by?: number, options?: { ttl?: number }): Promise<number>
}

/**
 * A replay store on a kit cache: `increment` is atomic on every driver that has it (memory,
 * Redis, SQL), so two processes that receive the same state agree that only one saw it first.
 * @example
 * createOAuth({ replayStore: cacheReplayStore(createCache({ driver: 'redis', namespace: 'oauth-state' })) })
 */
export function cacheReplayStore(cache: IncrementingStore, options: { now?: () => number } = {}): ReplayStore {
  const now = options.now ?? Date.now
  return {
    async consume(id, expiresAt) {
      const ttl = Math.max(1000, expiresAt - now())
      return (await cache.increment(`state:${id}`, 1, { ttl })) === 1
    },
  }
}

/** The memory replay store of one process (the default). */
export function memoryReplayStore(options: { now?: () => number; maxEntries?: number } = {}): ReplayStore {
  return createMemoryNonceStore(options)
}

/** What the encrypted state carries from authorize() to the callback. */
export interface StatePayload {
  /** Provider name. */
  p: string
  /** PKCE code verifier. */
  v: string
  /** OIDC nonce. */
  n: string
  /** Return URL (a relative path). */
  r: string
  /** SHA-256 of the browser binding (the cookie value). */
  b: string
  /** Expiry, ms since the epoch. */
  e: number
  /** One-time id. */
  j: string
}

/** A new state for one sign-in: the value for the `state` parameter and the cookie value that binds it. */
export interface IssuedState {
  state: string
  binding: string
  payload: StatePayload
}

const AAD = 'beaver-kit/oauth state'
// A state we issue is ~400 characters; anything far larger is refused before decryption.
const MAX_STATE_LENGTH = 4096

const random = (bytes: number): string => randomBytes(bytes).toString('base64url')
const digest = (value: string): string => createHash('sha256').update(value).digest('base64url')

/** Stateless, encrypted, browser-bound, single-use OAuth state (AES-256-GCM from the krypto key ring). */
export interface StateCodec {
  issue(provider: string, returnTo: string): IssuedState
  open(state: string | undefined, binding: string | undefined, provider: string): Promise<StatePayload>
}

export function createStateCodec(options: {
  ring: KeyRing
  ttlMs: number
  replay: ReplayStore
  now: () => number
}): StateCodec {
  const { ring, ttlMs, replay, now } = options
  return {
    issue(provider, returnTo) {
      const binding = random(32)
      const payload: StatePayload = {
        p: provider,
        v: random(48),
        n: random(24),
        r: returnTo,
        b: digest(binding),
        e: now() + ttlMs,
        j: random(18),
      }
      return { state: ring.encrypt(JSON.stringify(payload), { associatedData: AAD }), binding, payload }
    },
    async open(state, binding, provider) {
      if (state === undefined || state === '')
        throw new OAuthError('OAUTH_STATE_MISSING', 'The callback has no "state" parameter: start the sign-in again')
      if (state.length > MAX_STATE_LENGTH)
        throw new OAuthError(
          'OAUTH_STATE_INVALID',
          `The "state" parameter is longer than ${MAX_STATE_LENGTH} characters`,
        )
      let payload: StatePayload
      try {
        payload = JSON.parse(ring.decryptString(state, { associatedData: AAD })) as StatePayload
      } catch (err) {
        throw new OAuthError(
          'OAUTH_STATE_INVALID',
          'The "state" parameter was not issued by this service or was altered',
          {
            cause: err,
          },
        )
      }
      if (now() > payload.e)
        throw new OAuthError('OAUTH_STATE_EXPIRED', 'The sign-in took too long (state expired): start it again', {
          details: { expiredAt: new Date(payload.e).toISOString() },
        })
      if (payload.p !== provider)
        throw new OAuthError(
          'OAUTH_STATE_MISMATCH',
          `The state was issued for provider "${payload.p}", not "${provider}"`,
        )
      if (binding === undefined || binding === '' || !timingSafeEqualString(digest(binding), payload.b))
        throw new OAuthError(
          'OAUTH_STATE_MISMATCH',
          'The state belongs to another browser (its binding cookie is missing or different): start the sign-in again',
        )
      if (!(await replay.consume(payload.j, payload.e)))
        throw new OAuthError('OAUTH_STATE_REPLAYED', 'This state was already used: a callback is accepted once')
      return payload
    },
  }
}

function hasControlOrBackslash(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c < 0x20 || c === 0x7f || c === 0x5c) return true
  }
  return false
}

/** PKCE S256 challenge of a verifier (RFC 7636). */
export function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url')
}

/**
 * A return URL the callback may send the browser to: a path on this site only (`/account`),
 * never `//evil.example` or `https://...` (an open redirect).
 */
export function checkReturnTo(returnTo: string | undefined): string {
  if (returnTo === undefined || returnTo === '') return '/'
  if (
    returnTo.length > 2048 ||
    !returnTo.startsWith('/') ||
    returnTo.startsWith('//') ||
    returnTo.startsWith('/\\') ||
    hasControlOrBackslash(returnTo)
  )
    throw new OAuthError(
      'OAUTH_RETURN_URL_INVALID',
      `returnTo must be a path on this site starting with one "/" (got ${JSON.stringify(returnTo.slice(0, 80))})`,
    )
  return returnTo
}
