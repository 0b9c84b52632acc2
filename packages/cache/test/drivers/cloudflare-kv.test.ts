import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { describeCacheDriver } from '@beaver-kit/testkit/cache'
import { startKvEmulator, type KvEmulator } from '@beaver-kit/testkit/cache-servers'
import { uniqueNamespace } from '@beaver-kit/testkit'
import { isBeaverError } from '@beaver-kit/core'
import { createCache, type Cache, type KvNamespaceBinding } from '@beaver-kit/cache'

// A local server implementing the documented KV REST API (paths, status codes, error bodies).
// The conformance suite runs at one location of it, where KV reads its own writes at once; the
// propagation to other locations is tested below with a clock.
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
  'cloudflare-kv (REST, local KV API server, one location)',
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

describe('cloudflare-kv across edge locations (emulator with 60 s propagation and a manual clock)', () => {
  const PROPAGATION_MS = 60_000
  let clock = 0
  let edges: KvEmulator
  beforeAll(async () => {
    clock = Date.now()
    edges = await startKvEmulator({ propagationMs: PROPAGATION_MS, now: () => clock })
  })
  afterAll(async () => {
    await edges?.stop()
  })
  const at = (location: string, namespace: string): Cache => {
    const c = createCache({
      envPrefix: false,
      namespace,
      driver: 'cloudflare-kv',
      cloudflareKv: { ...options(), apiBase: edges.apiBaseAt(location) },
    })
    opened.push(c)
    return c
  }
  const opened: Cache[] = []
  afterEach(async () => {
    for (const c of opened.splice(0)) await c.close()
  })

  it('reads its own writes at the location that made them; another location sees them once propagated, not before', async () => {
    const ns = uniqueNamespace('kv-edge')
    const [here, there] = [at('here', ns), at('there', ns)]
    await here.set('k', 'v1')
    await here.setMany([{ key: 'bulk', value: 2 }])
    expect(await here.getMany(['k', 'bulk'])).toEqual(['v1', 2])
    expect(await there.getMany(['k', 'bulk'])).toEqual([undefined, undefined])
    clock += PROPAGATION_MS - 1
    expect(await there.get('k')).toBeUndefined()
    clock += 1
    expect(await there.getMany(['k', 'bulk'])).toEqual(['v1', 2])
  })

  it('serves the previous value elsewhere until an overwrite or delete propagates', async () => {
    const ns = uniqueNamespace('kv-edge')
    const [here, there] = [at('here', ns), at('there', ns)]
    await here.set('k', 'old')
    clock += PROPAGATION_MS
    await here.set('k', 'new')
    expect(await here.get('k')).toBe('new')
    expect(await there.get('k')).toBe('old')
    clock += PROPAGATION_MS
    expect(await there.get('k')).toBe('new')
    await there.delete('k')
    expect(await there.get('k')).toBeUndefined()
    expect(await here.get('k')).toBe('new')
    clock += PROPAGATION_MS
    expect(await here.get('k')).toBeUndefined()
  })

  it('clear() deletes what its own location lists: a write made elsewhere that has not propagated survives it', async () => {
    const ns = uniqueNamespace('kv-edge')
    const [here, there] = [at('here', ns), at('there', ns)]
    await here.set('seen', 1)
    clock += PROPAGATION_MS
    await here.set('recent', 2)
    await there.clear()
    clock += PROPAGATION_MS
    expect(await here.getMany(['seen', 'recent'])).toEqual([undefined, 2])
  })
})

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
