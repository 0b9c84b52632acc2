// Side-by-side benchmark on the kit's one harness: the kit against jose, fast-jwt and
// jsonwebtoken, and against the node:crypto floor (pre-imported keys, base64url and JSON
// included, no claim checks). `npm run bench -w @beaver-kit/krypto`; BENCH_QUICK=1 for a smoke run.
import {
  argon2 as nodeArgon2,
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPublicKey,
  createSecretKey,
  randomBytes,
  scrypt as nodeScrypt,
  verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto'
import { createSigner, createVerifier } from 'fast-jwt'
import * as jose from 'jose'
import jsonwebtoken from 'jsonwebtoken'
import { isQuick, median, runBench, type BenchCase } from '@beaver-kit/testkit/bench'
import { createJwt, createKeyRing, createPasswordHasher, generateKeyPair, generateKeyRingEntry } from '../src/index.ts'

const now = Math.floor(Date.now() / 1000)
// A typical access token: 8 claims.
const claims = {
  sub: 'user-1234567890',
  iss: 'https://auth.links.example',
  aud: 'links-api',
  iat: now,
  exp: now + 3600,
  jti: '0b1e4a7c-3f0a-4c7e-9a55-2f1c8d6e9b10',
  role: 'admin',
  scope: 'links:read links:write',
}
const { iss, aud } = claims
const own = { sub: claims.sub, role: claims.role, scope: claims.scope, jti: claims.jti }
const cases: BenchCase[] = []

// ---- HS256: every library checks signature, exp, iss and aud; the floor the signature only ----
const secret = randomBytes(32)
const secretKey = createSecretKey(secret)
const kit = createJwt({ keys: [{ key: secret, alg: 'HS256', kid: 'k1' }], issuer: iss, audience: aud, jti: false })
const hsToken = kit.sign(own, { expiresIn: '1h' })
const fastSign = createSigner({ key: secret, algorithm: 'HS256', kid: 'k1' })
const fastVerify = createVerifier({
  key: secret,
  algorithms: ['HS256'],
  allowedIss: iss,
  allowedAud: aud,
  cache: false,
})
const fastVerifyCached = createVerifier({
  key: secret,
  algorithms: ['HS256'],
  allowedIss: iss,
  allowedAud: aud,
  cache: true,
})
const headerB64 = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: 'k1' })).toString('base64url')
const floorHsSign = (): string => {
  const input = `${headerB64}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`
  return `${input}.${createHmac('sha256', secretKey).update(input).digest('base64url')}`
}
const floorHsVerify = (token: string): unknown => {
  const dot2 = token.lastIndexOf('.')
  const sig = createHmac('sha256', secretKey).update(token.slice(0, dot2)).digest('base64url')
  if (sig !== token.slice(dot2 + 1)) throw new Error('bad')
  return JSON.parse(Buffer.from(token.slice(token.indexOf('.') + 1, dot2), 'base64url').toString())
}
cases.push({
  name: 'jwt hs256 sign',
  contenders: [
    { contender: 'beaver-kit', fn: () => kit.sign(claims) },
    {
      contender: 'jose',
      fn: () => new jose.SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).sign(secret),
    },
    { contender: 'fast-jwt', fn: () => fastSign(claims) },
    { contender: 'jsonwebtoken', fn: () => jsonwebtoken.sign(claims, secret, { algorithm: 'HS256', keyid: 'k1' }) },
    { contender: 'floor', fn: floorHsSign },
  ],
})
cases.push({
  name: 'jwt hs256 verify',
  contenders: [
    { contender: 'beaver-kit', fn: () => kit.verify(hsToken) },
    {
      contender: 'jose',
      fn: () => jose.jwtVerify(hsToken, secret, { issuer: iss, audience: aud, algorithms: ['HS256'] }),
    },
    { contender: 'fast-jwt', fn: () => fastVerify(hsToken) },
    { contender: 'fast-jwt', variant: 'cache', fn: () => fastVerifyCached(hsToken) },
    {
      contender: 'jsonwebtoken',
      fn: () => jsonwebtoken.verify(hsToken, secret, { algorithms: ['HS256'], issuer: iss, audience: aud }),
    },
    { contender: 'floor', fn: () => floorHsVerify(hsToken) },
  ],
})

// ---- ES256 / EdDSA verify ----
for (const alg of ['ES256', 'EdDSA'] as const) {
  const { privateKey, publicKey } = generateKeyPair(alg)
  const spki = publicKey.export({ format: 'pem', type: 'spki' }) as string
  const signer = createJwt({ keys: [{ key: privateKey, alg, kid: 'a1' }], issuer: iss, audience: aud, jti: false })
  const verifier = createJwt({ keys: [{ key: publicKey, alg, kid: 'a1' }], issuer: iss, audience: aud })
  const token = signer.sign(own, { expiresIn: '1h' })
  const fv = createVerifier({ key: spki, algorithms: [alg], allowedIss: iss, allowedAud: aud, cache: false })
  const pub: KeyObject = createPublicKey(spki)
  const floorKey = alg === 'ES256' ? { key: pub, dsaEncoding: 'ieee-p1363' as const } : pub
  const floorVerify = (t: string): unknown => {
    const dot2 = t.lastIndexOf('.')
    const signature = Buffer.from(t.slice(dot2 + 1), 'base64url')
    if (!cryptoVerify(alg === 'ES256' ? 'sha256' : null, Buffer.from(t.slice(0, dot2)), floorKey, signature))
      throw new Error('bad')
    return JSON.parse(Buffer.from(t.slice(t.indexOf('.') + 1, dot2), 'base64url').toString())
  }
  cases.push({
    name: `jwt ${alg.toLowerCase()} verify`,
    contenders: [
      { contender: 'beaver-kit', fn: () => verifier.verify(token) },
      {
        contender: 'jose',
        fn: () => jose.jwtVerify(token, publicKey, { issuer: iss, audience: aud, algorithms: [alg] }),
      },
      { contender: 'fast-jwt', fn: () => fv(token) },
      // jsonwebtoken 9 has no EdDSA.
      ...(alg === 'ES256'
        ? [
            {
              contender: 'jsonwebtoken',
              fn: () => jsonwebtoken.verify(token, spki, { algorithms: ['ES256'], issuer: iss, audience: aud }),
            },
          ]
        : []),
      { contender: 'floor', fn: () => floorVerify(token) },
    ],
  })
}

// ---- AES-256-GCM: the kit's binary envelope against a bare cipher with nonce and tag ----
const ring = createKeyRing(generateKeyRingEntry('b1'))
const rawKey = randomBytes(32)
for (const size of [1024, 64 * 1024]) {
  const data = randomBytes(size)
  const box = ring.encryptBytes(data)
  const nonce0 = randomBytes(12)
  const c0 = createCipheriv('aes-256-gcm', rawKey, nonce0)
  const raw = Buffer.concat([c0.update(data), c0.final()])
  const tag0 = c0.getAuthTag()
  cases.push({
    name: `aes-256-gcm encrypt ${size / 1024} KiB`,
    contenders: [
      { contender: 'beaver-kit', fn: () => ring.encryptBytes(data) },
      {
        contender: 'floor',
        fn: () => {
          const nonce = randomBytes(12)
          const c = createCipheriv('aes-256-gcm', rawKey, nonce)
          return Buffer.concat([nonce, c.update(data), c.final(), c.getAuthTag()])
        },
      },
    ],
  })
  cases.push({
    name: `aes-256-gcm decrypt ${size / 1024} KiB`,
    contenders: [
      { contender: 'beaver-kit', fn: () => ring.decryptBytes(box) },
      {
        contender: 'floor',
        fn: () => {
          const d = createDecipheriv('aes-256-gcm', rawKey, nonce0)
          d.setAuthTag(tag0)
          return Buffer.concat([d.update(raw), d.final()])
        },
      },
    ],
  })
}

// ---- password hashing at the default cost: the kit against node:crypto at the same parameters ----
// argon2id is a case; scrypt (about 2 hashes per second) is timed apart, since the harness
// reports whole operations per second.
const password = 'correct horse battery staple'
const argon2Kit = createPasswordHasher({ algorithm: 'argon2id' })
const scryptKit = createPasswordHasher({ algorithm: 'scrypt' })
const floorArgon2 = (): Promise<Buffer> =>
  new Promise((resolve, reject) =>
    nodeArgon2(
      'argon2id',
      { message: password, nonce: randomBytes(16), parallelism: 1, tagLength: 32, memory: 19_456, passes: 2 },
      (err, out) => (err ? reject(err) : resolve(out)),
    ),
  )
const floorScrypt = (): Promise<Buffer> =>
  new Promise((resolve, reject) =>
    nodeScrypt(password, randomBytes(16), 32, { N: 2 ** 17, r: 8, p: 1, maxmem: 256 * 2 ** 20 }, (err, out) =>
      err ? reject(err) : resolve(out),
    ),
  )
cases.push({
  name: 'password hash argon2id (m=19 MiB, t=2)',
  latency: true,
  contenders: [
    { contender: 'beaver-kit', fn: () => argon2Kit.hash(password) },
    { contender: 'floor', fn: floorArgon2 },
  ],
})
await runBench({
  package: 'krypto',
  url: import.meta.url,
  rounds: 7,
  cases,
  goals: [
    { goal: 'HS256 verify ≥ 1.4x fast-jwt (no cache)', case: 'jwt hs256 verify', over: 'fast-jwt', target: 1.4 },
    { goal: 'HS256 verify ≥ 0.8x the node:crypto floor', case: 'jwt hs256 verify', over: 'floor', target: 0.8 },
    { goal: 'HS256 verify ≥ 10x jose', case: 'jwt hs256 verify', over: 'jose', target: 10 },
    { goal: 'HS256 sign ≥ 1.0x fast-jwt', case: 'jwt hs256 sign', over: 'fast-jwt', target: 1 },
    { goal: 'ES256 verify ≥ 0.9x the floor', case: 'jwt es256 verify', over: 'floor', target: 0.9 },
    { goal: 'EdDSA verify ≥ 0.9x the floor', case: 'jwt eddsa verify', over: 'floor', target: 0.9 },
    { goal: 'AES-GCM decrypt 64 KiB ≥ 0.8x the floor', case: 'aes-256-gcm decrypt 64 KiB', over: 'floor', target: 0.8 },
  ],
  notes: async () => [
    await scryptNote(),
    'Every JWT library verifies signature, exp, iss and aud; the floor is createHmac / crypto.verify with a pre-imported key plus base64url and JSON.parse, without any check.',
    'fast-jwt (cache) skips HMAC and JSON for a token it has seen; the kit has no such cache by design (a cached verification outlives a key rotation).',
    'jose is given what its docs show for Node (a Uint8Array secret, a KeyObject public key) and is async, so its rows include its per-call key handling and a promise.',
    'AES rows: the kit writes its binary envelope (version, key id, nonce, ciphertext, tag); the floor a bare nonce, ciphertext and tag under a raw key.',
    'Password rows: the kit against node:crypto argon2 at the same parameters (OWASP defaults), one hash at a time.',
  ],
})

/** Median time of one scrypt hash, kit and floor alternating, as a note under the table. */
async function scryptNote(): Promise<string> {
  const n = isQuick() ? 1 : 7
  const kitMs: number[] = []
  const floorMs: number[] = []
  for (let i = 0; i < n; i++) {
    let t = performance.now()
    await scryptKit.hash(password)
    kitMs.push(performance.now() - t)
    t = performance.now()
    await floorScrypt()
    floorMs.push(performance.now() - t)
  }
  const kit = Math.round(median(kitMs))
  const floor = Math.round(median(floorMs))
  return `scrypt (N=2^17, r=8, p=1) hash: beaver-kit ${kit} ms, floor (node:crypto scrypt) ${floor} ms, median of ${n} alternating hashes.`
}
