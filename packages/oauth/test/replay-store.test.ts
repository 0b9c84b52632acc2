import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCache } from '@beaver-kit/cache'
import { cacheReplayStore, createOAuth } from '@beaver-kit/oauth'
import { startGitHubServer, type LocalProviderServer } from '@beaver-kit/testkit/oauth-servers'

let gh: LocalProviderServer
beforeAll(async () => {
  gh = await startGitHubServer({
    accounts: [{ id: '7', login: 'grace', email: 'grace@example.test', emailVerified: true }],
  })
})
afterAll(() => gh.close())

describe('a replay store shared by several processes (a kit cache)', () => {
  it('a state used on one instance is refused on another that shares the keys and the cache; the refusal is published', async () => {
    await using cache = createCache({ envPrefix: false, driver: 'memory', namespace: `oauth-state-${Date.now()}` })
    const env = {
      BEAVER_OAUTH_STATE_KEYS: `k1:${Buffer.alloc(32, 3).toString('base64')}`,
      BEAVER_OAUTH_PROVIDERS: 'github',
      BEAVER_OAUTH_GITHUB_CLIENT_ID: gh.clientId,
      BEAVER_OAUTH_GITHUB_CLIENT_SECRET: gh.clientSecret,
      BEAVER_OAUTH_GITHUB_REDIRECT_URI: 'http://127.0.0.1:9/cb',
      BEAVER_OAUTH_GITHUB_AUTHORIZATION_URL: `${gh.url}/login/oauth/authorize`,
      BEAVER_OAUTH_GITHUB_TOKEN_URL: `${gh.url}/login/oauth/access_token`,
      BEAVER_OAUTH_GITHUB_API_URL: gh.url,
    }
    await using first = createOAuth({ env, replayStore: cacheReplayStore(cache) })
    await using second = createOAuth({ env, replayStore: cacheReplayStore(cache) })
    const { url, cookie } = await first.authorize('github', { returnTo: '/welcome' })
    const res = await fetch(url, { redirect: 'manual' })
    await res.body?.cancel()
    const callback = new URL(res.headers.get('location') as string)
    const ok = await second.callback('github', { params: callback, binding: cookie.value })
    expect(ok).toMatchObject({ returnTo: '/welcome', profile: { id: '7', emailVerified: true } })

    const seen: unknown[] = []
    const listener = (message: unknown): void => void seen.push(message)
    subscribe('beaver:oauth:rejected', listener)
    try {
      await expect(first.callback('github', { params: callback, binding: cookie.value })).rejects.toMatchObject({
        code: 'OAUTH_STATE_REPLAYED',
      })
    } finally {
      unsubscribe('beaver:oauth:rejected', listener)
    }
    expect(seen).toEqual([{ provider: 'github', code: 'OAUTH_STATE_REPLAYED' }])
    expect(JSON.stringify(seen)).not.toContain(callback.searchParams.get('code') as string)
  })
})
