import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createCache } from '@beaver-kit/cache'
import { generateKeyRingEntry } from '@beaver-kit/krypto'
import {
  createOAuth,
  createTokenStore,
  decideLink,
  linkTarget,
  type OAuth,
  type OAuthProfile,
  type TokenBackend,
} from '@beaver-kit/oauth'
import { startGitHubServer, type LocalProviderServer } from '@beaver-kit/testkit/oauth-servers'

let gh: LocalProviderServer
let t = Date.now()
const clock = (): number => t
const instances: OAuth[] = []
beforeAll(async () => {
  gh = await startGitHubServer({
    accounts: [{ id: '1', login: 'ada', email: 'ada@example.test', emailVerified: true }],
    expiring: true,
  })
})
afterAll(() => gh.close())
afterEach(async () => {
  await Promise.all(instances.splice(0).map((i) => i.close()))
})

function github(): OAuth {
  const o = createOAuth({
    envPrefix: false,
    now: clock,
    providers: {
      github: {
        clientId: gh.clientId,
        clientSecret: gh.clientSecret,
        redirectUri: 'http://127.0.0.1:9/cb',
        authorizationUrl: `${gh.url}/login/oauth/authorize`,
        tokenUrl: `${gh.url}/login/oauth/access_token`,
        apiUrl: gh.url,
      },
    },
  })
  instances.push(o)
  return o
}

async function signIn(oauth: OAuth) {
  const { url, cookie } = await oauth.authorize('github')
  const res = await fetch(url, { redirect: 'manual' })
  await res.body?.cancel()
  return oauth.callback('github', { params: new URL(res.headers.get('location') as string), binding: cookie.value })
}

/** A backend that shows what is at rest. */
function visibleBackend(): TokenBackend & { raw: Map<string, string> } {
  const raw = new Map<string, string>()
  return {
    raw,
    get: async (k) => raw.get(k),
    set: async (k, v) => void raw.set(k, v),
    delete: async (k) => raw.delete(k),
  }
}

const tokenCalls = (): number => gh.requests.filter((r) => r.path === '/login/oauth/access_token').length

describe('the token store', () => {
  it('keeps tokens encrypted at rest, bound to the user and provider', async () => {
    const oauth = github()
    const backend = visibleBackend()
    const store = createTokenStore({ oauth, keys: generateKeyRingEntry('t1'), backend, now: clock })
    const { tokens } = await signIn(oauth)
    await store.save('user-1', 'github', tokens)
    const [key, sealed] = [...backend.raw][0] as [string, string]
    expect(key).toBe('github:user-1')
    expect(sealed).not.toContain(tokens.accessToken)
    expect(sealed).not.toContain(tokens.refreshToken as string)
    expect(await store.accessToken('user-1', 'github')).toBe(tokens.accessToken)
    // The same ciphertext under another user's key does not decrypt.
    backend.raw.set('github:user-2', sealed)
    await expect(store.get('user-2', 'github')).rejects.toMatchObject({ code: 'OAUTH_TOKEN_UNREADABLE' })
    await expect(store.accessToken('nobody', 'github')).rejects.toMatchObject({ code: 'OAUTH_TOKEN_NOT_FOUND' })
  })

  it('refreshes once, before expiry, for concurrent readers, and stores the new tokens (on a kit cache)', async () => {
    const oauth = github()
    await using cache = createCache({ envPrefix: false, driver: 'memory', namespace: `oauth-tokens-${Date.now()}` })
    const store = createTokenStore({
      oauth,
      keys: generateKeyRingEntry('t1'),
      backend: cache,
      now: clock,
      refreshBefore: '5m',
    })
    const { tokens } = await signIn(oauth)
    await store.save('u', 'github', tokens)
    const before = tokenCalls()
    expect(await store.accessToken('u', 'github')).toBe(tokens.accessToken)
    expect(tokenCalls()).toBe(before)
    t += 8 * 3600_000 - 4 * 60_000 // within refreshBefore of the 8 h expiry
    const [a, b, c] = await Promise.all([
      store.accessToken('u', 'github'),
      store.accessToken('u', 'github'),
      store.accessToken('u', 'github'),
    ])
    expect(tokenCalls()).toBe(before + 1)
    expect(a).not.toBe(tokens.accessToken)
    expect(new Set([a, b, c]).size).toBe(1)
    expect(await store.accessToken('u', 'github')).toBe(a)
    expect(tokenCalls()).toBe(before + 1)
  })

  it('an expired token without a refresh token asks for a new sign-in', async () => {
    const store = createTokenStore({ oauth: github(), keys: generateKeyRingEntry('t1'), now: clock })
    await store.save('u', 'github', {
      accessToken: 'a',
      tokenType: 'bearer',
      refreshToken: undefined,
      idToken: undefined,
      scope: undefined,
      expiresAt: t + 30_000,
    })
    expect(await store.accessToken('u', 'github')).toBe('a')
    t += 60_000
    await expect(store.accessToken('u', 'github')).rejects.toMatchObject({ code: 'OAUTH_REFRESH_UNAVAILABLE' })
  })

  it('unlink revokes at the provider then forgets; a refused revocation keeps the tokens unless forced', async () => {
    const oauth = github()
    const store = createTokenStore({ oauth, keys: generateKeyRingEntry('t1'), now: clock })
    const { tokens } = await signIn(oauth)
    await store.save('u', 'github', { ...tokens, refreshToken: undefined })
    await store.unlink('u', 'github')
    expect(gh.revoked).toContain(tokens.accessToken)
    expect(await store.get('u', 'github')).toBeUndefined()
    const failing = { refresh: oauth.refresh, revoke: () => Promise.reject(new Error('provider down')) }
    const strict = createTokenStore({ oauth: failing, keys: generateKeyRingEntry('t2'), now: clock })
    await strict.save('u', 'github', tokens)
    await expect(strict.unlink('u', 'github')).rejects.toThrow('provider down')
    expect((await strict.get('u', 'github'))?.accessToken).toBe(tokens.accessToken)
    await strict.unlink('u', 'github', { force: true })
    expect(await strict.get('u', 'github')).toBeUndefined()
  })
})

describe('safe account linking', () => {
  const profile = (p: Partial<OAuthProfile>): OAuthProfile => ({
    provider: 'github',
    id: '1',
    email: 'Ada@Example.test ',
    emailVerified: true,
    name: undefined,
    avatarUrl: undefined,
    raw: {},
    ...p,
  })
  const users = new Map([['ada@example.test', 'user-ada']])
  const lookups = {
    findUserByIdentity: async (provider: string, id: string) =>
      provider === 'github' && id === 'linked' ? 'user-linked' : undefined,
    findUserByEmail: async (email: string) => users.get(email),
  }

  it('signs in a linked identity, links only on a verified email, asks for confirmation otherwise', async () => {
    expect(await decideLink(profile({ id: 'linked' }), lookups)).toEqual({ action: 'sign-in', userId: 'user-linked' })
    const verified = await decideLink(profile({}), lookups)
    expect(verified).toEqual({ action: 'link', userId: 'user-ada' })
    expect(linkTarget(verified)).toBe('user-ada')
    const unverified = await decideLink(profile({ emailVerified: false }), lookups)
    expect(unverified).toEqual({ action: 'confirm', userId: 'user-ada', reason: 'email-unverified' })
    expect(() => linkTarget(unverified)).toThrow(expect.objectContaining({ code: 'OAUTH_LINK_CONFIRMATION_REQUIRED' }))
    expect(() => linkTarget(unverified, { confirmedBy: 'someone-else' })).toThrow(
      expect.objectContaining({ code: 'OAUTH_LINK_CONFIRMATION_REQUIRED' }),
    )
    expect(linkTarget(unverified, { confirmedBy: 'user-ada' })).toBe('user-ada')
    expect(await decideLink(profile({ email: 'new@example.test' }), lookups)).toEqual({ action: 'create' })
    expect(await decideLink(profile({ email: undefined }), lookups)).toEqual({ action: 'create' })
    expect(linkTarget({ action: 'create' })).toBeUndefined()
  })
})
