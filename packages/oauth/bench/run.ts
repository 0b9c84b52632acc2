// ID-token verification as a sign-in callback does it: the provider's keys from its JWKS URL
// (fetched once over local HTTP, then cached), the signature, then iss, aud, exp, iat, sub and
// the nonce. The kit's verifier (krypto's remote JWKS and JWT verifier behind the provider's
// HTTP client) against jose's jwtVerify with createRemoteJWKSet, the library arctic and
// openid-client users verify with, and the node:crypto floor (the signature with a key
// already imported, then JSON.parse; no claim checks). RS256 (Google, Microsoft, Apple's
// keys) and ES256.
// `npm run bench -w @beaver-kit/oauth`; BENCH_QUICK=1 for a smoke run.
//
// jose is not a dependency of this package: it is oidc-provider's (a dev dependency, the test
// OP), which is why it is installed beside it.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import { generateKeyPairSync, verify as verifySignature, type KeyObject } from 'node:crypto'
import * as jose from 'jose'
import { isQuick, runBench, type BenchCase } from '@beaver-kit/testkit/bench'
import { createIdTokenVerifier } from '../src/id-token.ts'
import { createProviderTransport } from '../src/transport.ts'

const issuer = 'https://accounts.bench.example'
const clientId = 'bench-client.apps.example'
const nonce = 'n-0S6_WzA2Mj'

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const jwk = (key: KeyObject, kid: string, alg: string): Record<string, unknown> => ({
  ...key.export({ format: 'jwk' }),
  kid,
  alg,
  use: 'sig',
})
// A provider's JWKS holds more than one key (rotation); the token names its kid.
const other = generateKeyPairSync('rsa', { modulusLength: 2048 })
const jwks = JSON.stringify({
  keys: [jwk(other.publicKey, 'old', 'RS256'), jwk(rsa.publicKey, 'rsa1', 'RS256'), jwk(ec.publicKey, 'ec1', 'ES256')],
})
let jwksFetches = 0
const server = createServer((req, res) => {
  jwksFetches++
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=3600' }).end(jwks)
})
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
const jwksUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/certs`

// Claims as Google sends them, expiring in an hour.
const now = Math.floor(Date.now() / 1000)
const claims = {
  iss: issuer,
  azp: clientId,
  aud: clientId,
  sub: '110169484474386276334',
  email: 'ann@example.com',
  email_verified: true,
  at_hash: 'HK6E_P6Dh8Y93mRNtsDB1Q',
  nonce,
  name: 'Ann Example',
  picture: 'https://lh3.example/a/photo.jpg',
  given_name: 'Ann',
  family_name: 'Example',
  iat: now,
  exp: now + 3600,
}
const sign = (alg: 'RS256' | 'ES256', kid: string, key: KeyObject): Promise<string> =>
  new jose.SignJWT(claims).setProtectedHeader({ alg, kid, typ: 'JWT' }).sign(key)
const tokens = { RS256: await sign('RS256', 'rsa1', rsa.privateKey), ES256: await sign('ES256', 'ec1', ec.privateKey) }

const transport = createProviderTransport('bench', { timeoutMs: 5000, envPrefix: false })
const kit = createIdTokenVerifier({
  provider: 'bench',
  clientId,
  jwksUri,
  transport,
  clockSkewMs: 60_000,
  cacheTtlMs: 3_600_000,
  cooldownMs: 30_000,
  allowHttp: true,
  issuerTemplate: false,
  now: Date.now,
})
const remote = jose.createRemoteJWKSet(new URL(jwksUri), { cacheMaxAge: 3_600_000 })

const floorKeys = { RS256: rsa.publicKey, ES256: ec.publicKey }
const floor = (alg: 'RS256' | 'ES256', token: string): unknown => {
  const dot2 = token.lastIndexOf('.')
  const ok = verifySignature(
    'sha256',
    Buffer.from(token.slice(0, dot2)),
    alg === 'ES256' ? { key: floorKeys.ES256, dsaEncoding: 'ieee-p1363' } : floorKeys.RS256,
    Buffer.from(token.slice(dot2 + 1), 'base64url'),
  )
  if (!ok) throw new Error('bad signature')
  return JSON.parse(Buffer.from(token.slice(token.indexOf('.') + 1, dot2), 'base64url').toString())
}

const cases: BenchCase[] = (['RS256', 'ES256'] as const).map((alg) => ({
  name: `verify an ${alg} ID token (JWKS cached)`,
  contenders: [
    {
      contender: 'beaver-kit',
      fn: () => kit.verify(tokens[alg], { nonce, issuer, algorithms: ['RS256', 'ES256'] }),
    },
    {
      contender: 'jose',
      fn: async () => {
        const { payload } = await jose.jwtVerify(tokens[alg], remote, {
          issuer,
          audience: clientId,
          algorithms: ['RS256', 'ES256'],
          requiredClaims: ['sub', 'iat', 'exp'],
          clockTolerance: 60,
        })
        if (payload.nonce !== nonce) throw new Error('nonce')
        return payload
      },
    },
    { contender: 'floor', fn: () => floor(alg, tokens[alg]) },
  ],
}))

// Both fetch the JWKS once before measuring, so no round is charged a fetch.
await kit.verify(tokens.RS256, { nonce, issuer, algorithms: ['RS256', 'ES256'] })
await jose.jwtVerify(tokens.RS256, remote, { issuer, audience: clientId })
const loadAtStart = os.loadavg()[0]?.toFixed(1)

try {
  await runBench({
    package: 'oauth',
    url: import.meta.url,
    cases,
    goals: (['RS256', 'ES256'] as const).map((alg) => ({
      goal: `${alg} ID-token verification ≥ 1.0x jose (remote JWKS, cached)`,
      case: `verify an ${alg} ID token (JWKS cached)`,
      over: 'jose',
      target: 1,
    })),
    notes: [
      'One token per algorithm, with Google-shaped claims (iss, azp, aud, sub, email, email_verified, at_hash, nonce, name, picture, iat, exp), signed with a 2048-bit RSA or a P-256 key whose kid is one of three keys in the JWKS served over local HTTP.',
      'beaver-kit: the verifier the provider client builds (algorithm allow-list from discovery, key by kid from the cached JWKS, signature, iss, aud, azp, exp/iat with 60 s skew, required claims, nonce). jose: jwtVerify with createRemoteJWKSet (cached), the same issuer, audience, algorithms, required claims and skew, then the nonce compared. floor: node:crypto verify with a KeyObject imported beforehand, then JSON.parse.',
      `JWKS fetched ${jwksFetches} times before the rounds (once by each verifier); openid-client is not installed in this repository, so it is not measured (its ID-token check is jose's jwtVerify).`,
      `Load average when the run started: ${loadAtStart} on ${os.availableParallelism()} vCPUs, shared with other sessions: ratios are rough.`,
      ...(isQuick() ? ['BENCH_QUICK: one brief round.'] : []),
    ],
  })
} finally {
  kit.close()
  await transport.close()
  server.close()
}
