import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createOAuth, isOAuthError, type OAuth } from '@beaver-kit/oauth'
import { signInAt, startTestOp, type TestOp } from './support/op.ts'

let op: TestOp
const instances: OAuth[] = []

beforeAll(async () => {
  op = await startTestOp()
})
afterAll(() => op.close())
afterEach(async () => {
  await Promise.all(instances.splice(0).map((i) => i.close()))
})

function make(extra: Parameters<typeof createOAuth>[0] = {}): OAuth {
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
        scopes: ['openid', 'email', 'profile', 'offline_access'],
      },
    },
    ...extra,
  })
  instances.push(instance)
  return instance
}

describe('authorization code + PKCE against a real OpenID Provider (oidc-provider)', () => {
  it('signs in: discovery, S256 challenge, code exchange, verified ID token, normalized profile', async () => {
    const oauth = make()
    const { url, cookie } = await oauth.authorize('local', { returnTo: '/account?tab=1' })
    const auth = new URL(url)
    expect(auth.origin).toBe(op.issuer)
    expect(auth.searchParams.get('code_challenge_method')).toBe('S256')
    expect(auth.searchParams.get('code_challenge')).toMatch(/^[\w-]{43}$/)
    expect(auth.searchParams.get('nonce')).toBeTruthy()
    expect(cookie.options).toMatchObject({ httpOnly: true, sameSite: 'lax', secure: false })

    const callback = await signInAt(url, op.redirectUri, 'alice')
    expect(callback.searchParams.get('iss')).toBe(op.issuer)
    const result = await oauth.callback('local', {
      params: callback,
      cookieHeader: `other=1; ${cookie.name}=${cookie.value}`,
    })
    expect(result.returnTo).toBe('/account?tab=1')
    expect(result.profile).toEqual({
      provider: 'local',
      id: 'alice',
      email: 'alice@example.test',
      emailVerified: true,
      name: 'User alice',
      avatarUrl: 'https://img.example.test/alice.png',
      raw: expect.objectContaining({ sub: 'alice', iss: op.issuer, aud: op.clientId }),
    })
    expect(result.tokens.accessToken).toBeTruthy()
    expect(result.tokens.refreshToken).toBeTruthy()
    expect(result.tokens.expiresAt).toBeGreaterThan(Date.now())
    expect(result.clearCookie).toMatch(/Max-Age=0/)
  })

  it('refreshes tokens with the refresh token, verifying the new ID token', async () => {
    const oauth = make()
    const { url, cookie } = await oauth.authorize('local')
    const first = await oauth.callback('local', { params: await signInAt(url, op.redirectUri), binding: cookie.value })
    const refreshed = await oauth.refresh('local', first.tokens.refreshToken as string)
    expect(refreshed.accessToken).not.toBe(first.tokens.accessToken)
    expect(refreshed.refreshToken).toBeTruthy()
    const wrong = await oauth.refresh('local', 'not-a-refresh-token').catch((e: unknown) => e)
    expect(isOAuthError(wrong, 'OAUTH_TOKEN_REQUEST_FAILED')).toBe(true)
    expect((wrong as { details: { error: string } }).details.error).toBe('invalid_grant')
  })

  it('revokes a refresh token at the revocation endpoint; it no longer refreshes', async () => {
    const oauth = make()
    const { url, cookie } = await oauth.authorize('local')
    const { tokens } = await oauth.callback('local', {
      params: await signInAt(url, op.redirectUri),
      binding: cookie.value,
    })
    await oauth.revoke('local', tokens.refreshToken as string, { hint: 'refresh_token' })
    await expect(oauth.refresh('local', tokens.refreshToken as string)).rejects.toMatchObject({
      code: 'OAUTH_TOKEN_REQUEST_FAILED',
    })
  })

  it('verifies ID tokens signed with a rotated key (unknown kid: the JWKS is fetched again)', async () => {
    const oauth = make()
    const before = await oauth.authorize('local')
    await oauth.callback('local', { params: await signInAt(before.url, op.redirectUri), binding: before.cookie.value })
    const newKey = op.rotateKeys()
    const after = await oauth.authorize('local')
    const result = await oauth.callback('local', {
      params: await signInAt(after.url, op.redirectUri, 'bob'),
      binding: after.cookie.value,
    })
    expect(result.profile.id).toBe('bob')
    const header = JSON.parse(
      Buffer.from((result.tokens.idToken as string).split('.')[0] as string, 'base64url').toString(),
    ) as { kid: string }
    expect(header.kid).toBe(newKey.kid)
  })

  it('ready() reads the discovery document; an unreachable issuer fails with OAUTH_DISCOVERY_FAILED', async () => {
    await make().ready()
    const broken = make({
      providers: {
        dead: { type: 'oidc', issuer: 'http://127.0.0.1:9/', clientId: 'x', redirectUri: 'http://127.0.0.1:9/cb' },
      },
      timeout: '2s',
    })
    await expect(broken.ready()).rejects.toMatchObject({ code: 'OAUTH_DISCOVERY_FAILED' })
  })

  it('refuses an http:// issuer unless allowHttp is set', async () => {
    const strict = make({ allowHttp: false })
    await expect(strict.authorize('local')).rejects.toMatchObject({ code: 'OAUTH_DISCOVERY_FAILED' })
  })
})
