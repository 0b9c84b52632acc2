import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto'
import { eventChannel, traceAsync, tracingChannel } from '@beaver-kit/core'
import { KryptoError } from './errors.ts'
import { ALGORITHMS, checkKeyForAlgorithm, type JwsAlgorithm } from './keys.ts'
import type { DurationInput, JwtHeader, JwtKeySource, JwtVerifyKey } from './jwt.ts'
import { parseDuration } from '@beaver-kit/config'

/** Caching and fetching options of `createRemoteJwks`. */
export interface RemoteJwksOptions {
  /** How long a fetched key set is used before it is fetched again. Default 10 minutes. */
  cacheTtl?: DurationInput
  /** Least time between two fetches triggered by an unknown `kid` (protects the issuer from a flood of forged kids). Default 30 s. */
  cooldown?: DurationInput
  /** Time allowed for one fetch. Default 5 s. */
  timeout?: DurationInput
  /** Largest accepted response. Default 512 KiB. */
  maxBytes?: number
  /** Extra request headers. */
  headers?: Record<string, string>
  /** The fetch to use (default the global one, undici's). */
  fetch?: typeof fetch
  /** The clock in ms. Default Date.now. */
  now?: () => number
}

/** A remote JWKS with a TTL cache, deduplicated fetches and a rate-limited refresh on unknown `kid`. */
export interface RemoteJwks extends JwtKeySource {
  /** Fetches now (deduplicated with any fetch in flight). */
  refresh(): Promise<void>
  /** The JWKs last fetched (public keys only). */
  readonly keys: readonly JsonWebKey[]
  /** When the cached set was fetched (ms), or undefined before the first fetch. */
  readonly fetchedAt: number | undefined
  /** Aborts a fetch in flight; later lookups throw KRYPTO_CLOSED. Idempotent. */
  close(): void
}

interface Entry {
  jwk: JsonWebKey
  imported: Map<JwsAlgorithm, KeyObject | null>
}

const staleChannel = eventChannel('krypto', 'jwks-stale')
const fetchChannel = tracingChannel<{ url: string }>('krypto', 'jwks-fetch')

function ms(value: DurationInput, fallback: string): number {
  return typeof value === 'number' ? value : parseDuration(value ?? fallback)
}

/** The JWS algorithms a JWK can serve, from its `alg` or its key type and curve. */
function algorithmsOf(jwk: JsonWebKey): JwsAlgorithm[] {
  if (typeof jwk.alg === 'string')
    return Object.hasOwn(ALGORITHMS, jwk.alg) && jwk.alg.startsWith('HS') === false ? [jwk.alg as JwsAlgorithm] : []
  switch (jwk.kty) {
    case 'RSA':
      return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']
    case 'EC':
      return jwk.crv === 'P-256' ? ['ES256'] : jwk.crv === 'P-384' ? ['ES384'] : jwk.crv === 'P-521' ? ['ES512'] : []
    case 'OKP':
      return jwk.crv === 'Ed25519' || jwk.crv === 'Ed448' ? ['EdDSA'] : []
    default:
      // Symmetric keys are never taken from a remote set.
      return []
  }
}

/**
 * A key source that fetches a JSON Web Key Set over HTTP(S) and caches it. A token whose `kid`
 * is unknown triggers a refetch at most once per `cooldown`; when a refresh fails, the keys
 * already fetched keep serving (an event on `beaver:krypto:jwks-stale` says so).
 * @example
 * const jwt = createJwt({ jwks: createRemoteJwks('https://issuer.example/.well-known/jwks.json'), issuer: 'https://issuer.example' })
 * const claims = await jwt.verifyAsync(token)
 */
export function createRemoteJwks(url: string | URL, options: RemoteJwksOptions = {}): RemoteJwks {
  const target = new URL(url)
  if (target.protocol !== 'https:' && target.protocol !== 'http:') {
    throw new KryptoError('KRYPTO_INVALID_ARGUMENT', `A JWKS URL must be http(s), got ${target.protocol}`)
  }
  const cacheTtl = ms(options.cacheTtl ?? '10m', '10m')
  const cooldown = ms(options.cooldown ?? '30s', '30s')
  const timeout = ms(options.timeout ?? '5s', '5s')
  const maxBytes = options.maxBytes ?? 512 * 1024
  const doFetch = options.fetch ?? globalThis.fetch
  const now = options.now ?? Date.now
  const lifetime = new AbortController()
  let entries: Entry[] = []
  let fetchedAt: number | undefined
  let lastAttempt: number | undefined
  let inflight: Promise<void> | undefined
  let closed = false

  async function load(): Promise<void> {
    lastAttempt = now()
    let res: Response
    try {
      res = await doFetch(target, {
        headers: { accept: 'application/jwk-set+json, application/json', ...options.headers },
        signal: AbortSignal.any([lifetime.signal, AbortSignal.timeout(timeout)]),
        redirect: 'follow',
      })
    } catch (err) {
      throw new KryptoError(
        'KRYPTO_JWKS_FETCH_FAILED',
        `Fetching the JWKS at ${target.href} failed: ${(err as Error).message}`,
        { cause: err, details: { url: target.href } },
      )
    }
    if (!res.ok) {
      await res.body?.cancel()
      throw new KryptoError('KRYPTO_JWKS_FETCH_FAILED', `The JWKS at ${target.href} answered HTTP ${res.status}`, {
        details: { url: target.href, status: res.status },
      })
    }
    const text = await readLimited(res, maxBytes, target.href)
    let doc: unknown
    try {
      doc = JSON.parse(text)
    } catch (err) {
      throw new KryptoError('KRYPTO_JWKS_FETCH_FAILED', `The JWKS at ${target.href} is not JSON`, {
        cause: err,
        details: { url: target.href },
      })
    }
    const list = (doc as { keys?: unknown } | null)?.keys
    if (!Array.isArray(list))
      throw new KryptoError('KRYPTO_JWKS_FETCH_FAILED', `The JWKS at ${target.href} has no "keys" array`, {
        details: { url: target.href },
      })
    const next: Entry[] = []
    for (const item of list) {
      if (typeof item !== 'object' || item === null) continue
      const jwk = item as JsonWebKey
      if (jwk.use !== undefined && jwk.use !== 'sig') continue
      if (Array.isArray(jwk.key_ops) && !jwk.key_ops.includes('verify')) continue
      // Only public members are kept: a JWKS that leaks "d" must not turn into a private key here.
      const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, k: _k, ...publicJwk } = jwk
      if (algorithmsOf(publicJwk).length === 0) continue
      next.push({ jwk: publicJwk, imported: new Map() })
    }
    entries = next
    fetchedAt = now()
  }

  function refresh(): Promise<void> {
    if (closed) return Promise.reject(new KryptoError('KRYPTO_CLOSED', 'This remote JWKS was closed'))
    inflight ??= traceAsync(fetchChannel, () => ({ url: target.href }), load).finally(() => {
      inflight = undefined
    })
    return inflight
  }

  function match(header: JwtHeader): JwtVerifyKey[] {
    const out: JwtVerifyKey[] = []
    for (const e of entries) {
      if (header.kid !== undefined && e.jwk.kid !== header.kid) continue
      if (!algorithmsOf(e.jwk).includes(header.alg)) continue
      let key = e.imported.get(header.alg)
      if (key === undefined) {
        try {
          key = checkKeyForAlgorithm(createPublicKey({ key: e.jwk, format: 'jwk' }), header.alg, 'verify')
        } catch {
          key = null
        }
        e.imported.set(header.alg, key)
      }
      if (key) out.push({ kid: typeof e.jwk.kid === 'string' ? e.jwk.kid : undefined, alg: header.alg, key })
    }
    return out
  }

  return {
    get keys() {
      return entries.map((e) => e.jwk)
    },
    get fetchedAt() {
      return fetchedAt
    },
    refresh,
    async getKeys(header) {
      if (closed) throw new KryptoError('KRYPTO_CLOSED', 'This remote JWKS was closed')
      const t = now()
      const stale = fetchedAt !== undefined && t - fetchedAt >= cacheTtl
      // While the issuer is failing, stale keys keep serving and a new attempt waits for the cooldown.
      if (fetchedAt === undefined || (stale && (lastAttempt === undefined || t - lastAttempt >= cooldown))) {
        try {
          await refresh()
        } catch (err) {
          if (fetchedAt === undefined) throw err
          if (staleChannel.hasSubscribers) staleChannel.publish({ url: target.href, error: err, fetchedAt })
        }
      }
      let found = match(header)
      if (found.length === 0 && (lastAttempt === undefined || now() - lastAttempt >= cooldown)) {
        await refresh()
        found = match(header)
      }
      return found
    },
    close() {
      if (closed) return
      closed = true
      lifetime.abort(new KryptoError('KRYPTO_CLOSED', 'This remote JWKS was closed'))
    },
  }
}

async function readLimited(res: Response, maxBytes: number, url: string): Promise<string> {
  const declared = Number(res.headers.get('content-length'))
  if (declared > maxBytes) {
    await res.body?.cancel()
    throw new KryptoError('KRYPTO_JWKS_FETCH_FAILED', `The JWKS at ${url} is larger than ${maxBytes} bytes`, {
      details: { url },
    })
  }
  if (!res.body) return ''
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of res.body) {
    size += chunk.byteLength
    if (size > maxBytes)
      throw new KryptoError('KRYPTO_JWKS_FETCH_FAILED', `The JWKS at ${url} is larger than ${maxBytes} bytes`, {
        details: { url },
      })
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}
