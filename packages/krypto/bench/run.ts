// Side-by-side benchmark: the kit against jose, fast-jwt and jsonwebtoken, and against the
// node:crypto floor (pre-imported keys, base64url and JSON included, no claim checks).
// `npm run bench -w @beaver-kit/krypto`; BENCH_QUICK=1 for a short smoke run.
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPublicKey,
  createSecretKey,
  randomBytes,
  verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { createSigner, createVerifier } from 'fast-jwt'
import * as jose from 'jose'
import jsonwebtoken from 'jsonwebtoken'
import { do_not_optimize, measure } from 'mitata'
import { createJwt, createKeyRing, createPasswordHasher, generateKeyPair, generateKeyRingEntry } from '../src/index.ts'

const quick = process.env.BENCH_QUICK === '1'
const opts = quick ? { min_cpu_time: 40 * 1e6, warmup_samples: 2 } : { min_cpu_time: 120 * 1e6 }

interface Row {
  case: string
  contender: string
  opsPerSec: number
  p99Ms?: number
  mbPerSec?: number
  /** beaver-kit ÷ this contender, the median of the ratios measured back to back in each round. */
  kitRatio?: number
}
const results: Row[] = []

// The box is shared, so each case runs its contenders in several short rounds, rotating the
// order, and reports the median. Ratios are taken within each round (contenders measured back to
// back see similar load) and their median is reported, which is steadier than dividing medians.
const rounds = quick ? 1 : 9
type Contender = [name: string, fn: () => unknown]

async function run(caseName: string, contenders: Contender[], bytes?: number): Promise<void> {
  console.log(caseName)
  const samples = new Map<string, { ops: number; p99: number }[]>()
  for (const [name, fn] of contenders) {
    // Run once outside the timing: a contender that throws would otherwise look very fast.
    const first = fn()
    if (first instanceof Promise) await first
    samples.set(name, [])
  }
  for (let r = 0; r < rounds; r++) {
    const order = contenders.map((_, i) => contenders[(i + r) % contenders.length] as Contender)
    for (const [name, fn] of order) {
      const stats = await measure(fn, opts)
      samples.get(name)?.push({ ops: 1e9 / stats.avg, p99: stats.p99 / 1e6 })
    }
  }
  for (const [name] of contenders) {
    const list = [...(samples.get(name) ?? [])].sort((a, b) => a.ops - b.ops)
    const mid = list[Math.floor(list.length / 2)] as { ops: number; p99: number }
    const row: Row = {
      case: caseName,
      contender: name,
      opsPerSec: Math.round(mid.ops),
      p99Ms: Math.round(mid.p99 * 1e4) / 1e4,
    }
    if (bytes) row.mbPerSec = Math.round(((bytes * mid.ops) / 2 ** 20) * 10) / 10
    if (name !== 'beaver-kit') {
      const kit = samples.get('beaver-kit') ?? []
      const mine = samples.get(name) ?? []
      const paired = kit.map((k, i) => k.ops / (mine[i]?.ops ?? NaN)).sort((a, b) => a - b)
      if (paired.length > 0) row.kitRatio = Math.round((paired[Math.floor(paired.length / 2)] as number) * 100) / 100
    }
    results.push(row)
    const spread =
      list.length > 1
        ? `  (min ${Math.round(list[0]!.ops).toLocaleString('en-US')}, max ${Math.round(list[list.length - 1]!.ops).toLocaleString('en-US')})`
        : ''
    const extra = row.mbPerSec === undefined ? '' : `  ${row.mbPerSec} MiB/s`
    console.log(`  ${name.padEnd(20)} ${row.opsPerSec.toLocaleString('en-US').padStart(12)} ops/s${extra}${spread}`)
  }
}

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
const iss = claims.iss
const aud = claims.aud

// ---- HS256 ----
const secret = randomBytes(32)
const secretKey = createSecretKey(secret)
const kit = createJwt({ keys: [{ key: secret, alg: 'HS256', kid: 'k1' }], issuer: iss, audience: aud, jti: false })
const hsToken = kit.sign(
  { sub: claims.sub, role: claims.role, scope: claims.scope, jti: claims.jti },
  { expiresIn: '1h' },
)
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

function floorHsSign(): string {
  const input = `${headerB64}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`
  return `${input}.${createHmac('sha256', secretKey).update(input).digest('base64url')}`
}
function floorHsVerify(token: string): unknown {
  const dot2 = token.lastIndexOf('.')
  const sig = createHmac('sha256', secretKey).update(token.slice(0, dot2)).digest('base64url')
  if (sig !== token.slice(dot2 + 1)) throw new Error('bad')
  return JSON.parse(Buffer.from(token.slice(token.indexOf('.') + 1, dot2), 'base64url').toString())
}

console.log(
  `krypto benchmark on Node ${process.version}, ${cpus()[0]?.model} x${cpus().length}${quick ? ' (BENCH_QUICK)' : ''}\n`,
)
await run('jwt hs256 sign', [
  ['beaver-kit', () => kit.sign(claims)],
  ['jose', () => new jose.SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).sign(secret)],
  ['fast-jwt', () => fastSign(claims)],
  ['jsonwebtoken', () => jsonwebtoken.sign(claims, secret, { algorithm: 'HS256', keyid: 'k1' })],
  ['floor', () => floorHsSign()],
])
// Every library checks signature, exp, iss and aud; the floor checks the signature only.
await run('jwt hs256 verify', [
  ['beaver-kit', () => do_not_optimize(kit.verify(hsToken))],
  ['jose', () => jose.jwtVerify(hsToken, secret, { issuer: iss, audience: aud, algorithms: ['HS256'] })],
  ['fast-jwt', () => do_not_optimize(fastVerify(hsToken))],
  ['fast-jwt (cache)', () => do_not_optimize(fastVerifyCached(hsToken))],
  [
    'jsonwebtoken',
    () => do_not_optimize(jsonwebtoken.verify(hsToken, secret, { algorithms: ['HS256'], issuer: iss, audience: aud })),
  ],
  ['floor', () => do_not_optimize(floorHsVerify(hsToken))],
])

// ---- ES256 / EdDSA verify ----
for (const alg of ['ES256', 'EdDSA'] as const) {
  const { privateKey, publicKey } = generateKeyPair(alg)
  const spki = publicKey.export({ format: 'pem', type: 'spki' }) as string
  const signer = createJwt({ keys: [{ key: privateKey, alg, kid: 'a1' }], issuer: iss, audience: aud, jti: false })
  const verifier = createJwt({ keys: [{ key: publicKey, alg, kid: 'a1' }], issuer: iss, audience: aud })
  const token = signer.sign(
    { sub: claims.sub, role: claims.role, scope: claims.scope, jti: claims.jti },
    { expiresIn: '1h' },
  )
  const fv = createVerifier({ key: spki, algorithms: [alg], allowedIss: iss, allowedAud: aud, cache: false })
  const pub: KeyObject = createPublicKey(spki)
  const floorVerify = (t: string): unknown => {
    const dot2 = t.lastIndexOf('.')
    const key = alg === 'ES256' ? { key: pub, dsaEncoding: 'ieee-p1363' as const } : pub
    const ok = cryptoVerify(
      alg === 'ES256' ? 'sha256' : null,
      Buffer.from(t.slice(0, dot2)),
      key,
      Buffer.from(t.slice(dot2 + 1), 'base64url'),
    )
    if (!ok) throw new Error('bad')
    return JSON.parse(Buffer.from(t.slice(t.indexOf('.') + 1, dot2), 'base64url').toString())
  }
  const contenders: Contender[] = [
    ['beaver-kit', () => do_not_optimize(verifier.verify(token))],
    ['jose', () => jose.jwtVerify(token, publicKey, { issuer: iss, audience: aud, algorithms: [alg] })],
    ['fast-jwt', () => do_not_optimize(fv(token))],
    ['floor', () => do_not_optimize(floorVerify(token))],
  ]
  // jsonwebtoken 9 has no EdDSA.
  if (alg === 'ES256') {
    contenders.push([
      'jsonwebtoken',
      () => do_not_optimize(jsonwebtoken.verify(token, spki, { algorithms: ['ES256'], issuer: iss, audience: aud })),
    ])
  }
  await run(`jwt ${alg.toLowerCase()} verify`, contenders)
}

// ---- AES-256-GCM ----
const ring = createKeyRing(generateKeyRingEntry('b1'))
const rawKey = randomBytes(32)
for (const size of [1024, 64 * 1024]) {
  const data = randomBytes(size)
  const box = ring.encryptBytes(data)
  const nonce0 = randomBytes(12)
  const c0 = createCipheriv('aes-256-gcm', rawKey, nonce0)
  const raw = Buffer.concat([c0.update(data), c0.final()])
  const tag0 = c0.getAuthTag()
  const floorEncrypt = (): Buffer => {
    const nonce = randomBytes(12)
    const c = createCipheriv('aes-256-gcm', rawKey, nonce)
    return Buffer.concat([nonce, c.update(data), c.final(), c.getAuthTag()])
  }
  const floorDecrypt = (): Buffer => {
    const d = createDecipheriv('aes-256-gcm', rawKey, nonce0)
    d.setAuthTag(tag0)
    return Buffer.concat([d.update(raw), d.final()])
  }
  await run(
    `aes-256-gcm encrypt ${size / 1024} KiB`,
    [
      ['beaver-kit', () => ring.encryptBytes(data)],
      ['floor', floorEncrypt],
    ],
    size,
  )
  await run(
    `aes-256-gcm decrypt ${size / 1024} KiB`,
    [
      ['beaver-kit', () => ring.decryptBytes(box)],
      ['floor', floorDecrypt],
    ],
    size,
  )
}

// ---- password hashing latency at the default cost ----
console.log('password hashing at default cost (latency)')
for (const algorithm of ['argon2id', 'scrypt'] as const) {
  const hasher = createPasswordHasher({ algorithm })
  const n = quick ? 2 : 10
  const times: number[] = []
  for (let i = 0; i < n + 1; i++) {
    const t = performance.now()
    await hasher.hash('correct horse battery staple')
    if (i > 0) times.push(performance.now() - t)
  }
  times.sort((a, b) => a - b)
  const mean = times.reduce((a, b) => a + b, 0) / times.length
  results.push({
    case: `password hash ${algorithm} (default cost)`,
    contender: 'beaver-kit',
    opsPerSec: Math.round((1000 / mean) * 10) / 10,
    p99Ms: times[times.length - 1] as number,
  })
  console.log(
    `  ${algorithm.padEnd(26)} ${mean.toFixed(1)} ms per hash (max ${times[times.length - 1]?.toFixed(1)} ms)`,
  )
}

// ---- ratios ----
const ops = (c: string, who: string): number =>
  results.find((r) => r.case === c && r.contender === who)?.opsPerSec ?? NaN
const ratio = (c: string, who: string): string => {
  const row = results.find((r) => r.case === c && r.contender === who)
  return (row?.kitRatio ?? ops(c, 'beaver-kit') / ops(c, who)).toFixed(2)
}
console.log('\nratios (beaver-kit / other, median of per-round ratios)')
for (const c of [...new Set(results.map((r) => r.case))]) {
  const others = results
    .filter((r) => r.case === c && r.contender !== 'beaver-kit')
    .map((r) => `${r.contender} ${ratio(c, r.contender)}x`)
  if (others.length) console.log(`  ${c.padEnd(28)} ${others.join('  ')}`)
}
const v = 'jwt hs256 verify'
console.log(
  `\ngoals (HS256 verify): >= 1.0x fast-jwt (no cache): ${ratio(v, 'fast-jwt')}x; >= 0.5x floor: ${ratio(v, 'floor')}x; >= 20x jose: ${ratio(v, 'jose')}x`,
)

writeFileSync(
  new URL('results.json', import.meta.url),
  `${JSON.stringify({ node: process.version, date: new Date().toISOString(), cpu: `${cpus()[0]?.model ?? 'unknown'} x${cpus().length}`, quick, results }, null, 2)}\n`,
)
