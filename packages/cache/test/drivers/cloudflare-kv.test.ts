import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { describeCacheDriver } from '@beaver-kit/testkit/cache'
import { startKvEmulator, type KvEmulator } from '@beaver-kit/testkit/cache-servers'
import { uniqueNamespace } from '@beaver-kit/testkit'
import { isBeaverError } from '@beaver-kit/core'
import { createCache, type KvNamespaceBinding } from '@beaver-kit/cache'

// A local server implementing the documented KV REST API (paths, status codes, error bodies).
let kv: KvEmulator
beforeAll(async () => {
  kv = await startKvEmulator()
})
afterAll(async () => {
  await kv?.stop()
})

const options = (): { apiBase: string; accountId: string; namespaceId: string; apiToken: string } => ({
  apiBase: kv.apiBase,
  accountId: kv.accountId,
  namespaceId: kv.namespaceId,
  apiToken: kv.apiToken,
})

describeCacheDriver(
  'cloudflare-kv (REST, local KV API server)',
  (ns) =>
    createCache({
      envPrefix: false,
      namespace: ns,
      driver: 'cloudflare-kv',
      cloudflareKv: options(),
    }),
  { shared: true, increment: false, query: false },
)

/** An in-memory stand-in for a Workers KVNamespace binding. */
function fakeBinding(): KvNamespaceBinding {
  const m = new Map<string, Uint8Array>()
  return {
    get: async (k) => {
      const v = m.get(k)
      return v === undefined ? null : (v.slice().buffer as ArrayBuffer)
    },
    put: async (k, v) => {
      m.set(k, new Uint8Array(v instanceof Uint8Array ? v : new Uint8Array(v)))
    },
    delete: async (k) => {
      m.delete(k)
    },
    list: async ({ prefix = '' } = {}) => ({
      keys: [...m.keys()].filter((k) => k.startsWith(prefix)).map((name) => ({ name })),
      list_complete: true,
    }),
  }
}

describeCacheDriver(
  'cloudflare-kv (Workers binding)',
  (() => {
    const binding = fakeBinding()
    return (ns: string) =>
      createCache({
        envPrefix: false,
        namespace: ns,
        driver: 'cloudflare-kv',
        cloudflareKv: { binding },
      })
  })(),
  { shared: true, increment: false, query: false },
)

describe('cloudflare-kv specifics', () => {
  it('raises TTLs under 60 s to KV minimum, and still expires the entry at its own TTL on read', async () => {
    const ns = uniqueNamespace('kv')
    const c = createCache({
      envPrefix: false,
      namespace: ns,
      driver: 'cloudflare-kv',
      cloudflareKv: options(),
    })
    await c.set('short', 'v', { ttl: 1 })
    const stored = kv.entries.get(`${encodeURIComponent(ns)}/short`)
    expect(stored?.expiresAt).toBeGreaterThanOrEqual(Date.now() + 55_000)
    await expect.poll(() => c.get('short')).toBeUndefined()
    await c.setMany([
      { key: 'a', value: 1, ttl: '10s' },
      { key: 'b', value: 2 },
    ])
    expect(kv.requests.get('PUT bulk')).toBeGreaterThanOrEqual(1)
    expect(await c.getMany(['a', 'b'])).toEqual([1, 2])
    await c.clear()
    expect([...kv.entries.keys()].filter((k) => k.startsWith(encodeURIComponent(ns)))).toEqual([])
    await c.close()
  })

  it('turns API errors into CacheErrors with the API message', async () => {
    const c = createCache({
      envPrefix: false,
      namespace: 'x',
      driver: 'cloudflare-kv',
      cloudflareKv: { ...options(), apiToken: 'wrong' },
    })
    const err = await c.get('k').catch((e: unknown) => e)
    expect(isBeaverError(err, 'CACHE_OPTIONS_INVALID')).toBe(true)
    expect((err as Error).message).toContain('10000: Authentication error')
    await c.close()
  })
})
