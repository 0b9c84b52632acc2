// Access-token authentication per request: the kit's authenticate() (Bearer header parsed,
// HS256 signature by kid, typ at+jwt, exp, iss, aud, claim shapes) against jose's jwtVerify and
// fast-jwt's verifier on the very same token and secret, and the node:crypto floor (HMAC,
// base64url and JSON only, no claim checks). Then refresh rotation per second on PostgreSQL.
// `npm run bench -w @beaver-kit/auth`; BENCH_QUICK=1 for a smoke run.
import { createHmac, createSecretKey, randomBytes } from 'node:crypto'
import os from 'node:os'
import { createVerifier } from 'fast-jwt'
import * as jose from 'jose'
import { runBench, type BenchCase } from '@beaver-kit/testkit/bench'
import { serviceUrl } from '@beaver-kit/testkit'
import { createDatabase, sql } from '@beaver-kit/database'
import { createKrypto } from '@beaver-kit/krypto'
import { createAuth, createSqlAuthStore } from '../src/index.ts'

const issuer = 'https://auth.links.example'
const audience = 'links-api'
const secret = randomBytes(32)
const krypto = createKrypto({
  envPrefix: false,
  jwtKeys: [{ key: secret, kid: 'k1', alg: 'HS256' }],
  password: { argon2: { memory: '64kb', passes: 1 } },
})
const auth = createAuth({ envPrefix: false, krypto, issuer, audience, limiter: false })
await auth.register({ email: 'bench@example.com', password: 'correct horse battery staple' })
const { accessToken } = await auth.login({ email: 'bench@example.com', password: 'correct horse battery staple' })
const request = { headers: { authorization: `Bearer ${accessToken}` } }

const fastVerify = createVerifier({
  key: secret,
  algorithms: ['HS256'],
  allowedIss: issuer,
  allowedAud: audience,
  cache: false,
})
const secretKey = createSecretKey(secret)
const floor = (token: string): unknown => {
  const dot2 = token.lastIndexOf('.')
  const sig = createHmac('sha256', secretKey).update(token.slice(0, dot2)).digest('base64url')
  if (sig !== token.slice(dot2 + 1)) throw new Error('bad')
  return JSON.parse(Buffer.from(token.slice(token.indexOf('.') + 1, dot2), 'base64url').toString())
}
const bearer = (h: { authorization: string }): string => h.authorization.slice(7)

const cases: BenchCase[] = [
  {
    name: 'authenticate a Bearer access token',
    contenders: [
      { contender: 'beaver-kit', variant: 'authenticate', fn: () => auth.authenticate(request) },
      {
        contender: 'beaver-kit',
        variant: 'verifyAccessToken',
        fn: () => auth.verifyAccessToken(bearer(request.headers)),
      },
      {
        contender: 'jose',
        fn: () =>
          jose.jwtVerify(bearer(request.headers), secret, { issuer, audience, typ: 'at+jwt', algorithms: ['HS256'] }),
      },
      { contender: 'fast-jwt', fn: () => fastVerify(bearer(request.headers)) },
      { contender: 'floor', fn: () => floor(bearer(request.headers)) },
    ],
  },
]

// Refresh rotation on PostgreSQL: each call spends the chain's token and stores its successor
// (a conditional UPDATE, the record read, the user read, an INSERT).
const pgUrl = serviceUrl('postgres')
const database = createDatabase({ url: pgUrl, envPrefix: false })
const table = `bench_auth_${process.pid}`
const pgAuth = createAuth({
  envPrefix: false,
  krypto,
  limiter: false,
  storeInstance: createSqlAuthStore({ database, table }),
})
await pgAuth.register({ email: 'bench@example.com', password: 'correct horse battery staple' })
const chains: string[] = []
for (let i = 0; i < 8; i++)
  chains.push(
    (await pgAuth.login({ email: 'bench@example.com', password: 'correct horse battery staple' })).refreshToken,
  )
cases.push({
  name: 'refresh rotation on PostgreSQL',
  concurrency: 8,
  latency: true,
  contenders: [
    {
      contender: 'beaver-kit',
      fn: async () => {
        // A free chain: never two rotations of one chain at once (that would be a reuse).
        const token = chains.pop() as string
        chains.push((await pgAuth.refresh(token)).refreshToken)
      },
    },
  ],
})

const loadAtStart = os.loadavg()[0]?.toFixed(1)
try {
  await runBench({
    package: 'auth',
    url: import.meta.url,
    cases,
    goals: [
      {
        goal: 'verifyAccessToken ≥ 1.0x fast-jwt (no cache)',
        case: 'authenticate a Bearer access token',
        of: { contender: 'beaver-kit', variant: 'verifyAccessToken' },
        over: 'fast-jwt',
        target: 1,
      },
      {
        goal: 'authenticate() ≥ 1.0x fast-jwt (no cache)',
        case: 'authenticate a Bearer access token',
        of: { contender: 'beaver-kit', variant: 'authenticate' },
        over: 'fast-jwt',
        target: 1,
      },
      {
        goal: 'authenticate() ≥ 5x jose',
        case: 'authenticate a Bearer access token',
        of: { contender: 'beaver-kit', variant: 'authenticate' },
        over: 'jose',
        target: 5,
      },
    ],
    notes: [
      'One token for everyone: signed by the kit (HS256, kid k1, typ at+jwt, sub, roles, sid, iss, aud, iat, exp, jti); the kit, jose and fast-jwt check signature, exp, iss and aud (the kit and jose also typ); the floor checks the HMAC only.',
      'authenticate() also reads the Authorization header and is async (one promise per call); verifyAccessToken() is the synchronous check alone.',
      'Refresh rotation: 8 chains rotated 8 at a time on the local PostgreSQL through @beaver-kit/database (pg pool), each rotation 4 statements.',
      `Load average when the run started: ${loadAtStart} on ${os.availableParallelism()} vCPUs, shared with other sessions: ratios are more telling than absolute figures.`,
    ],
  })
} finally {
  await pgAuth.close()
  for (const t of ['users', 'refresh', 'one_time', 'failures', 'api_keys', 'migrations'])
    await database.execute(sql`DROP TABLE IF EXISTS ${sql.id(`${table}_${t}`)}`)
  await database.close()
  await auth.close()
  await krypto.close()
}
