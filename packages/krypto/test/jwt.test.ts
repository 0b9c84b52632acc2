import { createHmac, generateKeyPairSync } from 'node:crypto'
import { createSigner, createVerifier } from 'fast-jwt'
import * as jose from 'jose'
import jsonwebtoken from 'jsonwebtoken'
import { describe, expect, it } from 'vitest'
import {
  createJwt,
  decodeJwtUnverified,
  generateKeyPair,
  generateSecret,
  isKryptoError,
  type AsymmetricAlgorithm,
  type JwsAlgorithm,
  type KryptoErrorCode,
} from '../src/index.ts'

const T0 = 1_800_000_000_000
const clock =
  (t = T0) =>
  () =>
    t

function codeOf(fn: () => unknown): KryptoErrorCode | undefined {
  try {
    fn()
  } catch (err) {
    if (isKryptoError(err)) return err.code
    throw err
  }
  return undefined
}

const b64 = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url')

describe('sign and verify', () => {
  const secret = generateSecret(32)
  const algs: JwsAlgorithm[] = ['HS256', 'HS384', 'HS512', 'RS256', 'PS256', 'ES256', 'ES384', 'ES512', 'EdDSA']
  it.each(algs)('%s round-trips with kid, iat, exp and jti', (alg) => {
    const key = alg.startsWith('HS') ? generateSecret(64) : generateKeyPair(alg as AsymmetricAlgorithm).privateKey
    const jwt = createJwt({ keys: [{ key, alg, kid: 'k1' }], now: clock() })
    const token = jwt.sign({ sub: 'u1', role: 'admin' })
    const { header, payload } = jwt.verifyComplete<{
      sub: string
      role: string
      iat: number
      exp: number
      jti: string
    }>(token)
    expect(header).toMatchObject({ alg, kid: 'k1', typ: 'JWT' })
    expect(payload).toMatchObject({ sub: 'u1', role: 'admin', iat: T0 / 1000, exp: T0 / 1000 + 900 })
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('types the payload through validate and reports a failing validation as a claim error', () => {
    const jwt = createJwt({ keys: [secret], now: clock() })
    const token = jwt.sign({ sub: 'u1', n: 3 })
    const out = jwt.verify(token, { validate: (p) => ({ sub: String(p.sub), n: Number(p.n) }) })
    expect(out).toEqual({ sub: 'u1', n: 3 })
    expect(
      codeOf(() =>
        jwt.verify(token, {
          validate: () => {
            throw new Error('n must be a string')
          },
        }),
      ),
    ).toBe('KRYPTO_JWT_CLAIM_INVALID')
  })

  it('refuses a public key for signing and a short HMAC secret', () => {
    const { publicKey } = generateKeyPair('ES256')
    expect(codeOf(() => createJwt({ keys: [{ key: publicKey, alg: 'ES256' }] }).sign({}))).toBe('KRYPTO_KEY_INVALID')
    expect(codeOf(() => createJwt({ keys: [{ key: Buffer.alloc(16), alg: 'HS256' }] }))).toBe('KRYPTO_KEY_INVALID')
    expect(codeOf(() => createJwt({ keys: [{ key: generateSecret(32), alg: 'ES256' }] }))).toBe('KRYPTO_KEY_INVALID')
    expect(codeOf(() => createJwt({ keys: [{ key: generateKeyPair('ES384').privateKey, alg: 'ES256' }] }))).toBe(
      'KRYPTO_KEY_INVALID',
    )
  })

  it('signs without keys only with a clear KRYPTO_KEYS_MISSING', () => {
    expect(codeOf(() => createJwt().sign({}))).toBe('KRYPTO_KEYS_MISSING')
  })
})

describe('claims and times', () => {
  const key = generateSecret(32)
  const issuer = createJwt({ keys: [key], issuer: 'links', audience: ['api', 'admin'], now: clock() })
  const token = issuer.sign({ sub: 'u1' }, { expiresIn: '10m', notBefore: '1m' })

  it('distinguishes expired and not yet valid, with the clock skew', () => {
    const at = (ms: number, skew = '30s') =>
      createJwt({ keys: [key], now: clock(T0 + ms), clockSkew: skew, audience: 'api' })
    expect(codeOf(() => at(0).verify(token))).toBe('KRYPTO_JWT_NOT_YET_VALID')
    expect(codeOf(() => at(31_000).verify(token))).toBeUndefined() // nbf 60 s, skew 30 s
    expect(codeOf(() => at(29_000, '0s').verify(token))).toBe('KRYPTO_JWT_NOT_YET_VALID')
    expect(codeOf(() => at(600_000 + 29_000).verify(token))).toBeUndefined()
    expect(codeOf(() => at(600_000 + 30_000).verify(token))).toBe('KRYPTO_JWT_EXPIRED')
    expect(codeOf(() => at(600_000, '0s').verify(token))).toBe('KRYPTO_JWT_EXPIRED')
  })

  it('checks audience, issuer, subject, typ and maxAge', () => {
    const v = createJwt({ keys: [key], now: clock(T0 + 120_000) })
    expect(v.verify(token, { audience: 'admin', issuer: ['other', 'links'], subject: 'u1' })).toMatchObject({
      aud: ['api', 'admin'],
    })
    expect(codeOf(() => v.verify(token, { audience: 'billing' }))).toBe('KRYPTO_JWT_WRONG_AUDIENCE')
    expect(codeOf(() => v.verify(token, { issuer: 'evil' }))).toBe('KRYPTO_JWT_WRONG_ISSUER')
    expect(codeOf(() => v.verify(token, { subject: 'u2' }))).toBe('KRYPTO_JWT_WRONG_SUBJECT')
    expect(codeOf(() => v.verify(token, { typ: 'at+jwt' }))).toBe('KRYPTO_JWT_CLAIM_INVALID')
    expect(v.verify(token, { typ: 'application/JWT' })).toMatchObject({ sub: 'u1' })
    expect(codeOf(() => v.verify(token, { maxAge: '1m' }))).toBe('KRYPTO_JWT_TOO_OLD')
    expect(codeOf(() => v.verify(token, { requiredClaims: ['exp', 'email'] }))).toBe('KRYPTO_JWT_CLAIM_INVALID')
  })

  it('refuses a token without exp by default, and wrongly typed registered claims', () => {
    const noExp = createJwt({ keys: [{ key, kid: 'k' }], expiresIn: false, now: clock() })
    const t = noExp.sign({ sub: 'x' })
    expect(decodeJwtUnverified(t).payload.exp).toBeUndefined()
    expect(codeOf(() => noExp.verify(t))).toBe('KRYPTO_JWT_CLAIM_INVALID')
    expect(noExp.verify(t, { requiredClaims: [] })).toMatchObject({ sub: 'x' })
    // Signed by hand: sign() itself always writes a numeric iat.
    const header = b64({ alg: 'HS256', kid: 'k' })
    for (const bad of [
      { exp: '1900000000' },
      { nbf: null },
      { iat: 'now' },
      { aud: [1] },
      { iss: 3 },
      { sub: {} },
      { jti: 7 },
    ]) {
      const input = `${header}.${b64(bad)}`
      const tok = `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`
      expect(
        codeOf(() => noExp.verify(tok, { requiredClaims: [] })),
        JSON.stringify(bad),
      ).toBe('KRYPTO_JWT_CLAIM_INVALID')
    }
  })

  it('sign(): the configured iss, aud and exp win over the payload, and so do the sign options', () => {
    const jwt = createJwt({ keys: [key], issuer: 'links', audience: 'api', expiresIn: '10m', now: clock() })
    const hostile = { sub: 'u', iss: 'evil', aud: 'admin', exp: T0 / 1000 + 10 * 365 * 86_400, iat: 1, role: 'user' }
    const claims = decodeJwtUnverified(jwt.sign(hostile)).payload
    expect(claims).toMatchObject({
      sub: 'u',
      role: 'user',
      iss: 'links',
      aud: 'api',
      iat: T0 / 1000,
      exp: T0 / 1000 + 600,
    })
    const viaOptions = decodeJwtUnverified(
      jwt.sign(hostile, { issuer: 'other', audience: ['x', 'y'], expiresIn: '1m', subject: 's', jwtId: 'j' }),
    ).payload
    expect(viaOptions).toMatchObject({ iss: 'other', aud: ['x', 'y'], exp: T0 / 1000 + 60, sub: 's', jti: 'j' })
    // Without a configured lifetime the payload's own exp is what the caller asked for.
    const open = createJwt({ keys: [key], expiresIn: false, now: clock() })
    expect(decodeJwtUnverified(open.sign({ exp: T0 / 1000 + 5 })).payload.exp).toBe(T0 / 1000 + 5)
  })

  it('sign(): a JSON-parsed {"__proto__":{"exp":1}} can neither drop exp nor add claims', () => {
    const jwt = createJwt({ keys: [key], expiresIn: '10m', now: clock() })
    const payload = JSON.parse('{"sub":"u","__proto__":{"exp":1,"jti":"fixed","admin":true}}') as object
    const claims = decodeJwtUnverified(jwt.sign(payload)).payload
    expect(claims.exp).toBe(T0 / 1000 + 600)
    // Had the payload replaced the claims' prototype, its jti would hide the random one.
    expect(claims.jti).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(Object.keys(claims).sort()).toEqual(['exp', 'iat', 'jti', 'sub'])
    expect(jwt.verify(jwt.sign(payload))).not.toHaveProperty('admin')
  })

  it('refuses an iat in the future', () => {
    const future = createJwt({ keys: [key], now: clock(T0 + 3_600_000) }).sign({})
    expect(codeOf(() => createJwt({ keys: [key], now: clock() }).verify(future))).toBe('KRYPTO_JWT_NOT_YET_VALID')
  })
})

describe('JOSE rules', () => {
  const key = generateSecret(32)
  const jwt = createJwt({ keys: [{ key, kid: 'a' }], now: clock() })
  const good = jwt.sign({ sub: 'u1' })
  const [h, p, s] = good.split('.') as [string, string, string]

  it('refuses alg none, unknown algorithms and critical extensions', () => {
    expect(codeOf(() => jwt.verify(`${b64({ alg: 'none', kid: 'a' })}.${p}.`))).toBe('KRYPTO_JWT_ALGORITHM_NOT_ALLOWED')
    expect(codeOf(() => jwt.verify(`${b64({ alg: 'none', kid: 'a' })}.${p}.x`))).toBe(
      'KRYPTO_JWT_ALGORITHM_NOT_ALLOWED',
    )
    expect(codeOf(() => jwt.verify(`${b64({ alg: 'HS1', kid: 'a' })}.${p}.${s}`))).toBe(
      'KRYPTO_JWT_ALGORITHM_NOT_ALLOWED',
    )
    expect(codeOf(() => jwt.verify(`${b64({ alg: 'HS512', kid: 'a' })}.${p}.${s}`))).toBe(
      'KRYPTO_JWT_ALGORITHM_NOT_ALLOWED',
    )
    expect(codeOf(() => jwt.verify(`${b64({ alg: 'HS256', kid: 'a', crit: ['exp'] })}.${p}.${s}`))).toBe(
      'KRYPTO_JWT_MALFORMED',
    )
    expect(codeOf(() => jwt.verify(`${b64({ alg: 'HS256', kid: 'a', b64: false })}.${p}.${s}`))).toBe(
      'KRYPTO_JWT_MALFORMED',
    )
  })

  it('refuses non-canonical base64url anywhere and non-object JSON', () => {
    expect(codeOf(() => jwt.verify(`${h}=.${p}.${s}`))).toBe('KRYPTO_JWT_MALFORMED')
    expect(codeOf(() => jwt.verify(`${h}.${p}.${s}=`))).toBe('KRYPTO_JWT_BAD_SIGNATURE')
    expect(codeOf(() => jwt.verify(`${h}.${p.replace(/-/g, '+').replace(/_/g, '/')}x.${s}`))).toBe(
      'KRYPTO_JWT_BAD_SIGNATURE',
    )
    // The last signature character carries 2 unused bits; setting them must not verify.
    const last = s[s.length - 1] as string
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const twin = alphabet[alphabet.indexOf(last) | 1] as string
    expect(Buffer.from(s.slice(0, -1) + twin, 'base64url')).toEqual(Buffer.from(s, 'base64url'))
    expect(codeOf(() => jwt.verify(`${h}.${p}.${s.slice(0, -1)}${twin}`))).toBe('KRYPTO_JWT_BAD_SIGNATURE')
    for (const segment of [
      b64('[1,2]'),
      b64('null'),
      b64('"str"'),
      b64('{bad json'),
      `${b64('{"a":1}')}=`,
      b64('{"a":"??>"}').replace(/-/g, '+'),
    ]) {
      const forged = createJwt({ keys: [{ key, kid: 'a' }], now: clock() })
      // Build a correctly signed token around a bad payload, so only the payload check can fail.
      const input = `${h}.${segment}`
      const sig = createHmac('sha256', key).update(input).digest('base64url')
      expect(codeOf(() => forged.verify(`${input}.${sig}`))).toBe('KRYPTO_JWT_MALFORMED')
    }
  })

  it('refuses wrong segment counts and non-strings', () => {
    for (const t of ['', 'a', 'a.b', `${h}.${p}.${s}.x`, `.${p}.${s}`])
      expect(codeOf(() => jwt.verify(t))).toBe('KRYPTO_JWT_MALFORMED')
    expect(codeOf(() => jwt.verify(42 as unknown as string))).toBe('KRYPTO_JWT_MALFORMED')
  })

  it('flipping any bit of any byte of a token makes it fail', () => {
    for (let i = 0; i < good.length; i++) {
      for (const bit of [1, 2, 4, 8, 16, 32]) {
        const flipped = good.slice(0, i) + String.fromCharCode(good.charCodeAt(i) ^ bit) + good.slice(i + 1)
        expect(
          codeOf(() => jwt.verify(flipped)),
          `byte ${i} bit ${bit}`,
        ).toMatch(/^KRYPTO_(JWT_MALFORMED|JWT_BAD_SIGNATURE|JWT_ALGORITHM_NOT_ALLOWED|KEY_NOT_FOUND)$/)
      }
    }
  })
})

describe('key rotation with kid', () => {
  it('the first key signs, older keys still verify, removed keys do not', () => {
    const oldKey = generateSecret(32)
    const newKey = generateSecret(32)
    const before = createJwt({ keys: [{ kid: '2026-10', key: oldKey }], now: clock() })
    const during = createJwt({
      keys: [
        { kid: '2026-11', key: newKey },
        { kid: '2026-10', key: oldKey },
      ],
      now: clock(),
    })
    const after = createJwt({ keys: [{ kid: '2026-11', key: newKey }], now: clock() })
    const oldToken = before.sign({ sub: 'a' })
    const newToken = during.sign({ sub: 'b' })
    expect(during.currentKid).toBe('2026-11')
    expect(decodeJwtUnverified(newToken).header.kid).toBe('2026-11')
    expect(during.verify(oldToken)).toMatchObject({ sub: 'a' })
    expect(after.verify(newToken)).toMatchObject({ sub: 'b' })
    expect(codeOf(() => after.verify(oldToken))).toBe('KRYPTO_KEY_NOT_FOUND')
    expect(during.sign({}, { kid: '2026-10' }).split('.')[0]).toBe(oldToken.split('.')[0])
  })

  it('publishes the public keys of an asymmetric set as a JWKS with RFC 7638 thumbprint kids', async () => {
    const a = generateKeyPair('ES256')
    const b = generateKeyPair('EdDSA')
    const jwt = createJwt({
      keys: [
        { key: a.privateKey, alg: 'ES256' },
        { key: b.privateKey, alg: 'EdDSA' },
      ],
      now: clock(),
    })
    const set = jwt.jwks()
    expect(set.keys).toHaveLength(2)
    for (const k of set.keys) expect(k.d).toBeUndefined()
    expect(set.keys[0]?.kid).toBe(await jose.calculateJwkThumbprint(a.publicKey.export({ format: 'jwk' }) as jose.JWK))
    const local = jose.createLocalJWKSet(set as jose.JSONWebKeySet)
    const { payload } = await jose.jwtVerify(jwt.sign({ sub: 'x' }), local, { currentDate: new Date(T0) })
    expect(payload.sub).toBe('x')
  })
})

describe('cross-checks with jose, fast-jwt and jsonwebtoken', () => {
  const secret = generateSecret(32)
  const ours = createJwt({ keys: [{ key: secret, alg: 'HS256' }], issuer: 'iss', audience: 'aud' })

  it('HS256 tokens of each library verify here, and ours verify there', async () => {
    const fromJose = await new jose.SignJWT({ sub: 'j' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt()
      .setExpirationTime('5m')
      .setIssuer('iss')
      .setAudience('aud')
      .sign(secret)
    const fromFast = createSigner({ key: secret, algorithm: 'HS256', expiresIn: 300_000, iss: 'iss', aud: 'aud' })({
      sub: 'f',
    })
    const fromJwt = jsonwebtoken.sign({ sub: 'w' }, secret, {
      algorithm: 'HS256',
      expiresIn: 300,
      issuer: 'iss',
      audience: 'aud',
    })
    expect(ours.verify(fromJose).sub).toBe('j')
    expect(ours.verify(fromFast).sub).toBe('f')
    expect(ours.verify(fromJwt).sub).toBe('w')
    const token = ours.sign({ sub: 'o' })
    expect((await jose.jwtVerify(token, secret, { issuer: 'iss', audience: 'aud' })).payload.sub).toBe('o')
    expect(createVerifier({ key: secret, allowedIss: 'iss', allowedAud: 'aud' })(token).sub).toBe('o')
    expect((jsonwebtoken.verify(token, secret, { issuer: 'iss', audience: 'aud' }) as { sub: string }).sub).toBe('o')
  })

  it('ES256 and EdDSA tokens interoperate with jose', async () => {
    for (const alg of ['ES256', 'EdDSA'] as const) {
      const { privateKey, publicKey } = generateKeyPair(alg)
      const mine = createJwt({ keys: [{ key: privateKey, alg, kid: 'k' }] })
      const theirs = await new jose.SignJWT({ sub: 'j' })
        .setProtectedHeader({ alg, kid: 'k' })
        .setExpirationTime('5m')
        .sign(privateKey)
      expect(mine.verify(theirs).sub).toBe('j')
      expect((await jose.jwtVerify(mine.sign({ sub: 'o' }), publicKey)).payload.sub).toBe('o')
    }
  })

  it('RS256 with PKCS#1 and SPKI PEM keys interoperates with jsonwebtoken in both directions', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const pkcs1 = privateKey.export({ format: 'pem', type: 'pkcs1' }) as string
    const spki = publicKey.export({ format: 'pem', type: 'spki' }) as string
    const token = jsonwebtoken.sign({ sub: 'r' }, pkcs1, { algorithm: 'RS256', expiresIn: 60 })
    const v = createJwt({ keys: [{ key: spki, alg: 'RS256' }] })
    expect(v.verify(token).sub).toBe('r')
    // The kit reads the PKCS#1 private PEM itself and signs what jsonwebtoken accepts with the public key.
    const signer = createJwt({ keys: [{ key: pkcs1, kid: 'r1' }] })
    const ours = signer.sign({ sub: 'k' })
    expect(decodeJwtUnverified(ours).header).toMatchObject({ alg: 'RS256', kid: 'r1' })
    expect(jsonwebtoken.verify(ours, spki, { algorithms: ['RS256'] })).toMatchObject({ sub: 'k' })
    expect(codeOf(() => v.verify(`${token.slice(0, -4)}AAAA`))).toBe('KRYPTO_JWT_BAD_SIGNATURE')
  })
})
