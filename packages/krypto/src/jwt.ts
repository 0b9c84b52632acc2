import { KeyObject, createHash, randomUUID, type JsonWebKey } from 'node:crypto'
import { parseDuration } from '@beaver-kit/config'
import { decodeBase64url } from './encoding.ts'
import { PreparedHmac } from './hmac.ts'
import { KryptoError, invalidArgument, type KryptoErrorCode } from './errors.ts'
import {
  ALGORITHMS,
  checkKeyForAlgorithm,
  defaultAlgorithmFor,
  exportKey,
  importKey,
  isJwsAlgorithm,
  publicKeyOf,
  signBytes,
  verifyBytes,
  type JwsAlgorithm,
  type KeyInput,
} from './keys.ts'

/** The registered claims (RFC 7519 section 4.1). Times are seconds since the epoch. */
export interface JwtClaims {
  iss?: string
  sub?: string
  aud?: string | string[]
  exp?: number
  nbf?: number
  iat?: number
  jti?: string
}

/** A decoded payload: the registered claims plus anything else the issuer put in. */
export type JwtPayload = JwtClaims & { [claim: string]: unknown }

/** The protected header as this package reads it. */
export interface JwtHeader {
  alg: JwsAlgorithm
  kid?: string
  typ?: string
  [name: string]: unknown
}

/** One key of a JWT key set. */
export interface JwtKeyInput {
  /** PEM, JWK, raw secret bytes or a KeyObject. */
  key: KeyInput
  /** Key id put in the header and used to pick the key; asymmetric keys default to their RFC 7638 thumbprint. */
  kid?: string
  /** The one algorithm this key is used with. Default: the natural one for the key (HS256 for a 32-byte secret, ES256 for P-256, ...). */
  alg?: JwsAlgorithm
}

/** Milliseconds, or a duration string such as `15m`. */
export type DurationInput = number | string

/** Options of `createJwt`: the key set and the defaults of every sign and verify. */
export interface JwtOptions {
  /** The key set: the first key signs, every key verifies (rotation: put the new key first, keep the old ones). */
  keys?: readonly (JwtKeyInput | KeyObject | Uint8Array)[]
  /** Where to find keys whose `kid` is not local (for `verifyAsync`), e.g. `createRemoteJwks(url)`. */
  jwks?: JwtKeySource
  /** `iss` put on signed tokens (the first) and accepted on verification (any). */
  issuer?: string | readonly string[]
  /** `aud` put on signed tokens and accepted on verification (any one must match). */
  audience?: string | readonly string[]
  /** Lifetime of signed tokens. Default 15 minutes; `false` signs tokens without `exp`. */
  expiresIn?: DurationInput | false
  /** Tolerance for `exp`, `nbf` and `iat` when verifying. Default 30 s. */
  clockSkew?: DurationInput
  /** Reject tokens whose `iat` is older than this. */
  maxAge?: DurationInput
  /** Claims that must be present. Default `['exp']`: a token that never expires is refused. */
  requiredClaims?: readonly string[]
  /** Expected header `typ` (compared case-insensitively, `application/` prefix ignored), e.g. `at+jwt`. */
  typ?: string
  /** Put a random `jti` on signed tokens. Default true. */
  jti?: boolean
  /** The clock, in milliseconds. Default Date.now. */
  now?: () => number
}

/** Per-token options of `sign`; they override the instance defaults. */
export interface SignOptions {
  expiresIn?: DurationInput | false
  /** `nbf` as a delay from now. */
  notBefore?: DurationInput
  subject?: string
  audience?: string | readonly string[]
  issuer?: string
  jwtId?: string
  /** Sign with this key id of the set instead of the first key. */
  kid?: string
  /** Extra protected header parameters (`alg` and `kid` cannot be overridden). */
  header?: Record<string, unknown>
}

/** Per-call options of `verify`; they override the instance defaults. */
export interface VerifyOptions<T> {
  audience?: string | readonly string[]
  issuer?: string | readonly string[]
  subject?: string
  maxAge?: DurationInput
  requiredClaims?: readonly string[]
  typ?: string
  /** Narrows the payload to `T` (a schema's parse function); a throw becomes KRYPTO_JWT_CLAIM_INVALID. */
  validate?: (payload: JwtPayload) => T
}

/** A verified token. */
export interface VerifiedJwt<T> {
  header: JwtHeader
  payload: T
}

/** A key ready for verification. */
export interface JwtVerifyKey {
  kid: string | undefined
  alg: JwsAlgorithm
  key: KeyObject
}

/** Where `verifyAsync` finds keys it does not hold locally (a remote JWKS). */
export interface JwtKeySource {
  /** Keys that may verify a token with this header; an empty array when none. */
  getKeys(header: JwtHeader): Promise<readonly JwtVerifyKey[]>
  close?(): void | Promise<void>
}

/** Signs and verifies JWTs with a key set (see `createJwt`). */
export interface Jwt {
  /** Signs a payload; `iat`, `exp`, `jti`, `iss` and `aud` are added from the options. */
  sign<P extends object>(payload: P, options?: SignOptions): string
  /** Verifies against the local keys, synchronously, and returns the payload. */
  verify<T = JwtPayload>(token: string, options?: VerifyOptions<T>): T
  /** Like `verify`, returning the header too. */
  verifyComplete<T = JwtPayload>(token: string, options?: VerifyOptions<T>): VerifiedJwt<T>
  /** Verifies against local keys, then the remote key source (JWKS) for an unknown `kid`. */
  verifyAsync<T = JwtPayload>(token: string, options?: VerifyOptions<T>): Promise<T>
  /** The public keys of the set as a JWKS document, to publish at `/.well-known/jwks.json`. */
  jwks(): { keys: JsonWebKey[] }
  /** The key id that signs, if any. */
  readonly currentKid: string | undefined
}

interface PreparedKey extends JwtVerifyKey {
  signKey: KeyObject | undefined
  /** The cached base64url header for the default typ. */
  headerB64: string
  /** The prepared HMAC of an HS* key (pads computed once). */
  hmac: PreparedHmac | undefined
  /** Length of the base64url signature for HMAC keys. */
  sigLength: number
}

const HEADER_CACHE_LIMIT = 256

function toMs(value: DurationInput, what: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0)
      throw invalidArgument(`${what} must be a non-negative number of ms, got ${value}`)
    return value
  }
  try {
    return parseDuration(value)
  } catch (err) {
    throw invalidArgument(`${what}: ${(err as Error).message}`)
  }
}

function asList(value: string | readonly string[] | undefined): readonly string[] | undefined {
  if (value === undefined) return undefined
  return typeof value === 'string' ? [value] : value
}

function fail(code: KryptoErrorCode, message: string, details?: Record<string, unknown>): never {
  throw new KryptoError(code, message, details ? { details } : {})
}

/** The RFC 7638 JWK thumbprint (SHA-256, base64url) of a key's public part. */
export function jwkThumbprint(key: KeyObject): string {
  const jwk = key.type === 'secret' ? key.export({ format: 'jwk' }) : publicKeyOf(key).export({ format: 'jwk' })
  let members: Record<string, unknown>
  switch (jwk.kty) {
    case 'EC':
      members = { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
      break
    case 'RSA':
      members = { e: jwk.e, kty: jwk.kty, n: jwk.n }
      break
    case 'OKP':
      members = { crv: jwk.crv, kty: jwk.kty, x: jwk.x }
      break
    default:
      members = { k: jwk.k, kty: jwk.kty }
  }
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url')
}

function b64json(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

function prepareKey(input: JwtKeyInput | KeyObject | Uint8Array): PreparedKey {
  const entry: JwtKeyInput = input instanceof Uint8Array || input instanceof KeyObject ? { key: input } : input
  const { key: raw, kid: givenKid, alg: givenAlg } = entry
  const key = importKey(raw)
  const alg = givenAlg ?? defaultAlgorithmFor(key)
  if (!isJwsAlgorithm(alg)) throw invalidArgument(`Unknown JWS algorithm "${String(alg)}"`)
  const verifyKey = checkKeyForAlgorithm(key, alg, 'verify')
  const signKey = key.type === 'public' ? undefined : checkKeyForAlgorithm(key, alg, 'sign')
  const kid = givenKid ?? (key.type === 'secret' ? undefined : jwkThumbprint(key))
  const spec = ALGORITHMS[alg]
  const header: Record<string, unknown> = { alg, typ: 'JWT' }
  if (kid !== undefined) header.kid = kid
  return {
    kid,
    alg,
    key: verifyKey,
    signKey,
    headerB64: b64json(header),
    hmac: spec.kind === 'hmac' ? new PreparedHmac(spec.hash as 'sha256', verifyKey) : undefined,
    sigLength: Math.ceil((spec.size * 4) / 3),
  }
}

/** Equality whose time depends only on the (public) length, not on where the strings differ. */
function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i)
  return diff === 0
}

function normalizeTyp(typ: string): string {
  const lower = typ.toLowerCase()
  return lower.startsWith('application/') ? lower.slice(12) : lower
}

function parseHeader(segment: string): JwtHeader {
  const bytes = decodeBase64url(segment)
  if (!bytes) fail('KRYPTO_JWT_MALFORMED', 'The JWT header is not canonical base64url')
  let header: unknown
  try {
    header = JSON.parse(bytes.toString('utf8'))
  } catch {
    fail('KRYPTO_JWT_MALFORMED', 'The JWT header is not JSON')
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    fail('KRYPTO_JWT_MALFORMED', 'The JWT header is not a JSON object')
  const h = header as Record<string, unknown>
  if (!isJwsAlgorithm(h.alg)) {
    fail(
      'KRYPTO_JWT_ALGORITHM_NOT_ALLOWED',
      `The JWT algorithm ${JSON.stringify(h.alg)} is not accepted (never "none")`,
      { alg: h.alg },
    )
  }
  if (h.kid !== undefined && typeof h.kid !== 'string')
    fail('KRYPTO_JWT_MALFORMED', 'The JWT header "kid" is not a string')
  if (h.typ !== undefined && typeof h.typ !== 'string')
    fail('KRYPTO_JWT_MALFORMED', 'The JWT header "typ" is not a string')
  // No extension is understood, so any critical one must be refused (RFC 7515 4.1.11); b64:false changes the signing input.
  if (h.crit !== undefined)
    fail('KRYPTO_JWT_MALFORMED', 'The JWT header lists critical extensions this verifier does not understand')
  if (h.b64 !== undefined) fail('KRYPTO_JWT_MALFORMED', 'Unencoded JWS payloads (b64) are not accepted for JWTs')
  if (h.enc !== undefined) fail('KRYPTO_JWT_MALFORMED', 'The token is a JWE; only signed JWTs are verified here')
  return Object.freeze(h) as JwtHeader
}

/**
 * Reads a JWT's header and payload WITHOUT verifying anything: for routing and debugging only,
 * never for trust decisions.
 */
export function decodeJwtUnverified(token: string): { header: JwtHeader; payload: JwtPayload } {
  const parts = typeof token === 'string' ? token.split('.') : []
  if (parts.length !== 3) fail('KRYPTO_JWT_MALFORMED', 'A JWT has three dot-separated segments')
  return { header: parseHeader(parts[0] as string), payload: parsePayload(parts[1] as string) }
}

function parsePayload(segment: string): JwtPayload {
  const bytes = decodeBase64url(segment)
  if (bytes === undefined) fail('KRYPTO_JWT_MALFORMED', 'The JWT payload is not canonical base64url')
  let payload: unknown
  try {
    payload = JSON.parse(bytes.toString('utf8'))
  } catch {
    fail('KRYPTO_JWT_MALFORMED', 'The JWT payload is not JSON')
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload))
    fail('KRYPTO_JWT_MALFORMED', 'The JWT payload is not a JSON object')
  return payload as JwtPayload
}

/**
 * A JWT signer/verifier over a key set. The hot path (HS256 verify) runs on node:crypto
 * directly and enforces the JOSE rules: one algorithm per key (no `none`, no HMAC with a
 * public key), strict base64url and JSON, registered claim types, and time claims with skew.
 * @example
 * const jwt = createJwt({ keys: [{ kid: '2026-11', key: secret }], issuer: 'links', audience: 'links-api' })
 * const token = jwt.sign({ sub: 'user-1', role: 'admin' })
 * const claims = jwt.verify<{ sub: string; role: string }>(token)
 */
export function createJwt(options: JwtOptions = {}): Jwt {
  const keys = (options.keys ?? []).map(prepareKey)
  const byKid = new Map<string, PreparedKey>()
  const anonymous: PreparedKey[] = []
  for (const k of keys) {
    if (k.kid === undefined) anonymous.push(k)
    else if (byKid.has(k.kid)) throw invalidArgument(`Two JWT keys share the kid "${k.kid}"`)
    else byKid.set(k.kid, k)
  }
  const signer = keys[0]
  const now = options.now ?? Date.now
  const issuers = asList(options.issuer)
  const audiences = asList(options.audience)
  const defaultExpires = options.expiresIn === false ? false : toMs(options.expiresIn ?? '15m', 'expiresIn')
  const skewS = toMs(options.clockSkew ?? '30s', 'clockSkew') / 1000
  const defaultMaxAge = options.maxAge === undefined ? undefined : toMs(options.maxAge, 'maxAge') / 1000
  const defaultRequired = options.requiredClaims ?? ['exp']
  const defaultTyp = options.typ === undefined ? undefined : normalizeTyp(options.typ)
  const addJti = options.jti ?? true
  const source = options.jwks
  const headerCache = new Map<string, JwtHeader>()

  // Parsed headers are cached by their exact text (a service sees few distinct headers); the
  // last one is checked first without slicing the token, the rest through a bounded map.
  let lastSegment = ''
  let lastHeader: JwtHeader | undefined
  function header(token: string, dot1: number): JwtHeader {
    if (lastHeader !== undefined && dot1 === lastSegment.length && token.startsWith(lastSegment)) return lastHeader
    const segment = token.slice(0, dot1)
    let h = headerCache.get(segment)
    if (h === undefined) {
      h = parseHeader(segment)
      if (headerCache.size >= HEADER_CACHE_LIMIT) headerCache.clear()
      headerCache.set(segment, h)
    }
    lastSegment = segment
    lastHeader = h
    return h
  }

  function localKeys(h: JwtHeader): readonly PreparedKey[] | undefined {
    if (h.kid !== undefined) {
      const k = byKid.get(h.kid)
      return k ? [k] : undefined
    }
    if (anonymous.length > 0) return anonymous
    // A token without kid may still come from a key that has one (older issuers): every key is a
    // candidate, and only those whose algorithm is the header's are tried.
    return keys.length > 0 ? keys : undefined
  }

  function checkSignature(token: string, dot2: number, h: JwtHeader, candidates: readonly JwtVerifyKey[]): void {
    const sig = token.slice(dot2 + 1)
    let algSeen = false
    for (const k of candidates) {
      if (k.alg !== h.alg) continue
      algSeen = true
      const prepared = k as Partial<PreparedKey>
      if (prepared.hmac !== undefined) {
        if (sig.length !== prepared.sigLength) continue
        // Compared as canonical base64url text: a digest returned as a string is much cheaper
        // than a Buffer here, and any non-canonical spelling of the right bytes differs.
        const expected = prepared.hmac.digest(token.slice(0, dot2), 'base64url')
        if (constantTimeEqual(expected, sig)) return
        continue
      }
      const bytes = decodeBase64url(sig)
      if (bytes && verifyBytes(k.alg, Buffer.from(token.slice(0, dot2)), bytes, k.key)) return
    }
    if (!algSeen) {
      fail(
        'KRYPTO_JWT_ALGORITHM_NOT_ALLOWED',
        `The JWT algorithm ${h.alg} is not the algorithm of key ${h.kid ?? '(no kid)'}`,
        {
          alg: h.alg,
          kid: h.kid,
        },
      )
    }
    fail(
      'KRYPTO_JWT_BAD_SIGNATURE',
      'The JWT signature does not match: forged, corrupted, or signed with another key',
      { kid: h.kid },
    )
  }

  function split(token: string): [number, number] {
    if (typeof token !== 'string') fail('KRYPTO_JWT_MALFORMED', 'A JWT must be a string')
    const dot1 = token.indexOf('.')
    const dot2 = dot1 < 0 ? -1 : token.indexOf('.', dot1 + 1)
    if (dot1 <= 0 || dot2 < 0 || token.indexOf('.', dot2 + 1) !== -1) {
      fail('KRYPTO_JWT_MALFORMED', 'A JWT has three dot-separated segments (header.payload.signature)')
    }
    return [dot1, dot2]
  }

  function checkClaims<T>(payload: JwtPayload, h: JwtHeader, opts: VerifyOptions<T> | undefined): T {
    const nowS = now() / 1000
    const required = opts?.requiredClaims ?? defaultRequired
    for (const claim of required) {
      if (payload[claim] === undefined)
        fail('KRYPTO_JWT_CLAIM_INVALID', `The JWT has no "${claim}" claim, which is required`, { claim })
    }
    const { exp, nbf, iat } = payload
    if (exp !== undefined) {
      if (typeof exp !== 'number' || !Number.isFinite(exp))
        fail('KRYPTO_JWT_CLAIM_INVALID', 'The JWT "exp" claim is not a number', { claim: 'exp' })
      if (nowS >= exp + skewS)
        fail('KRYPTO_JWT_EXPIRED', `The JWT expired at ${new Date(exp * 1000).toISOString()}`, { exp })
    }
    if (nbf !== undefined) {
      if (typeof nbf !== 'number' || !Number.isFinite(nbf))
        fail('KRYPTO_JWT_CLAIM_INVALID', 'The JWT "nbf" claim is not a number', { claim: 'nbf' })
      if (nowS + skewS < nbf)
        fail('KRYPTO_JWT_NOT_YET_VALID', `The JWT is not valid before ${new Date(nbf * 1000).toISOString()}`, { nbf })
    }
    if (iat !== undefined) {
      if (typeof iat !== 'number' || !Number.isFinite(iat))
        fail('KRYPTO_JWT_CLAIM_INVALID', 'The JWT "iat" claim is not a number', { claim: 'iat' })
      if (nowS + skewS < iat)
        fail(
          'KRYPTO_JWT_NOT_YET_VALID',
          `The JWT claims to be issued in the future (${new Date(iat * 1000).toISOString()})`,
          { iat },
        )
    }
    const maxAge = opts?.maxAge === undefined ? defaultMaxAge : toMs(opts.maxAge, 'maxAge') / 1000
    if (maxAge !== undefined) {
      if (typeof iat !== 'number') fail('KRYPTO_JWT_CLAIM_INVALID', 'maxAge needs an "iat" claim', { claim: 'iat' })
      if (nowS - iat > maxAge + skewS)
        fail('KRYPTO_JWT_TOO_OLD', `The JWT was issued more than ${maxAge} s ago`, { iat, maxAge })
    }
    const wantIss = opts?.issuer === undefined ? issuers : asList(opts.issuer)
    if (wantIss !== undefined) {
      if (typeof payload.iss !== 'string' || !wantIss.includes(payload.iss)) {
        fail(
          'KRYPTO_JWT_WRONG_ISSUER',
          `The JWT issuer ${JSON.stringify(payload.iss)} is not one of ${wantIss.join(', ')}`,
          { iss: payload.iss },
        )
      }
    } else if (payload.iss !== undefined && typeof payload.iss !== 'string') {
      fail('KRYPTO_JWT_CLAIM_INVALID', 'The JWT "iss" claim is not a string', { claim: 'iss' })
    }
    const wantAud = opts?.audience === undefined ? audiences : asList(opts.audience)
    const aud = payload.aud
    if (
      aud !== undefined &&
      typeof aud !== 'string' &&
      !(Array.isArray(aud) && aud.every((a) => typeof a === 'string'))
    ) {
      fail('KRYPTO_JWT_CLAIM_INVALID', 'The JWT "aud" claim is neither a string nor an array of strings', {
        claim: 'aud',
      })
    }
    if (wantAud !== undefined) {
      const ok =
        typeof aud === 'string' ? wantAud.includes(aud) : Array.isArray(aud) && aud.some((a) => wantAud.includes(a))
      if (!ok)
        fail(
          'KRYPTO_JWT_WRONG_AUDIENCE',
          `The JWT audience ${JSON.stringify(aud)} does not include ${wantAud.join(' or ')}`,
          { aud },
        )
    }
    if (payload.sub !== undefined && typeof payload.sub !== 'string')
      fail('KRYPTO_JWT_CLAIM_INVALID', 'The JWT "sub" claim is not a string', { claim: 'sub' })
    if (opts?.subject !== undefined && payload.sub !== opts.subject) {
      fail('KRYPTO_JWT_WRONG_SUBJECT', `The JWT subject ${JSON.stringify(payload.sub)} is not ${opts.subject}`, {
        sub: payload.sub,
      })
    }
    if (payload.jti !== undefined && typeof payload.jti !== 'string')
      fail('KRYPTO_JWT_CLAIM_INVALID', 'The JWT "jti" claim is not a string', { claim: 'jti' })
    const wantTyp = opts?.typ === undefined ? defaultTyp : normalizeTyp(opts.typ)
    if (wantTyp !== undefined && (h.typ === undefined || normalizeTyp(h.typ) !== wantTyp)) {
      fail('KRYPTO_JWT_CLAIM_INVALID', `The JWT header typ ${JSON.stringify(h.typ)} is not ${wantTyp}`, { typ: h.typ })
    }
    if (opts?.validate) {
      try {
        return opts.validate(payload)
      } catch (err) {
        throw new KryptoError(
          'KRYPTO_JWT_CLAIM_INVALID',
          `The JWT payload failed validation: ${(err as Error).message}`,
          { cause: err },
        )
      }
    }
    return payload as T
  }

  function verifyComplete<T>(token: string, opts?: VerifyOptions<T>): VerifiedJwt<T> {
    const [dot1, dot2] = split(token)
    const h = header(token, dot1)
    const candidates = localKeys(h)
    if (candidates === undefined) {
      fail(
        'KRYPTO_KEY_NOT_FOUND',
        `No JWT key has the kid ${JSON.stringify(h.kid)}${source ? '; use verifyAsync to consult the JWKS' : ''}`,
        { kid: h.kid },
      )
    }
    checkSignature(token, dot2, h, candidates)
    return { header: h, payload: checkClaims(parsePayload(token.slice(dot1 + 1, dot2)), h, opts) }
  }

  return {
    get currentKid() {
      return signer?.kid
    },
    sign(payload, signOptions = {}) {
      const key = signOptions.kid === undefined ? signer : byKid.get(signOptions.kid)
      if (!key) {
        if (signOptions.kid !== undefined)
          fail('KRYPTO_KEY_NOT_FOUND', `No JWT key has the kid ${JSON.stringify(signOptions.kid)}`)
        fail(
          'KRYPTO_KEYS_MISSING',
          'No JWT signing key: set BEAVER_KRYPTO_KEYS (or BEAVER_KRYPTO_JWT_PRIVATE_KEY), or pass keys to createJwt',
        )
      }
      if (!key.signKey)
        fail('KRYPTO_KEY_INVALID', `The JWT key ${key.kid ?? ''} is a public key and cannot sign`.replace('  ', ' '))
      if (typeof payload !== 'object' || payload === null || Array.isArray(payload))
        throw invalidArgument('A JWT payload must be a plain object')
      const iat = Math.floor(now() / 1000)
      const claims: Record<string, unknown> = { iat }
      const iss = signOptions.issuer ?? issuers?.[0]
      if (iss !== undefined) claims.iss = iss
      const aud = signOptions.audience ?? audiences
      if (aud !== undefined) claims.aud = typeof aud === 'string' || aud.length !== 1 ? aud : aud[0]
      if (addJti) claims.jti = randomUUID()
      Object.assign(claims, payload)
      const expiresIn =
        signOptions.expiresIn === undefined
          ? defaultExpires
          : signOptions.expiresIn === false
            ? false
            : toMs(signOptions.expiresIn, 'expiresIn')
      if (expiresIn !== false && (signOptions.expiresIn !== undefined || claims.exp === undefined))
        claims.exp = iat + Math.floor(expiresIn / 1000)
      if (signOptions.notBefore !== undefined)
        claims.nbf = iat + Math.floor(toMs(signOptions.notBefore, 'notBefore') / 1000)
      if (signOptions.subject !== undefined) claims.sub = signOptions.subject
      if (signOptions.jwtId !== undefined) claims.jti = signOptions.jwtId
      let headerB64 = key.headerB64
      if (signOptions.header !== undefined) {
        const h: Record<string, unknown> = { typ: 'JWT', ...signOptions.header, alg: key.alg }
        if (key.kid !== undefined) h.kid = key.kid
        else delete h.kid
        headerB64 = b64json(h)
      }
      const input = `${headerB64}.${b64json(claims)}`
      const sig = key.hmac
        ? key.hmac.digest(input, 'base64url')
        : signBytes(key.alg, Buffer.from(input), key.signKey).toString('base64url')
      return `${input}.${sig}`
    },
    verify<T = JwtPayload>(token: string, opts?: VerifyOptions<T>): T {
      return verifyComplete(token, opts).payload
    },
    verifyComplete,
    async verifyAsync<T = JwtPayload>(token: string, opts?: VerifyOptions<T>): Promise<T> {
      const [dot1, dot2] = split(token)
      const h = header(token, dot1)
      let candidates: readonly JwtVerifyKey[] | undefined = localKeys(h)
      if (candidates === undefined && source) {
        const remote = await source.getKeys(h)
        if (remote.length > 0) candidates = remote
      }
      if (candidates === undefined)
        fail('KRYPTO_KEY_NOT_FOUND', `No JWT key (local or JWKS) has the kid ${JSON.stringify(h.kid)}`, { kid: h.kid })
      checkSignature(token, dot2, h, candidates)
      return checkClaims(parsePayload(token.slice(dot1 + 1, dot2)), h, opts)
    },
    jwks() {
      const out: JsonWebKey[] = []
      for (const k of keys) {
        if (k.key.type === 'secret') continue
        out.push({ ...exportKey(k.key, 'jwk'), kid: k.kid, alg: k.alg, use: 'sig' })
      }
      return { keys: out }
    },
  }
}
