import { generateKeyPairSync } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createOAuth, type OAuth, type OAuthOptions } from '@beaver-kit/oauth'
import {
  startFacebookServer,
  startGitHubServer,
  startOidcLikeServer,
  type LocalProviderServer,
} from '@beaver-kit/testkit/oauth-servers'

const REDIRECT = 'http://127.0.0.1:9/auth/callback'
const instances: OAuth[] = []
const servers: { close(): Promise<void> }[] = []
afterEach(async () => {
  await Promise.all(instances.splice(0).map((i) => i.close()))
})
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()))
})

function make(options: OAuthOptions): OAuth {
  const o = createOAuth({ envPrefix: false, allowHttp: true, jwksCooldown: 0, ...options })
  instances.push(o)
  return o
}

/** Follows the provider's authorize redirect (it consents at once) and returns the callback URL. */
async function consent(url: string): Promise<URL> {
  const res = await fetch(url, { redirect: 'manual' })
  await res.body?.cancel()
  const location = res.headers.get('location')
  if (res.status !== 302 || !location) throw new Error(`authorize answered ${res.status}`)
  return new URL(location)
}

async function signIn(oauth: OAuth, provider: string) {
  const { url, cookie } = await oauth.authorize(provider)
  return oauth.callback(provider, { params: await consent(url), binding: cookie.value })
}

describe('GitHub (local server following its documented OAuth and REST endpoints)', () => {
  let gh: LocalProviderServer
  beforeAll(async () => {
    gh = await startGitHubServer({
      accounts: [
        {
          id: '583231',
          login: 'octocat',
          name: 'The Octocat',
          email: 'octo@example.test',
          emailVerified: true,
          avatarUrl: 'https://avatars.example/u/583231',
        },
        { id: '42', login: 'noname', email: 'unverified@example.test', emailVerified: false },
      ],
      expiring: true,
    })
    servers.push(gh)
  })
  const github = (extra: object = {}): OAuth =>
    make({
      providers: {
        github: {
          clientId: gh.clientId,
          clientSecret: gh.clientSecret,
          redirectUri: REDIRECT,
          authorizationUrl: `${gh.url}/login/oauth/authorize`,
          tokenUrl: `${gh.url}/login/oauth/access_token`,
          apiUrl: gh.url,
          ...extra,
        },
      },
    })

  it('signs in with PKCE and reads /user and the primary verified email from /user/emails', async () => {
    gh.signInAs('583231')
    const oauth = github()
    const { url } = await oauth.authorize('github')
    expect(new URL(url).searchParams.get('scope')).toBe('read:user user:email')
    expect(new URL(url).searchParams.has('nonce')).toBe(false)
    const result = await signIn(oauth, 'github')
    expect(result.profile).toEqual({
      provider: 'github',
      id: '583231',
      email: 'octo@example.test',
      emailVerified: true,
      name: 'The Octocat',
      avatarUrl: 'https://avatars.example/u/583231',
      raw: expect.objectContaining({ login: 'octocat', emails: expect.any(Array) }),
    })
    expect(result.tokens.refreshToken).toMatch(/^rt_/)
    expect(result.tokens.expiresAt).toBeGreaterThan(Date.now() + 7 * 3600_000)
    const tokenCall = gh.requests.filter((r) => r.path === '/login/oauth/access_token').at(-1)
    expect(tokenCall?.form).toMatchObject({
      grant_type: 'authorization_code',
      client_id: gh.clientId,
      code_verifier: expect.any(String),
    })
  })

  it('an unverified primary email is reported unverified; the login stands in for a missing name', async () => {
    gh.signInAs('42')
    const { profile } = await signIn(github(), 'github')
    expect(profile).toMatchObject({
      id: '42',
      email: 'unverified@example.test',
      emailVerified: false,
      name: 'noname',
      avatarUrl: undefined,
    })
    gh.signInAs('583231')
  })

  it('refreshes expiring user tokens and revokes the grant', async () => {
    const oauth = github()
    const { tokens } = await signIn(oauth, 'github')
    const fresh = await oauth.refresh('github', tokens.refreshToken as string)
    expect(fresh.accessToken).not.toBe(tokens.accessToken)
    await oauth.revoke('github', fresh.accessToken)
    expect(gh.revoked).toContain(fresh.accessToken)
  })

  it('maps GitHub error answers (HTTP 200 with "error") to OAUTH_TOKEN_REQUEST_FAILED', async () => {
    const oauth = github({ clientSecret: 'wrong' })
    const { url, cookie } = await oauth.authorize('github')
    await expect(oauth.callback('github', { params: await consent(url), binding: cookie.value })).rejects.toMatchObject(
      {
        code: 'OAUTH_TOKEN_REQUEST_FAILED',
        details: { error: 'incorrect_client_credentials' },
      },
    )
  })

  it('gives each provider its own circuit breaker: one whose token endpoint is down fails fast, another signs in', async () => {
    // A port nothing listens on, on the same host as the working provider.
    const free = createServer()
    await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve))
    const { port } = free.address() as AddressInfo
    await new Promise((resolve) => free.close(resolve))
    const endpoints = { authorizationUrl: `${gh.url}/login/oauth/authorize`, apiUrl: gh.url, redirectUri: REDIRECT }
    const oauth = make({
      providers: {
        github: {
          clientId: gh.clientId,
          clientSecret: gh.clientSecret,
          tokenUrl: `${gh.url}/login/oauth/access_token`,
          ...endpoints,
        },
        down: {
          type: 'github',
          clientId: 'other',
          clientSecret: 'other',
          tokenUrl: `http://127.0.0.1:${port}/token`,
          ...endpoints,
        },
      },
    })
    const codes: unknown[] = []
    for (let i = 0; i < 6; i++) {
      const err = await oauth
        .refresh('down', 'any')
        .catch((e: unknown) => e as { code: string; cause?: { code?: string } })
      expect(err).toMatchObject({ code: 'OAUTH_TOKEN_REQUEST_FAILED' })
      codes.push((err as { cause?: { code?: string } }).cause?.code)
    }
    // Five refused connections in a row trip the provider's breaker (http's default); the sixth
    // is refused before any connection is tried.
    expect(codes.slice(0, 5)).not.toContain('HTTP_CIRCUIT_OPEN')
    expect(codes[5]).toBe('HTTP_CIRCUIT_OPEN')
    gh.signInAs('583231')
    expect((await signIn(oauth, 'github')).profile.id).toBe('583231')
  })

  it('a generic oauth2 provider maps the user API with mapProfile', async () => {
    const oauth = make({
      providers: {
        acme: {
          type: 'oauth2',
          clientId: gh.clientId,
          clientSecret: gh.clientSecret,
          redirectUri: REDIRECT,
          authorizationUrl: `${gh.url}/login/oauth/authorize`,
          tokenUrl: `${gh.url}/login/oauth/access_token`,
          apiUrl: `${gh.url}/user`,
          scopes: ['user'],
          mapProfile: (raw) => ({ name: `@${String(raw.login)}` }),
        },
      },
    })
    // This token endpoint wants client_secret_post: the generic default (Basic) is refused.
    await expect(signIn(oauth, 'acme')).rejects.toMatchObject({ code: 'OAUTH_TOKEN_REQUEST_FAILED' })
    const posting = make({
      providers: {
        acme: {
          type: 'oauth2',
          tokenAuth: 'client_secret_post',
          clientId: gh.clientId,
          clientSecret: gh.clientSecret,
          redirectUri: REDIRECT,
          authorizationUrl: `${gh.url}/login/oauth/authorize`,
          tokenUrl: `${gh.url}/login/oauth/access_token`,
          apiUrl: `${gh.url}/user`,
          mapProfile: (raw) => ({ name: `@${String(raw.login)}` }),
        },
      },
    })
    const { profile } = await signIn(posting, 'acme')
    expect(profile).toMatchObject({
      provider: 'acme',
      id: '583231',
      name: '@octocat',
      emailVerified: false,
      avatarUrl: 'https://avatars.example/u/583231',
    })
  })
})

describe('Facebook (local server following the Graph API login endpoints)', () => {
  let fb: LocalProviderServer
  beforeAll(async () => {
    fb = await startFacebookServer({
      accounts: [
        { id: '10158', name: 'Mark Test', email: 'mark@example.test', avatarUrl: 'https://cdn.example/p.jpg' },
        { id: '777', name: 'No Photo' },
      ],
    })
    servers.push(fb)
  })
  const facebook = (): OAuth =>
    make({
      providers: {
        facebook: {
          clientId: fb.clientId,
          clientSecret: fb.clientSecret,
          redirectUri: REDIRECT,
          authorizationUrl: `${fb.url}/v19.0/dialog/oauth`,
          apiUrl: fb.url,
        },
      },
    })

  it('signs in, reads /me with appsecret_proof, reports the email as unverified', async () => {
    fb.signInAs('10158')
    const oauth = facebook()
    const { url } = await oauth.authorize('facebook')
    expect(new URL(url).searchParams.get('scope')).toBe('email,public_profile')
    const { profile, tokens } = await signIn(oauth, 'facebook')
    expect(profile).toEqual({
      provider: 'facebook',
      id: '10158',
      email: 'mark@example.test',
      emailVerified: false,
      name: 'Mark Test',
      avatarUrl: 'https://cdn.example/p.jpg',
      raw: expect.objectContaining({ id: '10158' }),
    })
    await oauth.revoke('facebook', tokens.accessToken)
    expect(fb.revoked).toContain(tokens.accessToken)
    await expect(oauth.revoke('facebook', tokens.accessToken)).rejects.toMatchObject({ code: 'OAUTH_PROVIDER_ERROR' })
  })

  it('a silhouette picture is no avatar, a missing email is undefined', async () => {
    fb.signInAs('777')
    const { profile } = await signIn(facebook(), 'facebook')
    expect(profile).toMatchObject({ id: '777', email: undefined, avatarUrl: undefined, name: 'No Photo' })
  })
})

describe('Apple (local OpenID server checking the ES256 client-secret JWT)', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
  let apple: Awaited<ReturnType<typeof startOidcLikeServer>>
  beforeAll(async () => {
    apple = await startOidcLikeServer({
      mode: 'apple',
      accounts: [{ id: '001234.abcd', email: 'x@privaterelay.appleid.com', emailVerified: true }],
      applePublicKey: publicKey,
      teamId: 'TEAM123456',
      keyId: 'KEY1234567',
    })
    servers.push(apple)
  })
  const appleOAuth = (keyId = 'KEY1234567'): OAuth =>
    make({
      providers: {
        apple: {
          clientId: apple.clientId,
          redirectUri: 'https://app.example/auth/apple',
          issuer: apple.issuer,
          teamId: 'TEAM123456',
          keyId,
          privateKey: pem,
        },
      },
    })

  it('uses form_post, a SameSite=None cookie, a signed client secret, and reads the name from the first callback', async () => {
    const oauth = appleOAuth()
    const { url, cookie } = await oauth.authorize('apple')
    expect(new URL(url).searchParams.get('response_mode')).toBe('form_post')
    expect(cookie.options).toMatchObject({ sameSite: 'none', secure: true })
    expect(cookie.header).toContain('SameSite=None; Secure')
    const back = await consent(url)
    // Apple posts the form: code, state and, the first time only, the user's name as JSON.
    const form = {
      code: back.searchParams.get('code') ?? '',
      state: back.searchParams.get('state') ?? '',
      user: '{"name":{"firstName":"Ada","lastName":"Lovelace"}}',
    }
    const { profile, tokens } = await oauth.callback('apple', { params: form, binding: cookie.value })
    expect(profile).toEqual({
      provider: 'apple',
      id: '001234.abcd',
      email: 'x@privaterelay.appleid.com',
      emailVerified: true,
      name: 'Ada Lovelace',
      avatarUrl: undefined,
      raw: expect.objectContaining({ email_verified: 'true', is_private_email: 'false' }),
    })
    const refreshed = await oauth.refresh('apple', tokens.refreshToken as string)
    expect(refreshed.refreshToken).toBe(tokens.refreshToken)
    await oauth.revoke('apple', tokens.refreshToken as string, { hint: 'refresh_token' })
    expect(apple.revoked).toContain(tokens.refreshToken)
  })

  it('a client secret signed under another key id is refused by the provider', async () => {
    await expect(signIn(appleOAuth('OTHERKEY00'), 'apple')).rejects.toMatchObject({
      code: 'OAUTH_TOKEN_REQUEST_FAILED',
      details: { error: 'invalid_client' },
    })
  })

  it('needs the team id, key id and private key, naming the variable', () => {
    expect(() => createOAuth({ envPrefix: false, providers: { apple: { clientId: 'x' } } })).toThrow(
      /BEAVER_OAUTH_APPLE_TEAM_ID/,
    )
  })
})

describe('Microsoft (local OpenID server with a {tenantid} issuer)', () => {
  let ms: Awaited<ReturnType<typeof startOidcLikeServer>>
  beforeAll(async () => {
    ms = await startOidcLikeServer({
      mode: 'microsoft',
      accounts: [{ id: 'AAAAbbbb-sub', name: 'Grace Hopper', email: 'grace@contoso.example' }],
    })
    servers.push(ms)
  })

  it('checks the issuer with the token tenant and never trusts the email as verified', async () => {
    const oauth = make({
      providers: {
        microsoft: { clientId: ms.clientId, clientSecret: ms.clientSecret, redirectUri: REDIRECT, issuer: ms.issuer },
      },
    })
    const { profile } = await signIn(oauth, 'microsoft')
    expect(profile).toMatchObject({
      provider: 'microsoft',
      id: 'AAAAbbbb-sub',
      email: 'grace@contoso.example',
      emailVerified: false,
      name: 'Grace Hopper',
    })
    const forged = ms.signIdToken({
      iss: `${ms.url}/another-tenant/v2.0`,
      tid: 'not-this-one',
      aud: ms.clientId,
      sub: 'x',
      iat: Math.floor(Date.now() / 1000),
      exp: Math.floor(Date.now() / 1000) + 60,
    })
    await expect(oauth.provider('microsoft').verifyIdToken(forged)).rejects.toMatchObject({
      code: 'OAUTH_ID_TOKEN_INVALID',
      details: { reason: 'issuer' },
    })
  })
})

describe('configuration of several providers from the environment', () => {
  it('reads BEAVER_OAUTH_PROVIDERS and one BEAVER_OAUTH_<NAME>_* section per provider, secrets masked', () => {
    const oauth = createOAuth({
      env: {
        BEAVER_OAUTH_PROVIDERS: 'github,google,corp',
        BEAVER_OAUTH_GITHUB_CLIENT_ID: 'gh-id',
        BEAVER_OAUTH_GITHUB_CLIENT_SECRET: 'gh-secret-value',
        BEAVER_OAUTH_GOOGLE_CLIENT_ID: 'g-id.apps.googleusercontent.com',
        BEAVER_OAUTH_GOOGLE_CLIENT_SECRET: 'g-secret-value',
        BEAVER_OAUTH_GOOGLE_REDIRECT_URI: 'https://app.example/auth/google',
        BEAVER_OAUTH_CORP_TYPE: 'oidc',
        BEAVER_OAUTH_CORP_ISSUER: 'https://sso.corp.example',
        BEAVER_OAUTH_CORP_CLIENT_ID: 'corp-id',
      },
    })
    instances.push(oauth)
    expect(oauth.providers).toEqual(['github', 'google', 'corp'])
    expect(oauth.provider('google').spec.issuer).toBe('https://accounts.google.com')
    const text = JSON.stringify(oauth.describe())
    expect(text).toContain('OAUTH_GITHUB_CLIENT_ID')
    expect(text).not.toContain('gh-secret-value')
    expect(text).not.toContain('g-secret-value')
    expect(oauth.describe().state).toMatchObject({
      providers: 'github,google,corp',
      stateKey: 'ephemeral (one process)',
    })
  })

  it('names the missing variable, an unknown type, and an unknown provider', async () => {
    expect(() => createOAuth({ env: { BEAVER_OAUTH_PROVIDERS: 'github' } })).toThrow(/BEAVER_OAUTH_GITHUB_CLIENT_ID/)
    expect(() => createOAuth({ env: { BEAVER_OAUTH_PROVIDERS: 'corp', BEAVER_OAUTH_CORP_CLIENT_ID: 'x' } })).toThrow(
      /BEAVER_OAUTH_CORP_TYPE/,
    )
    expect(() => createOAuth({ env: { BEAVER_OAUTH_PROVIDERS: 'Bad_Name' } })).toThrow(
      expect.objectContaining({ code: 'OAUTH_PROVIDER_INVALID' }),
    )
    expect(() =>
      createOAuth({
        env: {
          BEAVER_OAUTH_PROVIDERS: 'github',
          BEAVER_OAUTH_GITHUB_TYPE: 'myspace',
          BEAVER_OAUTH_GITHUB_CLIENT_ID: 'x',
        },
      }),
    ).toThrow(/BEAVER_OAUTH_GITHUB_TYPE/)
    const oauth = createOAuth({ providers: ['github'], env: { BEAVER_OAUTH_GITHUB_CLIENT_ID: 'x' } })
    await expect(oauth.authorize('gitlab')).rejects.toMatchObject({ code: 'OAUTH_PROVIDER_UNKNOWN' })
    await expect(oauth.authorize('github')).rejects.toMatchObject({ code: 'OAUTH_PROVIDER_INVALID' })
    await oauth.close()
    await expect(oauth.authorize('github')).rejects.toMatchObject({ code: 'OAUTH_CLOSED' })
    await expect(oauth.ready()).rejects.toMatchObject({ code: 'OAUTH_CLOSED' })
  })

  it('a shared BEAVER_OAUTH_STATE_KEYS ring lets another instance (process) finish the sign-in', async () => {
    const keys = `k1:${Buffer.alloc(32, 7).toString('base64')}`
    const env = {
      BEAVER_OAUTH_STATE_KEYS: keys,
      BEAVER_OAUTH_PROVIDERS: 'github',
      BEAVER_OAUTH_GITHUB_CLIENT_ID: 'x',
      BEAVER_OAUTH_GITHUB_REDIRECT_URI: REDIRECT,
    }
    const a = createOAuth({ env })
    const b = createOAuth({ env })
    instances.push(a, b)
    const { url, cookie } = await a.authorize('github')
    const state = new URL(url).searchParams.get('state') ?? ''
    await expect(
      b.callback('github', { params: { state, error: 'access_denied' }, binding: cookie.value }),
    ).rejects.toMatchObject({
      code: 'OAUTH_ACCESS_DENIED',
    })
    expect(b.describe().state.stateKey).toBe('k1')
  })
})
