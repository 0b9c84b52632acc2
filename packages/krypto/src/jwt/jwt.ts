import { randomUUID, type JsonWebKey } from 'node:crypto'
import { toMs } from '@beaver-kit/config'
import { decodeBase64url } from '../encoding.ts'
import { invalidArgument } from '../errors.ts'
import { exportKey, signBytes, verifyBytes } from '../keys.ts'
import { asList, checkClaims, type ClaimDefaults } from './claims.ts'
import { b64json, constantTimeEqual, prepareKey, type PreparedKey } from './key-set.ts'
import { fail, normalizeTyp, parseHeader, parsePayload, splitToken } from './parse.ts'
import type {
  Jwt,
  JwtHeader,
  JwtOptions,
  JwtPayload,
  JwtVerifyKey,
  SignOptions,
  VerifiedJwt,
  VerifyOptions,
} from './types.ts'

const HEADER_CACHE_LIMIT = 256

/** @internal What the messages of a JWT set built by another API (the krypto facade) say to do. */
export interface JwtHints {
  /** The fix for "no signing key", naming the settings or API the user actually used. */
  missingKeys: string
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
  return buildJwt(options, { missingKeys: 'pass keys to createJwt({ keys })' })
}

/** @internal `createJwt` with messages fitted to the API that built it. */
export function buildJwt(options: JwtOptions, hints: JwtHints): Jwt {
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
  const defaults: ClaimDefaults = {
    now,
    skewS: toMs(options.clockSkew ?? '30s', 'clockSkew') / 1000,
    maxAgeS: options.maxAge === undefined ? undefined : toMs(options.maxAge, 'maxAge') / 1000,
    required: options.requiredClaims ?? ['exp'],
    typ: options.typ === undefined ? undefined : normalizeTyp(options.typ),
    issuers,
    audiences,
  }
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
      {
        kid: h.kid,
      },
    )
  }

  function verifyComplete<T>(token: string, opts?: VerifyOptions<T>): VerifiedJwt<T> {
    const [dot1, dot2] = splitToken(token)
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
    return { header: h, payload: checkClaims(parsePayload(token.slice(dot1 + 1, dot2)), h, defaults, opts) }
  }

  function claimsOf(payload: object, signOptions: SignOptions): Record<string, unknown> {
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload))
      throw invalidArgument('A JWT payload must be a plain object')
    const iat = Math.floor(now() / 1000)
    const claims: Record<string, unknown> = { iat }
    const given = payload as Record<string, unknown>
    // Own keys only, and never `__proto__`: a JSON-parsed {"__proto__":{"exp":1}} assigned with
    // [[Set]] would replace the prototype, hide a real `exp` and sign a token that never expires.
    for (const name of Object.keys(given)) if (name !== '__proto__') claims[name] = given[name]
    claims.iat = iat
    // What the options and the instance configure wins over the payload: user input in the
    // payload can never extend the lifetime or change the issuer, audience or subject.
    const iss = signOptions.issuer ?? issuers?.[0]
    if (iss !== undefined) claims.iss = iss
    const aud = signOptions.audience ?? audiences
    if (aud !== undefined) claims.aud = typeof aud === 'string' || aud.length !== 1 ? aud : aud[0]
    if (signOptions.jwtId !== undefined) claims.jti = signOptions.jwtId
    else if (addJti && claims.jti === undefined) claims.jti = randomUUID()
    const expiresIn =
      signOptions.expiresIn === undefined
        ? defaultExpires
        : signOptions.expiresIn === false
          ? false
          : toMs(signOptions.expiresIn, 'expiresIn')
    if (expiresIn !== false) claims.exp = iat + Math.floor(expiresIn / 1000)
    if (signOptions.notBefore !== undefined)
      claims.nbf = iat + Math.floor(toMs(signOptions.notBefore, 'notBefore') / 1000)
    if (signOptions.subject !== undefined) claims.sub = signOptions.subject
    return claims
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
        fail('KRYPTO_KEYS_MISSING', `No JWT signing key: ${hints.missingKeys}`)
      }
      if (!key.signKey)
        fail('KRYPTO_KEY_INVALID', `The JWT key ${key.kid ?? ''} is a public key and cannot sign`.replace('  ', ' '))
      const claims = claimsOf(payload, signOptions)
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
      const [dot1, dot2] = splitToken(token)
      const h = header(token, dot1)
      let candidates: readonly JwtVerifyKey[] | undefined = localKeys(h)
      if (candidates === undefined && source) {
        const remote = await source.getKeys(h)
        if (remote.length > 0) candidates = remote
      }
      if (candidates === undefined)
        fail('KRYPTO_KEY_NOT_FOUND', `No JWT key (local or JWKS) has the kid ${JSON.stringify(h.kid)}`, { kid: h.kid })
      checkSignature(token, dot2, h, candidates)
      return checkClaims(parsePayload(token.slice(dot1 + 1, dot2)), h, defaults, opts)
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
