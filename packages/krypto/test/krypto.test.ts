import { execFileSync } from 'node:child_process'
import { createHmac } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { isConfigError, type ConfigError } from '@beaver-kit/config'
import {
  createJwt,
  createKrypto,
  decodeJwtUnverified,
  exportKey,
  generateKeyPair,
  generateKeyRingEntry,
  initKrypto,
  isKryptoError,
  krypto,
  resetKrypto,
  signBytes,
  totp,
  verifyBytes,
  withPrefix,
  type AsymmetricAlgorithm,
} from '../src/index.ts'

function configErrorOf(fn: () => unknown): ConfigError {
  try {
    fn()
  } catch (err) {
    if (isConfigError(err)) return err
    throw err
  }
  throw new Error('expected a ConfigError')
}

const K1 = generateKeyRingEntry('k1')
const K2 = generateKeyRingEntry('k2')
const saved = { ...process.env }
afterEach(async () => {
  process.env = { ...saved }
  await resetKrypto()
})

describe('createKrypto', () => {
  it('works without keys for passwords, OTP and tokens, and says what to set for keyed operations', async () => {
    const k = createKrypto({ envPrefix: false, password: { argon2: { memory: '256kb', passes: 1 } } })
    expect(k.hasKeys).toBe(false)
    const stored = await k.passwords.hash('pw')
    expect(stored).toMatch(/^\$argon2id\$v=19\$m=256,t=1,p=1\$/)
    // An instance that reads no environment is told to pass keys, not to set a variable it ignores.
    expect(() => k.encrypt('x')).toThrow('No key ring: pass keys in the krypto options')
    expect(() => k.ring).toThrow(expect.objectContaining({ code: 'KRYPTO_KEYS_MISSING' }))
    expect(() => k.jwt.sign({})).toThrow(expect.objectContaining({ code: 'KRYPTO_KEYS_MISSING' }))
  })

  it('names the variables and APIs the user has, never createJwt, in keyed-operation errors', () => {
    const messages = (k: ReturnType<typeof createKrypto>): string[] =>
      [() => k.jwt.sign({}), () => k.encrypt('x'), () => k.urls.sign('/a')].map((fn) => {
        try {
          fn()
        } catch (err) {
          return (err as Error).message
        }
        throw new Error('expected a KRYPTO_KEYS_MISSING error')
      })
    const fromEnv = messages(createKrypto({ env: {} }))
    expect(fromEnv[0]).toBe(
      'No JWT signing key: set BEAVER_KRYPTO_KEYS to "kid:base64key" (generateKeyRingEntry() makes one), or pass keys in the krypto options; for asymmetric tokens set BEAVER_KRYPTO_JWT_PRIVATE_KEY',
    )
    expect(fromEnv[1]).toContain('set BEAVER_KRYPTO_KEYS')
    expect(fromEnv[2]).toContain('set BEAVER_URLSIGNER_KEYS or BEAVER_KRYPTO_KEYS')
    const prefixed = messages(withPrefix('BILLING_', { env: {} }))
    for (const m of prefixed) expect(m).toContain('BILLING_KRYPTO_KEYS')
    for (const m of [...fromEnv, ...prefixed]) expect(m).not.toContain('createJwt')
    expect(() => createJwt().sign({})).toThrow('No JWT signing key: pass keys to createJwt({ keys })')
  })

  it('derives JWT keys per key id from the ring, distinct from the AES keys, and rotates with it', () => {
    const before = createKrypto({ keys: K1, envPrefix: false })
    const after = createKrypto({ keys: `${K2},${K1}`, envPrefix: false })
    const token = before.jwt.sign({ sub: 'u' })
    expect(after.jwt.verify(token).sub).toBe('u')
    expect(after.jwt.currentKid).toBe('k2')
    expect(after.decrypt(before.encrypt('secret'))).toBe('secret')
    // No application purpose reproduces the package's own keys: a token HMAC'd with the key an app
    // derives for "jwt:HS256" does not verify.
    const appKey = before.deriveKey('jwt:HS256')
    const input = `${Buffer.from('{"alg":"HS256","kid":"k1"}').toString('base64url')}.${Buffer.from(`{"exp":${Math.floor(Date.now() / 1000) + 60}}`).toString('base64url')}`
    const forged = `${input}.${createHmac('sha256', appKey).update(input).digest('base64url')}`
    expect(() => before.jwt.verify(forged)).toThrow(expect.objectContaining({ code: 'KRYPTO_JWT_BAD_SIGNATURE' }))
  })

  it('reads every setting from a prefixed environment, and describe() masks secrets', () => {
    process.env.T3_KRYPTO_KEYS = K1
    process.env.T3_KRYPTO_JWT_ISSUER = 'links'
    process.env.T3_KRYPTO_JWT_AUDIENCE = 'api,admin'
    process.env.T3_KRYPTO_JWT_EXPIRES_IN = '2m'
    process.env.T3_KRYPTO_OTP_DIGITS = '8'
    process.env.T3_KRYPTO_OTP_ISSUER = 'Beaver Links'
    const t = 1_800_000_000_000
    const k = withPrefix('T3_')
    const now = createKrypto({ envPrefix: 'T3_', now: () => t })
    const token = now.jwt.sign({})
    expect(now.jwt.verify(token)).toMatchObject({ iss: 'links', aud: ['api', 'admin'], exp: t / 1000 + 120 })
    const d = k.describe()
    expect(d.package).toBe('krypto')
    expect(d.envPrefix).toBe('T3_')
    expect(d.settings.find((e) => e.name === 'T3_KRYPTO_KEYS')).toMatchObject({ value: '****', source: 'env' })
    expect(d.state).toMatchObject({ keyIds: 'k1', jwtKid: 'k1' })
    expect(JSON.stringify(d)).not.toContain(K1.split(':')[1] as string)
    const secret = now.totp.generateSecret()
    expect(now.totp.code(secret)).toMatch(/^\d{8}$/)
    expect(now.totp.uri('ada', secret)).toContain('digits=8')
    expect(now.totp.uri('ada', secret)).toContain('issuer=Beaver%20Links')
  })

  it('verifies its own TOTP codes with the configured window', async () => {
    let t = 1_800_000_000_000
    const k = createKrypto({ envPrefix: false, now: () => t })
    const secret = k.totp.generateSecret()
    const code = k.totp.code(secret)
    t += 30_000
    expect((await k.totp.verify(code, secret)).drift).toBe(-1)
    expect((await k.totp.verify(totp(secret, { time: t - 90_000 }), secret)).valid).toBe(false)
  })

  it('takes an asymmetric JWT key set from the environment (JWKS: first signs, rest verify)', () => {
    const a = generateKeyPair('ES256')
    const b = generateKeyPair('ES256')
    const jwks = {
      keys: [
        { ...exportKey(a.privateKey, 'jwk'), kid: 'new' },
        { ...exportKey(b.publicKey, 'jwk'), kid: 'old' },
      ],
    }
    const old = createKrypto({
      envPrefix: false,
      jwt: {
        algorithm: 'ES256',
        privateKey: JSON.stringify({ keys: [{ ...exportKey(b.privateKey, 'jwk'), kid: 'old' }] }),
      },
    })
    const k = createKrypto({ envPrefix: false, jwt: { algorithm: 'ES256', privateKey: JSON.stringify(jwks) } })
    expect(k.jwt.currentKid).toBe('new')
    expect(k.jwt.verify(old.jwt.sign({ sub: 'o' })).sub).toBe('o')
    const pem = createKrypto({
      envPrefix: false,
      jwt: { algorithm: 'ES256', privateKey: exportKey(a.privateKey, 'pem') },
    })
    expect(pem.jwt.currentKid).toMatch(/^[\w-]{43}$/) // RFC 7638 thumbprint when no kid is given
    expect(pem.jwt.verify(pem.jwt.sign({ sub: 'p' })).sub).toBe('p')
    expect(() => k.jwt.verify(pem.jwt.sign({ sub: 'p' }))).toThrow(
      expect.objectContaining({ code: 'KRYPTO_KEY_NOT_FOUND' }),
    )
  })

  it('reports bad variables as one ConfigError naming each, secrets masked', () => {
    process.env.T4_KRYPTO_KEYS = 'oops'
    process.env.T4_KRYPTO_JWT_ALGORITHM = 'none'
    process.env.T4_KRYPTO_PASSWORD_ARGON2_PASES = '3'
    const err = configErrorOf(() => createKrypto({ envPrefix: 'T4_' }))
    expect(err.message).toContain('T4_KRYPTO_KEYS')
    expect(err.message).toContain('T4_KRYPTO_JWT_ALGORITHM')
    expect(err.message).toContain('T4_KRYPTO_PASSWORD_ARGON2_PASSES')
    expect(err.message).not.toContain('oops')
  })

  it('a key ring entry that parses but is too short is a ConfigError naming its variable, key not echoed', () => {
    const short = `k1:${Buffer.alloc(16, 7).toString('base64')}`
    const err = configErrorOf(() => createKrypto({ env: { ACME_KRYPTO_KEYS: short }, envPrefix: 'ACME_' }))
    expect(err.issues).toEqual([
      { name: 'ACME_KRYPTO_KEYS', found: '****', expected: expect.stringContaining('needs at least 32') },
    ])
    expect(err.message).not.toContain(Buffer.alloc(16, 7).toString('base64'))
    expect(configErrorOf(() => createKrypto({ keys: short, envPrefix: false })).issues[0]?.name).toBe('option keys')
  })
})

describe('default instance', () => {
  it('krypto() builds from BEAVER_KRYPTO_*, initKrypto refuses once built, close is idempotent', async () => {
    process.env.BEAVER_KRYPTO_KEYS = K1
    const k = krypto()
    expect(krypto()).toBe(k)
    expect(k.ring.currentKid).toBe('k1')
    expect(() => initKrypto({ keys: K2 })).toThrow(expect.objectContaining({ code: 'CORE_ALREADY_INITIALIZED' }))
    await resetKrypto()
    const j = initKrypto({ keys: K2, envPrefix: false })
    expect(krypto()).toBe(j)
    expect(j.ring.currentKid).toBe('k2')
    await j.close()
    await j.close()
    await j[Symbol.asyncDispose]()
  })

  it('rethrows a configuration error until the environment is fixed', () => {
    process.env.BEAVER_KRYPTO_KEYS = 'broken'
    expect(() => krypto()).toThrow(/BEAVER_KRYPTO_KEYS/)
    expect(() => krypto()).toThrow(/BEAVER_KRYPTO_KEYS/)
    process.env.BEAVER_KRYPTO_KEYS = K1
    expect(krypto().hasKeys).toBe(true)
  })

  it('krypto().urls is the URL signer of the default instance, keyed by its ring', async () => {
    process.env.BEAVER_KRYPTO_KEYS = K1
    process.env.BEAVER_URLSIGNER_DEFAULT_TTL = '2m'
    initKrypto({ now: () => 1_800_000_000_000 })
    const link = krypto().urls.sign('/files/1')
    expect(link).toContain('kid=k1')
    expect((await krypto().urls.verify(link)).remainingMs).toBe(120_000)
    expect(krypto().urls.describe().state).toMatchObject({ keysFrom: 'BEAVER_KRYPTO_KEYS', currentKid: 'k1' })
    // withPrefix takes the same options as createKrypto and reads <prefix>URLSIGNER_* too.
    const billing = withPrefix('BILLING_', {
      env: { BILLING_KRYPTO_KEYS: K2, BILLING_URLSIGNER_PARAMS_SIGNATURE: 's' },
    })
    expect(billing.urls.sign('/x')).toMatch(/kid=k2&s=/)
  })
})

describe('the instance surface', () => {
  it('describe() shows keys passed as options as set and masked, in the config shape', () => {
    const k = createKrypto({ keys: K1, envPrefix: false, urls: { keys: K2 } })
    const d = k.describe()
    expect(d).toMatchObject({ package: 'krypto', envPrefix: false })
    expect(d.settings.find((e) => e.path === 'keys')).toMatchObject({ value: '****', source: 'option', secret: true })
    expect(k.urls.describe().settings.find((e) => e.path === 'keys')).toMatchObject({ value: '****', source: 'option' })
    const text = JSON.stringify([d, k.urls.describe()])
    for (const key of [K1, K2]) expect(text).not.toContain(key.split(':')[1] as string)
    // Without keys they are shown as unset, not as set.
    expect(
      createKrypto({ envPrefix: false })
        .describe()
        .settings.find((e) => e.path === 'keys'),
    ).toMatchObject({
      value: undefined,
      source: 'unset',
    })
  })

  it('reads the given env instead of process.env', () => {
    process.env.BEAVER_KRYPTO_KEYS = K2
    const k = createKrypto({ env: { BEAVER_KRYPTO_KEYS: K1, BEAVER_KRYPTO_JWT_ISSUER: 'from-env-option' } })
    expect(k.ring.currentKid).toBe('k1')
    expect(k.jwt.verify(k.jwt.sign({}))).toMatchObject({ iss: 'from-env-option' })
  })

  it('ready() resolves without a remote JWKS, fetches it when there is one, and rejects once closed', async () => {
    const plain = createKrypto({ envPrefix: false })
    await plain.ready()
    await plain.close()
    await expect(plain.ready()).rejects.toMatchObject({ code: 'KRYPTO_CLOSED' })
    const urls: string[] = []
    const fakeFetch = (async (input: string | URL | Request) => {
      urls.push(String(input))
      return new Response(JSON.stringify({ keys: [] }), { headers: { 'content-type': 'application/json' } })
    }) as typeof fetch
    const remote = createKrypto({
      envPrefix: false,
      jwt: { jwksUrl: 'https://issuer.test/jwks.json' },
      fetch: fakeFetch,
    })
    await remote.ready()
    expect(urls).toEqual(['https://issuer.test/jwks.json'])
    const failing = createKrypto({
      envPrefix: false,
      jwt: { jwksUrl: 'https://issuer.test/jwks.json' },
      fetch: (async () => new Response('no', { status: 503 })) as typeof fetch,
    })
    await expect(failing.ready()).rejects.toMatchObject({ code: 'KRYPTO_JWKS_FETCH_FAILED' })
    const aborted = AbortSignal.abort(new Error('stop'))
    await expect(remote.ready({ signal: aborted })).rejects.toThrow('stop')
    await remote.close()
    await failing.close()
  })

  it('reads secrets from _FILE variables: key ring, PEM private key and URL signer keys, masked in describe()', () => {
    const dir = mkdtempSync(join(tmpdir(), 'krypto-file-'))
    try {
      const { privateKey } = generateKeyPair('ES256')
      writeFileSync(join(dir, 'keys'), `${K1}\n`)
      writeFileSync(join(dir, 'jwt.pem'), exportKey(privateKey, 'pem'))
      writeFileSync(join(dir, 'url'), `${K2}\n`)
      const env = {
        F_KRYPTO_KEYS_FILE: join(dir, 'keys'),
        F_KRYPTO_JWT_PRIVATE_KEY_FILE: join(dir, 'jwt.pem'),
        F_URLSIGNER_KEYS_FILE: join(dir, 'url'),
      }
      const k = withPrefix('F_', { env })
      expect(k.ring.currentKid).toBe('k1')
      const token = k.jwt.sign({ sub: 'f' })
      expect(decodeJwtUnverified(token).header.alg).toBe('ES256')
      expect(k.jwt.verify(token).sub).toBe('f')
      expect(k.urls.sign('/a')).toContain('kid=k2')
      const settings = k.describe().settings
      expect(settings.find((e) => e.name === 'F_KRYPTO_KEYS')).toMatchObject({ value: '****', source: 'env-file' })
      expect(settings.find((e) => e.name === 'F_KRYPTO_JWT_PRIVATE_KEY')).toMatchObject({
        value: '****',
        source: 'env-file',
      })
      expect(JSON.stringify(k.describe())).not.toContain('PRIVATE KEY')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('password costs past PASSWORD_LIMITS are a ConfigError naming the variable', () => {
    const err = configErrorOf(() =>
      createKrypto({
        env: { BEAVER_KRYPTO_PASSWORD_ARGON2_MEMORY: '200mb', BEAVER_KRYPTO_PASSWORD_ARGON2_PASSES: '8' },
      }),
    )
    expect(err.issues).toEqual([
      expect.objectContaining({
        name: 'BEAVER_KRYPTO_PASSWORD_ARGON2_PASSES',
        expected: expect.stringContaining('memory × passes must stay within 1048576 KiB'),
      }),
    ])
    expect(
      configErrorOf(() => createKrypto({ env: { BEAVER_KRYPTO_PASSWORD_ARGON2_MEMORY: '300mb' } })).issues[0]?.name,
    ).toBe('BEAVER_KRYPTO_PASSWORD_ARGON2_MEMORY')
  })

  it('an http:// JWKS URL needs JWKS_ALLOW_HTTP', () => {
    const err = configErrorOf(() =>
      createKrypto({ env: { BEAVER_KRYPTO_JWT_JWKS_URL: 'http://issuer.test/jwks.json' } }),
    )
    expect(err.issues[0]).toMatchObject({
      name: 'BEAVER_KRYPTO_JWT_JWKS_URL',
      expected: expect.stringContaining('BEAVER_KRYPTO_JWT_JWKS_ALLOW_HTTP=true'),
    })
    const k = createKrypto({
      env: { BEAVER_KRYPTO_JWT_JWKS_URL: 'http://issuer.test/jwks.json', BEAVER_KRYPTO_JWT_JWKS_ALLOW_HTTP: 'true' },
    })
    expect(k.describe().settings.find((e) => e.path === 'jwt.jwksAllowHttp')?.value).toBe('true')
  })
})

// Signatures checked against the openssl command line in both directions. JOSE's ECDSA
// signatures are raw r||s; openssl speaks DER, so the test converts between them.
describe('cross-check signatures with openssl', () => {
  const dir = mkdtempSync(join(tmpdir(), 'krypto-openssl-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const data = Buffer.from('signed by beaver kit')
  const dataFile = join(dir, 'data')
  writeFileSync(dataFile, data)

  function derInt(b: Buffer): Buffer {
    let i = 0
    while (i < b.length - 1 && b[i] === 0) i++
    let v = b.subarray(i)
    if ((v[0] as number) & 0x80) v = Buffer.concat([Buffer.from([0]), v])
    return Buffer.concat([Buffer.from([0x02, v.length]), v])
  }
  function rawToDer(raw: Buffer): Buffer {
    const half = raw.length / 2
    const body = Buffer.concat([derInt(raw.subarray(0, half)), derInt(raw.subarray(half))])
    return Buffer.concat([
      body.length < 128 ? Buffer.from([0x30, body.length]) : Buffer.from([0x30, 0x81, body.length]),
      body,
    ])
  }
  function derToRaw(der: Buffer, size: number): Buffer {
    let o = der[1] === 0x81 ? 3 : 2
    const read = (): Buffer => {
      const len = der[o + 1] as number
      const v = der.subarray(o + 2, o + 2 + len)
      o += 2 + len
      return Buffer.concat([Buffer.alloc(size), v]).subarray(-size)
    }
    return Buffer.concat([read(), read()])
  }

  const cases: { alg: AsymmetricAlgorithm; dgst: string[]; size?: number }[] = [
    { alg: 'ES256', dgst: ['-sha256'], size: 32 },
    { alg: 'ES384', dgst: ['-sha384'], size: 48 },
    { alg: 'RS256', dgst: ['-sha256'] },
    { alg: 'PS256', dgst: ['-sha256', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:digest'] },
  ]
  it.each(cases)('$alg: ours verifies with openssl, openssl verifies with ours', ({ alg, dgst, size }) => {
    const { privateKey, publicKey } = generateKeyPair(alg)
    const pub = join(dir, `${alg}.pub.pem`)
    const priv = join(dir, `${alg}.key.pem`)
    writeFileSync(pub, exportKey(publicKey, 'pem'))
    writeFileSync(priv, exportKey(privateKey, 'pem'))
    const ours = signBytes(alg, data, privateKey)
    const sigFile = join(dir, `${alg}.sig`)
    writeFileSync(sigFile, size ? rawToDer(ours) : ours)
    expect(
      execFileSync('openssl', ['dgst', ...dgst, '-verify', pub, '-signature', sigFile, dataFile]).toString(),
    ).toContain('Verified OK')
    const theirs = execFileSync('openssl', ['dgst', ...dgst, '-sign', priv, dataFile])
    const sig = size ? derToRaw(theirs, size) : theirs
    expect(verifyBytes(alg, data, sig, publicKey)).toBe(true)
    expect(verifyBytes(alg, Buffer.concat([data, Buffer.from('!')]), sig, publicKey)).toBe(false)
  })

  it('EdDSA (Ed25519): both directions with openssl pkeyutl -rawin', () => {
    const { privateKey, publicKey } = generateKeyPair('EdDSA')
    const pub = join(dir, 'ed.pub.pem')
    const priv = join(dir, 'ed.key.pem')
    writeFileSync(pub, exportKey(publicKey, 'pem'))
    writeFileSync(priv, exportKey(privateKey, 'pem'))
    const sigFile = join(dir, 'ed.sig')
    writeFileSync(sigFile, signBytes('EdDSA', data, privateKey))
    expect(
      execFileSync('openssl', [
        'pkeyutl',
        '-verify',
        '-pubin',
        '-inkey',
        pub,
        '-rawin',
        '-in',
        dataFile,
        '-sigfile',
        sigFile,
      ]).toString(),
    ).toContain('Signature Verified Successfully')
    const theirs = execFileSync('openssl', ['pkeyutl', '-sign', '-inkey', priv, '-rawin', '-in', dataFile])
    expect(signBytes('EdDSA', data, privateKey).equals(theirs)).toBe(true) // Ed25519 is deterministic
    expect(verifyBytes('EdDSA', data, theirs, publicKey)).toBe(true)
  })

  it('HS256: the JWT signature equals openssl dgst -hmac over the signing input', () => {
    const k = createKrypto({ jwtKeys: [{ key: Buffer.alloc(32, 0x61), alg: 'HS256', kid: 'h' }], envPrefix: false })
    const token = k.jwt.sign({ sub: 'x' })
    const input = token.slice(0, token.lastIndexOf('.'))
    const out = execFileSync(
      'openssl',
      ['dgst', '-sha256', '-mac', 'HMAC', '-macopt', `hexkey:${'61'.repeat(32)}`, '-binary'],
      { input },
    )
    expect(out.toString('base64url')).toBe(token.slice(token.lastIndexOf('.') + 1))
    expect(isKryptoError(new Error('x'))).toBe(false)
  })
})
