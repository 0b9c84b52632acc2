import { createHmac, createPublicKey, type JsonWebKey } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { HttpResponse, type Interceptor } from '@beaver-kit/http'
import { createJwt, decodeJwtUnverified, type JwtPayload } from '@beaver-kit/krypto'
import { createOAuth, type OAuth, type OAuthOptions } from '@beaver-kit/oauth'
import { rsaJwk, signInAt, startTestOp, type TestOp } from './support/op.ts'

let op: TestOp
const instances: OAuth[] = []
beforeAll(async () => {
  op = await startTestOp()
})
afterAll(() => op.close())
afterEach(async () => {
  await Promise.all(instances.splice(0).map((i) => i.close()))
})

function make(extra: Partial<OAuthOptions> = {}): OAuth {
  const instance = createOAuth({
    envPrefix: false,
    allowHttp: true,
    jwksCooldown: 0,
    providers: {
      local: {
        type: 'oidc',
        issuer: op.issuer,
        clientId: op.clientId,
        clientSecret: op.clientSecret,
        redirectUri: op.redirectUri,
      },
      other: {
        type: 'oidc',
        issuer: op.issuer,
        clientId: op.clientId,
        clientSecret: op.clientSecret,
        redirectUri: op.redirectUri,
      },
    },
    ...extra,
  })
  instances.push(instance)
  return instance
}

const b64 = (v: object): string => Buffer.from(JSON.stringify(v)).toString('base64url')

/** Signs claims with the OP's own private key (a token only the OP could make, claims chosen by the test). */
function signAsOp(claims: JwtPayload, options: { key?: JsonWebKey & { kid: string }; now?: number } = {}): string {
  const key = options.key ?? op.key
  const { iat: _iat, exp: _exp, ...rest } = claims
  const at = options.now ?? Date.now()
  return createJwt({ keys: [{ key, kid: key.kid, alg: 'RS256' }], expiresIn: '10m', jti: false, now: () => at }).sign(
    rest,
  )
}

function baseClaims(nonce = 'n-1'): JwtPayload {
  return { iss: op.issuer, aud: op.clientId, sub: 'alice', nonce }
}

async function reason(p: Promise<unknown>): Promise<{ code: string; reason?: string }> {
  const err = (await p.then(
    () => undefined,
    (e: unknown) => e,
  )) as { code: string; details?: { reason?: string } } | undefined
  expect(err, 'expected a rejection').toBeDefined()
  return { code: (err as { code: string }).code, reason: (err as { details?: { reason?: string } }).details?.reason }
}

describe('OAuth state attacks', () => {
  it('a replayed callback (same state and code) is refused', async () => {
    const oauth = make()
    const { url, cookie } = await oauth.authorize('local')
    const callback = await signInAt(url, op.redirectUri)
    await oauth.callback('local', { params: callback, binding: cookie.value })
    expect(await reason(oauth.callback('local', { params: callback, binding: cookie.value }))).toEqual({
      code: 'OAUTH_STATE_REPLAYED',
      reason: undefined,
    })
  })

  it('a state started in another browser (other or no binding cookie) is refused, and stays usable by its owner', async () => {
    const oauth = make()
    const victim = await oauth.authorize('local')
    const attacker = await oauth.authorize('local')
    const callback = await signInAt(victim.url, op.redirectUri)
    expect((await reason(oauth.callback('local', { params: callback, binding: attacker.cookie.value }))).code).toBe(
      'OAUTH_STATE_MISMATCH',
    )
    expect((await reason(oauth.callback('local', { params: callback }))).code).toBe('OAUTH_STATE_MISMATCH')
    expect((await reason(oauth.callback('local', { params: callback, cookieHeader: 'beaver_oauth=' }))).code).toBe(
      'OAUTH_STATE_MISMATCH',
    )
    const ok = await oauth.callback('local', { params: callback, binding: victim.cookie.value })
    expect(ok.profile.id).toBe('alice')
  })

  it('a callback without state, with an altered state, or a state of another provider is refused', async () => {
    const oauth = make()
    const { url, cookie } = await oauth.authorize('local')
    const callback = await signInAt(url, op.redirectUri)
    const noState = new URLSearchParams(callback.searchParams)
    noState.delete('state')
    expect((await reason(oauth.callback('local', { params: noState, binding: cookie.value }))).code).toBe(
      'OAUTH_STATE_MISSING',
    )
    const altered = new URLSearchParams(callback.searchParams)
    const s = altered.get('state') as string
    // One character changed for another (the one it is not: 'A' when it was 'A' would be no change).
    altered.set('state', `${s.slice(0, -3)}${s.at(-3) === 'A' ? 'B' : 'A'}${s.slice(-2)}`)
    expect((await reason(oauth.callback('local', { params: altered, binding: cookie.value }))).code).toBe(
      'OAUTH_STATE_INVALID',
    )
    altered.set('state', 'x'.repeat(5000))
    expect((await reason(oauth.callback('local', { params: altered, binding: cookie.value }))).code).toBe(
      'OAUTH_STATE_INVALID',
    )
    expect((await reason(oauth.callback('other', { params: callback, binding: cookie.value }))).code).toBe(
      'OAUTH_STATE_MISMATCH',
    )
    // A state of another instance (another key) does not decrypt.
    const stranger = make()
    expect((await reason(stranger.callback('local', { params: callback, binding: cookie.value }))).code).toBe(
      'OAUTH_STATE_INVALID',
    )
  })

  it('a state older than 5 minutes is refused', async () => {
    let t = Date.now()
    const oauth = make({ now: () => t })
    const { url, cookie } = await oauth.authorize('local')
    const callback = await signInAt(url, op.redirectUri)
    t += 5 * 60_000 + 1
    expect((await reason(oauth.callback('local', { params: callback, binding: cookie.value }))).code).toBe(
      'OAUTH_STATE_EXPIRED',
    )
  })

  it('an error answer (access_denied) is reported once the state checks out', async () => {
    const oauth = make()
    const { url, cookie } = await oauth.authorize('local')
    const state = new URL(url).searchParams.get('state') as string
    expect(
      (await reason(oauth.callback('local', { params: { state, error: 'access_denied' }, binding: cookie.value })))
        .code,
    ).toBe('OAUTH_ACCESS_DENIED')
    const second = await oauth.authorize('local')
    const state2 = new URL(second.url).searchParams.get('state') as string
    expect(
      (
        await reason(
          oauth.callback('local', { params: { state: state2, error: 'server_error' }, binding: second.cookie.value }),
        )
      ).code,
    ).toBe('OAUTH_PROVIDER_ERROR')
  })

  it('a callback naming another issuer (mix-up, RFC 9207) is refused', async () => {
    const oauth = make()
    const { url, cookie } = await oauth.authorize('local')
    const callback = await signInAt(url, op.redirectUri)
    callback.searchParams.set('iss', 'https://evil.example')
    expect((await reason(oauth.callback('local', { params: callback, binding: cookie.value }))).code).toBe(
      'OAUTH_PROVIDER_ERROR',
    )
  })

  it('returnTo must be a path on this site (no open redirect)', async () => {
    const oauth = make()
    for (const bad of ['https://evil.example', '//evil.example', '/\\evil.example', 'relative', '/a\nb'])
      expect((await reason(oauth.authorize('local', { returnTo: bad }))).code).toBe('OAUTH_RETURN_URL_INVALID')
  })
})

describe('ID token attacks (tokens signed with the OP key or forged, checked against the OP JWKS)', () => {
  it('refuses a wrong audience, a wrong issuer, a wrong nonce, and an expired token', async () => {
    const local = make().provider('local')
    expect(await local.verifyIdToken(signAsOp(baseClaims()), { nonce: 'n-1' })).toMatchObject({ sub: 'alice' })
    expect(
      await reason(local.verifyIdToken(signAsOp({ ...baseClaims(), aud: 'another-client' }), { nonce: 'n-1' })),
    ).toEqual({
      code: 'OAUTH_ID_TOKEN_INVALID',
      reason: 'audience',
    })
    expect(
      await reason(local.verifyIdToken(signAsOp({ ...baseClaims(), iss: 'https://evil.example' }), { nonce: 'n-1' })),
    ).toEqual({
      code: 'OAUTH_ID_TOKEN_INVALID',
      reason: 'issuer',
    })
    expect(await reason(local.verifyIdToken(signAsOp(baseClaims('n-2')), { nonce: 'n-1' }))).toEqual({
      code: 'OAUTH_ID_TOKEN_INVALID',
      reason: 'nonce',
    })
    const expired = signAsOp(baseClaims(), { now: Date.now() - 2 * 3600_000 })
    expect(await reason(local.verifyIdToken(expired, { nonce: 'n-1' }))).toEqual({
      code: 'OAUTH_ID_TOKEN_INVALID',
      reason: 'expired',
    })
  })

  it('refuses several audiences without azp, and an azp that is another client', async () => {
    const local = make().provider('local')
    expect(await reason(local.verifyIdToken(signAsOp({ ...baseClaims(), aud: [op.clientId, 'x'] })))).toEqual({
      code: 'OAUTH_ID_TOKEN_INVALID',
      reason: 'azp',
    })
    expect(await reason(local.verifyIdToken(signAsOp({ ...baseClaims(), aud: [op.clientId, 'x'], azp: 'x' })))).toEqual(
      {
        code: 'OAUTH_ID_TOKEN_INVALID',
        reason: 'azp',
      },
    )
    expect(
      await local.verifyIdToken(signAsOp({ ...baseClaims(), aud: [op.clientId, 'x'], azp: op.clientId })),
    ).toMatchObject({ sub: 'alice' })
  })

  it('refuses alg none, HS256 signed with the OP public key, a key the OP never published, and a changed payload', async () => {
    const local = make().provider('local')
    const claims = { ...baseClaims(), iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 600 }
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`
    expect(await reason(local.verifyIdToken(none, { nonce: 'n-1' }))).toEqual({
      code: 'OAUTH_ID_TOKEN_INVALID',
      reason: 'malformed',
    })

    // The classic confusion: the public key (as the PEM text anyone can download) used as an HMAC secret.
    const publicPem = createPublicKey({ key: op.key, format: 'jwk' }).export({ type: 'spki', format: 'pem' })
    const input = `${b64({ alg: 'HS256', typ: 'JWT', kid: op.key.kid })}.${b64(claims)}`
    const hs = `${input}.${createHmac('sha256', publicPem).update(input).digest('base64url')}`
    // oidc-provider announces HS256 for ID tokens; the client drops HMAC from what it accepts.
    const discovery = (await (await fetch(`${op.issuer}/.well-known/openid-configuration`)).json()) as {
      id_token_signing_alg_values_supported: string[]
    }
    expect(discovery.id_token_signing_alg_values_supported).toContain('HS256')
    expect(await reason(local.verifyIdToken(hs, { nonce: 'n-1' }))).toEqual({
      code: 'OAUTH_ID_TOKEN_INVALID',
      reason: 'algorithm',
    })

    const stranger = rsaJwk()
    expect(await reason(local.verifyIdToken(signAsOp(baseClaims(), { key: stranger }), { nonce: 'n-1' }))).toEqual({
      code: 'OAUTH_ID_TOKEN_INVALID',
      reason: 'key',
    })
    const strangerSameKid = { ...rsaJwk(), kid: op.key.kid }
    expect(
      await reason(local.verifyIdToken(signAsOp(baseClaims(), { key: strangerSameKid }), { nonce: 'n-1' })),
    ).toEqual({
      code: 'OAUTH_ID_TOKEN_INVALID',
      reason: 'signature',
    })
    const good = signAsOp(baseClaims()).split('.')
    const swapped = `${good[0]}.${b64({ ...decodeJwtUnverified(good.join('.')).payload, sub: 'mallory' })}.${good[2]}`
    expect(await reason(local.verifyIdToken(swapped, { nonce: 'n-1' }))).toEqual({
      code: 'OAUTH_ID_TOKEN_INVALID',
      reason: 'signature',
    })
  })

  it('the callback itself refuses a token endpoint answer whose ID token has the wrong audience', async () => {
    // An interceptor in the client's HTTP chain replaces the real ID token by one with another aud.
    const tamper: Interceptor = async (req, next) => {
      const res = await next(req)
      if (!req.url.endsWith('/token')) return res
      const body = (await res.json()) as Record<string, unknown>
      const { payload } = decodeJwtUnverified(body.id_token as string)
      body.id_token = signAsOp({ ...payload, aud: 'another-client' })
      return new HttpResponse(200, 'OK', res.headers, res.url, Buffer.from(JSON.stringify(body)), undefined)
    }
    const oauth = make({ http: { interceptors: [tamper] } })
    const { url, cookie } = await oauth.authorize('local')
    const callback = await signInAt(url, op.redirectUri)
    expect(await reason(oauth.callback('local', { params: callback, binding: cookie.value }))).toEqual({
      code: 'OAUTH_ID_TOKEN_INVALID',
      reason: 'audience',
    })
  })
})
