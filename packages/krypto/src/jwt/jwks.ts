import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto'
import { maskUrl, toMs, type Duration } from '@beaver-kit/config'
import { raceAbort, traceAsync } from '@beaver-kit/core'
import { channels } from '../channels.ts'
import { KryptoError } from '../errors.ts'
import { ALGORITHMS, checkKeyForAlgorithm, type JwsAlgorithm } from '../keys.ts'
import type { JwtHeader, JwtKeySource, JwtVerifyKey } from './types.ts'

/** Caching and fetching options of `createRemoteJwks`. */
export interface RemoteJwksOptions {
  /** How long a fetched key set is used before it is fetched again. Default 10 minutes. */
  cacheTtl?: Duration
  /**
   * Least time between two fetches: after a failure (before or after the first success) and on
   * an unknown `kid` (protects the issuer from a flood of forged kids). Default 30 s.
   */
  cooldown?: Duration
  /** Time allowed for one fetch, body included. Default 5 s. */
  timeout?: Duration
  /** Largest accepted response. Default 512 KiB. */
  maxBytes?: number
  /** Accept an `http://` URL (keys fetched in clear text can be replaced on the way). Default false. */
  allowHttp?: boolean
  /** Extra request headers. */
  headers?: Record<string, string>
  /** The fetch to use (default the global one, undici's). */
  fetch?: typeof fetch
  /** The clock in ms. Default Date.now. */
  now?: () => number
}

/** A remote JWKS with a TTL cache, deduplicated fetches and a rate-limited refresh on unknown `kid`. */
export interface RemoteJwks extends JwtKeySource {
  /** Fetches now (deduplicated with any fetch in flight); `signal` stops waiting for it. */
  refresh(options?: { signal?: AbortSignal }): Promise<void>
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

function fetchFailed(url: string, message: string, cause?: unknown, extra?: Record<string, unknown>): KryptoError {
  return new KryptoError('KRYPTO_JWKS_FETCH_FAILED', message, {
    ...(cause === undefined ? {} : { cause }),
    details: { url, ...extra },
  })
}

/** Public signature keys of a JWKS document; private members are dropped, never imported. */
function readKeySet(doc: unknown, url: string): Entry[] {
  const list = (doc as { keys?: unknown } | null)?.keys
  if (!Array.isArray(list)) throw fetchFailed(url, `The JWKS at ${url} has no "keys" array`)
  const out: Entry[] = []
  for (const item of list) {
    if (typeof item !== 'object' || item === null) continue
    const jwk = item as JsonWebKey
    if (jwk.use !== undefined && jwk.use !== 'sig') continue
    if (Array.isArray(jwk.key_ops) && !jwk.key_ops.includes('verify')) continue
    // Only public members are kept: a JWKS that leaks "d" must not turn into a private key here.
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, k: _k, ...publicJwk } = jwk
    if (algorithmsOf(publicJwk).length === 0) continue
    out.push({ jwk: publicJwk, imported: new Map() })
  }
  return out
}

/**
 * A key source that fetches a JSON Web Key Set over HTTPS and caches it. A token whose `kid` is
 * unknown triggers a refetch at most once per `cooldown`, and so does a failing issuer (before
 * its first success too); when a refresh fails, the keys already fetched keep serving (an event
 * on `beaver:krypto:jwksStale` says so). `http://` needs `allowHttp: true`.
 * @example
 * const jwt = createJwt({ jwks: createRemoteJwks('https://issuer.example/.well-known/jwks.json'), issuer: 'https://issuer.example' })
 * const claims = await jwt.verifyAsync(token)
 */
export function createRemoteJwks(url: string | URL, options: RemoteJwksOptions = {}): RemoteJwks {
  const target = new URL(url)
  const allowHttp = options.allowHttp === true
  if (target.protocol !== 'https:' && !(target.protocol === 'http:' && allowHttp)) {
    throw new KryptoError(
      'KRYPTO_INVALID_ARGUMENT',
      target.protocol === 'http:'
        ? `The JWKS URL ${maskUrl(target.href)} is http://: keys fetched in clear text can be replaced on the way; use https://, or set allowHttp (BEAVER_KRYPTO_JWT_JWKS_ALLOW_HTTP=true) for a trusted network`
        : `A JWKS URL must be https://, got ${target.protocol}`,
    )
  }
  const shown = maskUrl(target.href)
  const cacheTtl = toMs(options.cacheTtl ?? '10m', 'cacheTtl')
  const cooldown = toMs(options.cooldown ?? '30s', 'cooldown')
  const timeout = toMs(options.timeout ?? '5s', 'timeout')
  const maxBytes = options.maxBytes ?? 512 * 1024
  const doFetch = options.fetch ?? globalThis.fetch
  const now = options.now ?? Date.now
  const lifetime = new AbortController()
  let entries: Entry[] = []
  let fetchedAt: number | undefined
  let lastAttempt: number | undefined
  let lastError: unknown
  let inflight: Promise<void> | undefined
  let closed = false

  async function download(): Promise<unknown> {
    const signal = AbortSignal.any([lifetime.signal, AbortSignal.timeout(timeout)])
    const stopped = (err: unknown): KryptoError =>
      lifetime.signal.aborted
        ? new KryptoError('KRYPTO_CLOSED', 'This remote JWKS was closed', { cause: err })
        : signal.aborted
          ? fetchFailed(shown, `The JWKS at ${shown} did not arrive within ${timeout} ms`, err, { timeoutMs: timeout })
          : fetchFailed(shown, `Fetching the JWKS at ${shown} failed: ${(err as Error).message}`, err)
    let res: Response
    try {
      res = await doFetch(target, {
        headers: { accept: 'application/jwk-set+json, application/json', ...options.headers },
        signal,
        redirect: 'follow',
      })
    } catch (err) {
      throw stopped(err)
    }
    if (!res.ok) {
      await res.body?.cancel()
      throw fetchFailed(shown, `The JWKS at ${shown} answered HTTP ${res.status}`, undefined, { status: res.status })
    }
    // A redirect must not downgrade an https issuer to clear text.
    if (res.url && new URL(res.url).protocol === 'http:' && !allowHttp) {
      await res.body?.cancel()
      throw fetchFailed(shown, `The JWKS at ${shown} redirected to http://, which is refused without allowHttp`)
    }
    let text: string
    try {
      text = await readLimited(res, maxBytes, shown)
    } catch (err) {
      // The time limit covers the body: a server that stalls mid-body is a timeout, not a raw DOMException.
      throw err instanceof KryptoError ? err : stopped(err)
    }
    try {
      return JSON.parse(text)
    } catch (err) {
      throw fetchFailed(shown, `The JWKS at ${shown} is not JSON`, err)
    }
  }

  async function load(): Promise<void> {
    lastAttempt = now()
    try {
      entries = readKeySet(await download(), shown)
    } catch (err) {
      lastError = err
      throw err
    }
    lastError = undefined
    fetchedAt = now()
  }

  function refresh(opts: { signal?: AbortSignal } = {}): Promise<void> {
    if (closed) return Promise.reject(new KryptoError('KRYPTO_CLOSED', 'This remote JWKS was closed'))
    inflight ??= traceAsync(channels.jwksFetch, () => ({ url: shown }), load).finally(() => {
      inflight = undefined
    })
    return raceAbort(inflight, { signal: opts.signal })
  }

  const coolingDown = (t: number): boolean => lastAttempt !== undefined && t - lastAttempt < cooldown

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
      if (fetchedAt === undefined) {
        // Never fetched yet: a failing issuer is asked again only after the cooldown, however
        // many tokens arrive meanwhile; they get the last failure.
        if (coolingDown(t) && lastError !== undefined) throw lastError
        await refresh()
      } else if (t - fetchedAt >= cacheTtl && !coolingDown(t)) {
        // Stale: refetch; while the issuer is failing, the keys already fetched keep serving.
        try {
          await refresh()
        } catch (err) {
          if (channels.jwksStale.hasSubscribers) channels.jwksStale.publish({ url: shown, error: err, fetchedAt })
        }
      }
      let found = match(header)
      if (found.length === 0 && !coolingDown(now())) {
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
  const tooLarge = (): KryptoError => fetchFailed(url, `The JWKS at ${url} is larger than ${maxBytes} bytes`)
  const declared = Number(res.headers.get('content-length'))
  if (declared > maxBytes) {
    await res.body?.cancel()
    throw tooLarge()
  }
  if (!res.body) return ''
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of res.body) {
    size += chunk.byteLength
    if (size > maxBytes) throw tooLarge()
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}
