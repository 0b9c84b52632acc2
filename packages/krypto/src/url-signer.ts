import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import {
  describeInstance,
  resolveConfig,
  toMs,
  type Duration,
  type InstanceDescription,
  type InstanceOptions,
} from '@beaver-kit/config'
import type { Instance } from '@beaver-kit/core'
import { parseKeyRing, type KeyRingInput } from './aead/key-ring.ts'
import { kryptoSchema, urlSignerSchema, type UrlSignerConfigOptions } from './config.ts'
import { shownAsOption } from './described.ts'
import { decodeBase64url } from './encoding.ts'
import { KryptoError, invalidArgument, type KryptoErrorCode } from './errors.ts'
import { deriveInternalKey } from './hkdf.ts'
import type { NonceStore } from './nonce-store.ts'

/** Names of the query parameters the signer adds. */
export interface UrlSignerParamNames {
  signature: string
  expires: string
  keyId: string
  nonce: string
  method: string
  params: string
  payload: string
}

/** Options of `createUrlSigner`: BEAVER_URLSIGNER_* settings plus keys, nonce store and clock. */
export interface UrlSignerOptions extends Omit<UrlSignerConfigOptions, 'keys'>, InstanceOptions {
  /** Master keys (`kid:base64` list); default BEAVER_URLSIGNER_KEYS, else BEAVER_KRYPTO_KEYS (both run through HKDF for this purpose). */
  keys?: KeyRingInput
  /** Where one-time nonces are recorded; needed to verify URLs signed with `oneTime: true`. */
  nonceStore?: NonceStore
  /** The clock in ms. Default Date.now. */
  now?: () => number
}

/** Per-URL options of `sign`. */
export interface SignUrlOptions {
  /** Lifetime; default the configured `defaultTtl` (30 minutes). */
  expiresIn?: Duration
  /** An absolute expiry instead of `expiresIn`. */
  expiresAt?: Date | number
  /** Bind the URL to one HTTP method (GET, DELETE, ...). */
  method?: string
  /** Bind only these query parameters (others may be added or changed freely). Default: every parameter is bound. */
  params?: readonly string[]
  /** Add a random nonce that the verifier accepts once (needs a nonce store when verifying). */
  oneTime?: boolean
  /** A JSON value carried in the URL, signed (not encrypted: do not put secrets in it). */
  payload?: unknown
}

/** Per-request options of `verify` and `check`. */
export interface VerifyUrlOptions {
  /** The method of the request, checked against the one the URL was signed for. */
  method?: string
  /** Overrides the signer's nonce store for this call. */
  nonceStore?: NonceStore
}

/** What a verified URL says. */
export interface SignedUrlInfo<P = unknown> {
  expiresAt: Date
  /** Milliseconds left. */
  remainingMs: number
  kid: string
  method: string | undefined
  nonce: string | undefined
  payload: P | undefined
}

/** Signs URLs with an expiry, bound to method and parameters, and verifies them with a precise reason. */
export interface UrlSigner extends Instance<InstanceDescription> {
  /** Returns the URL with `exp`, `kid`, optional `method`/`nonce`/`sp`/`payload` and `sig` added. A relative URL stays relative. */
  sign(url: string | URL, options?: SignUrlOptions): string
  /** Verifies the signature, method, expiry and one-time nonce; throws KRYPTO_URL_* with the reason. */
  verify<P = unknown>(url: string | URL, options?: VerifyUrlOptions): Promise<SignedUrlInfo<P>>
  /** Like `verify` but never throws: the reason is the error code. */
  check<P = unknown>(
    url: string | URL,
    options?: VerifyUrlOptions,
  ): Promise<{ ok: true; info: SignedUrlInfo<P> } | { ok: false; reason: KryptoErrorCode; error: KryptoError }>
  /** Milliseconds before the URL expires (negative once expired), from its `exp` WITHOUT checking the signature. */
  remainingValidity(url: string | URL): number
  /** True when the URL's (unverified) expiry has passed. */
  isExpired(url: string | URL): boolean
  readonly paramNames: Readonly<UrlSignerParamNames>
}

const BASE = 'http://relative.invalid'
const BASE_HOST = 'relative.invalid'

/**
 * Parses what sign() or verify() was given. A URL object is taken as its `href` and checked like
 * any string, so both forms go through one path (an object has been normalized already: pass
 * the request target as received, e.g. Node's `req.url`, or route by that same object).
 */
function parse(url: string | URL, use: 'sign' | 'verify'): { u: URL; relative: boolean; text: string } {
  const text = url instanceof URL ? url.href : url
  if (typeof text !== 'string') throw invalidArgument('A URL must be a string or URL')
  const refuse = (message: string): never => {
    throw use === 'sign' ? invalidArgument(message) : new KryptoError('KRYPTO_URL_TAMPERED', message)
  }
  // The URL parser silently drops tabs, newlines and leading or trailing controls; a signed URL
  // holding any of them was altered on the way, so it is refused rather than normalized.
  if (/[^\x21-\x7e]/.test(text))
    refuse('The URL contains whitespace, control or non-ASCII characters (percent-encode them)')
  const relative = !/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(text)
  let u: URL
  try {
    u = new URL(text, BASE)
  } catch {
    return refuse('The URL is not a valid URL')
  }
  // `//evil.example/x` (or `/\\evil.example/x`) has no scheme but names a host: as a relative URL
  // the host would be dropped without a word, so it is refused instead.
  if (relative && u.host !== BASE_HOST) {
    refuse(
      `The URL ${JSON.stringify(text.slice(0, 80))} names a host without a scheme; sign an absolute URL (https://host/path) or a path that starts with a single "/"`,
    )
  }
  return { u, relative, text }
}

function output(u: URL, relative: boolean): string {
  return relative ? `${u.pathname}${u.search}${u.hash}` : u.href
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '))
  } catch {
    // Broken percent-encoding: keep the raw text, which then matches no parameter name.
    return text
  }
}

/** Raw `name=value` pairs as written (percent-encoding kept, so re-encoding counts as tampering). */
function rawPairs(search: string): { name: string; pair: string }[] {
  if (search.length <= 1) return []
  return search
    .slice(1)
    .split('&')
    .filter((p) => p.length > 0)
    .map((pair) => {
      const eq = pair.indexOf('=')
      return { name: safeDecode(eq < 0 ? pair : pair.slice(0, eq)), pair }
    })
}

/** @internal Keys the URL signer falls back to when BEAVER_URLSIGNER_KEYS is unset, and where they came from. */
export interface UrlSignerFallbackKeys {
  keys: KeyRingInput | undefined
  /** The variable or option they came from, for describe(). */
  from: string
}

/**
 * Signs URLs for temporary access (downloads, unsubscribe, admin actions). The HMAC key is
 * derived with HKDF for this purpose only, so a signed URL can never pass as a token elsewhere.
 * Without BEAVER_URLSIGNER_KEYS (or `keys`) it uses the key ring of BEAVER_KRYPTO_KEYS.
 * @example
 * const signer = createUrlSigner({ keys: 'k1:...' })
 * const link = signer.sign('/files/42/download', { expiresIn: '10m', method: 'GET' })
 * const info = await signer.verify(req.url, { method: req.method })
 */
export function createUrlSigner(options: UrlSignerOptions = {}): UrlSigner {
  const { envPrefix, env } = options
  return buildUrlSigner(options, () => {
    if (envPrefix === false) return { keys: undefined, from: '' }
    const krypto = resolveConfig(kryptoSchema, { envPrefix, ...(env ? { env } : {}), unknown: 'ignore' })
    return { keys: krypto.values.keys, from: krypto.entries.find((e) => e.path === 'keys')?.name ?? '' }
  })
}

/** @internal `createUrlSigner` with the fallback key ring given by its caller (the krypto facade). */
export function buildUrlSigner(options: UrlSignerOptions, fallback: () => UrlSignerFallbackKeys): UrlSigner {
  const { keys, nonceStore, now = Date.now, envPrefix, env, ...configOptions } = options
  const resolved = resolveConfig(urlSignerSchema, { options: configOptions, envPrefix, ...(env ? { env } : {}) })
  const { values } = resolved
  const names: UrlSignerParamNames = Object.freeze({ ...values.params })
  const ownNames = new Set(Object.values(names))
  if (ownNames.size !== 7) throw invalidArgument('The URL signer parameter names must all differ')
  let keyInput: KeyRingInput | undefined = keys ?? values.keys
  // Only keys taken from elsewhere need a word in describe(); the schema's entries show the rest.
  let keysFrom: string | undefined
  if (keyInput === undefined) {
    const other = fallback()
    keyInput = other.keys
    if (keyInput !== undefined) keysFrom = other.from
  }
  const hmacKeys = new Map<string, Buffer>()
  let currentKid: string | undefined
  if (keyInput !== undefined) {
    for (const { kid, key } of parseKeyRing(keyInput)) {
      currentKid ??= kid
      hmacKeys.set(kid, deriveInternalKey(key, 'url-signer:v1'))
    }
  }
  const defaultTtl = values.defaultTtl
  const skew = values.clockSkew

  const prefix = envPrefix ?? 'BEAVER_'
  const missingKeys =
    envPrefix === false
      ? 'The URL signer has no key: pass keys in its options ("kid:base64key"; generateKeyRingEntry() makes one)'
      : `The URL signer has no key: set ${prefix}URLSIGNER_KEYS or ${prefix}KRYPTO_KEYS to "kid:base64key" (generateKeyRingEntry() makes one), or pass keys in its options`
  function requireKeys(): void {
    if (currentKid === undefined) throw new KryptoError('KRYPTO_KEYS_MISSING', missingKeys)
  }
  let closed = false

  function canonical(
    u: URL,
    fields: { method: string; exp: string; kid: string; nonce: string; payload: string; bound: string },
  ): string {
    const bound = fields.bound === '' ? undefined : new Set(fields.bound.split(','))
    const pairs = rawPairs(u.search)
      .filter((p) => !ownNames.has(p.name) && (bound === undefined || bound.has(p.name)))
      .map((p) => p.pair)
      .sort()
    return [
      'beaver-kit/urlsigner:v1',
      fields.method,
      values.bindOrigin ? u.origin : '',
      u.pathname,
      fields.exp,
      fields.kid,
      fields.nonce,
      fields.payload,
      fields.bound,
      pairs.join('&'),
    ].join('\n')
  }

  function mac(kid: string, text: string): Buffer {
    return createHmac('sha256', hmacKeys.get(kid) as Buffer)
      .update(text)
      .digest()
  }

  function fail(code: KryptoErrorCode, message: string, details?: Record<string, unknown>): never {
    throw new KryptoError(code, message, details ? { details } : {})
  }

  function readExp(url: string | URL): number {
    const { u } = parse(url, 'verify')
    const exp = u.searchParams.get(names.expires)
    if (exp === null || !/^\d{1,15}$/.test(exp))
      fail('KRYPTO_URL_UNSIGNED', `The URL has no valid "${names.expires}" parameter`)
    return Number(exp) * 1000
  }

  async function verify<P>(url: string | URL, opts: VerifyUrlOptions = {}): Promise<SignedUrlInfo<P>> {
    requireKeys()
    const { u, relative, text } = parse(url, 'verify')
    // Only the exact form the signer wrote is accepted: no case change of scheme or host, no
    // dot segments or default port spelled out. Equivalent spellings are refused, not normalized.
    if (output(u, relative) !== text)
      fail(
        'KRYPTO_URL_TAMPERED',
        'The URL is not in the form it was signed in (case, dot segments, port or encoding changed)',
      )
    const q = u.searchParams
    const one = (name: string): string | undefined => {
      const all = q.getAll(name)
      if (all.length > 1) fail('KRYPTO_URL_TAMPERED', `The URL repeats the "${name}" parameter`)
      return all[0]
    }
    const sig = one(names.signature)
    const exp = one(names.expires)
    if (sig === undefined || exp === undefined)
      fail('KRYPTO_URL_UNSIGNED', `The URL is not signed (no "${names.signature}" or "${names.expires}" parameter)`)
    const kid = one(names.keyId) ?? ''
    const method = one(names.method)
    const nonce = one(names.nonce)
    const payload = one(names.payload)
    const bound = one(names.params)
    const key = hmacKeys.get(kid)
    const sigBytes = decodeBase64url(sig)
    if (!/^\d{1,15}$/.test(exp) || key === undefined || !sigBytes || sigBytes.length !== 32) {
      fail(
        'KRYPTO_URL_TAMPERED',
        'The URL signature does not match (unknown key id, or a malformed signature or expiry)',
        { kid },
      )
    }
    const expected = mac(
      kid,
      canonical(u, { method: method ?? '', exp, kid, nonce: nonce ?? '', payload: payload ?? '', bound: bound ?? '' }),
    )
    if (!timingSafeEqual(expected, sigBytes))
      fail(
        'KRYPTO_URL_TAMPERED',
        'The URL signature does not match: its path, a bound parameter, the expiry or the signature was changed',
        { kid },
      )
    if (method !== undefined && opts.method !== undefined && opts.method.toUpperCase() !== method) {
      fail('KRYPTO_URL_WRONG_METHOD', `The URL was signed for ${method}, not ${opts.method.toUpperCase()}`, {
        expected: method,
        actual: opts.method,
      })
    }
    if (method !== undefined && opts.method === undefined)
      fail('KRYPTO_URL_WRONG_METHOD', `The URL was signed for ${method}; pass the request method to verify it`, {
        expected: method,
      })
    const expiresAt = Number(exp) * 1000
    const t = now()
    if (t >= expiresAt + skew)
      fail('KRYPTO_URL_EXPIRED', `The signed URL expired at ${new Date(expiresAt).toISOString()}`, { expiresAt })
    if (nonce !== undefined) {
      const store = opts.nonceStore ?? nonceStore
      if (!store)
        fail(
          'KRYPTO_INVALID_ARGUMENT',
          'This URL is one-time (it has a nonce) but the signer has no nonceStore to record it',
        )
      if (!(await store.consume(nonce, expiresAt + skew)))
        fail('KRYPTO_URL_REPLAYED', 'This one-time URL was already used')
    }
    let data: P | undefined
    if (payload !== undefined) {
      const bytes = decodeBase64url(payload)
      try {
        data = JSON.parse((bytes as Buffer).toString('utf8')) as P
      } catch {
        fail('KRYPTO_URL_TAMPERED', 'The URL payload is not JSON')
      }
    }
    return { expiresAt: new Date(expiresAt), remainingMs: expiresAt - t, kid, method, nonce, payload: data }
  }

  const signer: UrlSigner = {
    paramNames: names,
    sign(url, signOptions = {}) {
      requireKeys()
      const { u, relative } = parse(url, 'sign')
      for (const name of ownNames) {
        if (u.searchParams.has(name))
          throw invalidArgument(
            `The URL already has a "${name}" parameter, which the signer uses; rename it or change the signer's parameter names`,
          )
      }
      const expiresAtMs =
        signOptions.expiresAt !== undefined
          ? signOptions.expiresAt instanceof Date
            ? signOptions.expiresAt.getTime()
            : signOptions.expiresAt
          : now() + toMs(signOptions.expiresIn ?? defaultTtl, 'expiresIn')
      if (!Number.isFinite(expiresAtMs)) throw invalidArgument('The expiry is not a valid time')
      const exp = String(Math.ceil(expiresAtMs / 1000))
      const method = signOptions.method?.toUpperCase()
      if (method !== undefined && !/^[A-Z]+$/.test(method))
        throw invalidArgument(`Invalid HTTP method "${signOptions.method}"`)
      const bound = signOptions.params === undefined ? '' : [...new Set(signOptions.params)].sort().join(',')
      if (signOptions.params !== undefined && bound === '')
        throw invalidArgument('params must name at least one parameter (omit it to bind all)')
      const nonce = signOptions.oneTime ? randomBytes(16).toString('base64url') : ''
      const payload =
        signOptions.payload === undefined ? '' : Buffer.from(JSON.stringify(signOptions.payload)).toString('base64url')
      const kid = currentKid as string
      // Appended as text, so the caller's own encoding of the query (%20 vs +) is kept as written.
      const own: [string, string][] = [
        [names.expires, exp],
        [names.keyId, kid],
      ]
      if (method) own.push([names.method, method])
      if (nonce) own.push([names.nonce, nonce])
      if (bound) own.push([names.params, bound])
      if (payload) own.push([names.payload, payload])
      const append = (pairs: [string, string][]): void => {
        const text = pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')
        u.search = u.search.length > 1 ? `${u.search}&${text}` : `?${text}`
      }
      append(own)
      const sig = mac(kid, canonical(u, { method: method ?? '', exp, kid, nonce, payload, bound }))
      append([[names.signature, sig.toString('base64url')]])
      return output(u, relative)
    },
    verify,
    async check<P>(url: string | URL, opts?: VerifyUrlOptions) {
      try {
        return { ok: true as const, info: await verify<P>(url, opts) }
      } catch (err) {
        if (err instanceof KryptoError) return { ok: false as const, reason: err.code, error: err }
        throw err
      }
    },
    remainingValidity(url) {
      return readExp(url) - now()
    },
    isExpired(url) {
      return now() >= readExp(url) + skew
    },
    async ready() {
      if (closed) throw new KryptoError('KRYPTO_CLOSED', 'This URL signer was closed')
      requireKeys()
    },
    describe() {
      const entries = keys === undefined ? resolved.entries : shownAsOption(resolved.entries, 'keys')
      return describeInstance('urlsigner', envPrefix, entries, {
        keysFrom,
        currentKid,
      })
    },
    async close() {
      // Holds no resource (keys are plain buffers, the nonce store belongs to the caller); only ready() notices.
      closed = true
    },
    async [Symbol.asyncDispose]() {
      await signer.close()
    },
  }
  return signer
}
