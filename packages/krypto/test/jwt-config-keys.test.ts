// BEAVER_KRYPTO_JWT_PRIVATE_KEY / _PUBLIC_KEY accept only asymmetric PEM or JWK(S), and the
// algorithm must agree with the key: anything else is a ConfigError naming the variable. A
// mangled PEM (its armour lost in a flattened env file) must never become an HMAC secret: if it
// was the public key, anyone could mint tokens with it.
import { isConfigError, type ConfigError, type ConfigIssue } from '@beaver-kit/config'
import { describe, expect, it } from 'vitest'
import {
  createJwt,
  createKrypto,
  decodeJwtUnverified,
  exportKey,
  generateKeyPair,
  generateKeyRingEntry,
} from '../src/index.ts'

function issuesOf(env: Record<string, string>): ConfigIssue[] {
  try {
    createKrypto({ env })
  } catch (err) {
    if (isConfigError(err)) return [...(err as ConfigError).issues]
    throw err
  }
  throw new Error('expected a ConfigError')
}

const es = generateKeyPair('ES256')
const rsa = generateKeyPair('RS256')
const esPem = exportKey(es.privateKey, 'pem')
const rsaPublicPem = exportKey(rsa.publicKey, 'pem')
/** A PEM whose armour and line breaks were lost: only the base64 body is left. */
const armourLost = (pem: string): string => pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '')

describe('BEAVER_KRYPTO_JWT_PRIVATE_KEY', () => {
  it('a mangled PEM is a ConfigError naming the variable, never an HS256 secret', () => {
    for (const value of [armourLost(rsaPublicPem), armourLost(esPem), 'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA']) {
      for (const algorithm of [undefined, 'HS256']) {
        const env: Record<string, string> = { BEAVER_KRYPTO_JWT_PRIVATE_KEY: value }
        if (algorithm) env.BEAVER_KRYPTO_JWT_ALGORITHM = algorithm
        const issues = issuesOf(env)
        expect(issues.map((i) => i.name)).toContain(
          algorithm ? 'BEAVER_KRYPTO_JWT_ALGORITHM' : 'BEAVER_KRYPTO_JWT_PRIVATE_KEY',
        )
        expect(JSON.stringify(issues)).not.toContain(value.slice(0, 40))
      }
    }
  })

  it('says what is wrong for every other combination', () => {
    const ecJwk = JSON.stringify({ ...exportKey(es.privateKey, 'jwk'), kid: 'e' })
    const cases: [Record<string, string>, string, RegExp][] = [
      [{ BEAVER_KRYPTO_JWT_PRIVATE_KEY: rsaPublicPem }, 'BEAVER_KRYPTO_JWT_PRIVATE_KEY', /is a public key/],
      [
        { BEAVER_KRYPTO_JWT_PRIVATE_KEY: esPem, BEAVER_KRYPTO_JWT_ALGORITHM: 'RS256' },
        'BEAVER_KRYPTO_JWT_PRIVATE_KEY',
        /is an EC key, which cannot be used with RS256.*set BEAVER_KRYPTO_JWT_ALGORITHM to match it/,
      ],
      [
        { BEAVER_KRYPTO_JWT_PRIVATE_KEY: esPem, BEAVER_KRYPTO_JWT_ALGORITHM: 'ES384' },
        'BEAVER_KRYPTO_JWT_PRIVATE_KEY',
        /cannot be used with ES384/,
      ],
      [
        { BEAVER_KRYPTO_JWT_PRIVATE_KEY: esPem, BEAVER_KRYPTO_JWT_ALGORITHM: 'HS256' },
        'BEAVER_KRYPTO_JWT_ALGORITHM',
        /an asymmetric algorithm/,
      ],
      [
        {
          BEAVER_KRYPTO_JWT_PRIVATE_KEY: JSON.stringify({ kty: 'oct', k: 'c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0' }),
        },
        'BEAVER_KRYPTO_JWT_PRIVATE_KEY',
        /not an asymmetric JWK.*JWT_SECRETS/,
      ],
      [
        { BEAVER_KRYPTO_JWT_PRIVATE_KEY: JSON.stringify({ ...JSON.parse(ecJwk), alg: 'HS256' }) },
        'BEAVER_KRYPTO_JWT_PRIVATE_KEY',
        /names the algorithm "HS256"/,
      ],
      [
        { BEAVER_KRYPTO_JWT_PRIVATE_KEY: esPem, BEAVER_KRYPTO_JWT_SECRETS: generateKeyRingEntry('s') },
        'BEAVER_KRYPTO_JWT_SECRETS',
        /not both/,
      ],
      [
        {
          BEAVER_KRYPTO_JWT_PRIVATE_KEY:
            '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----',
        },
        'BEAVER_KRYPTO_JWT_PRIVATE_KEY',
        /encrypted PEM/,
      ],
      [
        { BEAVER_KRYPTO_JWT_PRIVATE_KEY: esPem.slice(0, 80) },
        'BEAVER_KRYPTO_JWT_PRIVATE_KEY',
        /not a readable PEM key/,
      ],
      [{ BEAVER_KRYPTO_JWT_PRIVATE_KEY: '{"keys":[]}' }, 'BEAVER_KRYPTO_JWT_PRIVATE_KEY', /without keys/],
      [{ BEAVER_KRYPTO_JWT_PRIVATE_KEY: '{not json' }, 'BEAVER_KRYPTO_JWT_PRIVATE_KEY', /not JSON/],
      [
        { BEAVER_KRYPTO_JWT_PUBLIC_KEY: esPem },
        'BEAVER_KRYPTO_JWT_PUBLIC_KEY',
        /is a private key; put it in BEAVER_KRYPTO_JWT_PRIVATE_KEY/,
      ],
      [
        { BEAVER_KRYPTO_JWT_ALGORITHM: 'RS256' },
        'BEAVER_KRYPTO_JWT_PRIVATE_KEY',
        /is required for BEAVER_KRYPTO_JWT_ALGORITHM=RS256/,
      ],
      [
        { BEAVER_KRYPTO_JWT_ALGORITHM: 'HS512', BEAVER_KRYPTO_JWT_SECRETS: generateKeyRingEntry('s') },
        'BEAVER_KRYPTO_JWT_SECRETS',
        /HS512 needs secrets of at least 64 bytes .*; s is shorter/,
      ],
    ]
    for (const [env, name, expected] of cases) {
      const issues = issuesOf(env)
      expect(issues, JSON.stringify(env).slice(0, 120)).toContainEqual(
        expect.objectContaining({ name, expected: expect.stringMatching(expected) }),
      )
      expect(JSON.stringify(issues)).not.toContain('PRIVATE KEY-----\nMI')
    }
  })

  it('names the setting as an option when it was given in code', () => {
    expect(() => createKrypto({ envPrefix: false, jwt: { privateKey: armourLost(esPem) } })).toThrow(
      /option jwt\.privateKey/,
    )
  })

  it('takes the algorithm from the key when none is set, and a PEM with literal \\n line breaks', () => {
    const k = createKrypto({ env: { BEAVER_KRYPTO_JWT_PRIVATE_KEY: esPem.replace(/\n/g, '\\n') } })
    const token = k.jwt.sign({ sub: 'x' })
    expect(decodeJwtUnverified(token).header.alg).toBe('ES256')
    expect(k.jwt.verify(token).sub).toBe('x')
  })

  it('verify-only public keys: BEAVER_KRYPTO_JWT_PUBLIC_KEY verifies what the private key signs, and cannot sign', () => {
    const signer = createKrypto({
      env: { BEAVER_KRYPTO_JWT_PRIVATE_KEY: exportKey(rsa.privateKey, 'pem'), BEAVER_KRYPTO_JWT_ALGORITHM: 'RS256' },
    })
    const verifier = createKrypto({
      env: { BEAVER_KRYPTO_JWT_PUBLIC_KEY: rsaPublicPem, BEAVER_KRYPTO_JWT_ALGORITHM: 'RS256' },
    })
    expect(verifier.jwt.verify(signer.jwt.sign({ sub: 'v' })).sub).toBe('v')
    expect(() => verifier.jwt.sign({})).toThrow(expect.objectContaining({ code: 'KRYPTO_KEY_INVALID' }))
    // An asymmetric algorithm with only a JWKS URL is a valid verifier too.
    expect(() =>
      createKrypto({
        env: { BEAVER_KRYPTO_JWT_ALGORITHM: 'ES256', BEAVER_KRYPTO_JWT_JWKS_URL: 'https://issuer.test/jwks' },
      }),
    ).not.toThrow()
  })
})

describe('createJwt key inputs', () => {
  it('refuses asymmetric key material without its PEM armour instead of using it as an HMAC secret', () => {
    const der = rsa.publicKey.export({ format: 'der', type: 'spki' })
    for (const key of [
      armourLost(rsaPublicPem),
      Buffer.from(armourLost(esPem), 'base64'),
      der,
      `${armourLost(esPem).slice(0, 60)}\n${armourLost(esPem).slice(60)}`,
    ]) {
      expect(() => createJwt({ keys: [{ key }] })).toThrow(expect.objectContaining({ code: 'KRYPTO_KEY_INVALID' }))
      expect(() => createJwt({ keys: [{ key, alg: 'HS256' }] })).toThrow(/never used as an HMAC secret/)
    }
  })

  it('reads PEM given as a Buffer (a file read without an encoding) as the key it holds', () => {
    const jwt = createJwt({ keys: [{ key: Buffer.from(exportKey(es.privateKey, 'pem')), kid: 'b' }] })
    const token = jwt.sign({ sub: 'b' })
    expect(decodeJwtUnverified(token).header.alg).toBe('ES256')
    expect(() => createJwt({ keys: [{ key: Buffer.from(rsaPublicPem), alg: 'HS256' }] })).toThrow(
      expect.objectContaining({ code: 'KRYPTO_KEY_INVALID' }),
    )
  })
})
