import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import dc from 'node:diagnostics_channel'
import { afterEach, describe, expect, it, vi } from 'vitest'

import { isConfigError } from '@beaver-kit/config'
import { importPeer, isCoreError, shutdown } from '@beaver-kit/core'
import {
  cache,
  cacheDriverNames,
  createCache,
  defineCacheDriver,
  initCache,
  isCacheError,
  registerCacheDriver,
  resetCache,
  withPrefix,
  type CacheDriver,
} from '@beaver-kit/cache'
import { memoryDriver } from '@beaver-kit/cache/memory'
import { redisDriver } from '@beaver-kit/cache/redis'
import { databaseDriver } from '@beaver-kit/cache/database'
import { s3Driver } from '@beaver-kit/cache/s3'
import { dynamoDbDriver } from '@beaver-kit/cache/dynamodb'
import { cloudflareKvDriver } from '@beaver-kit/cache/cloudflare-kv'
import { tieredDriver } from '@beaver-kit/cache/tiered'
import { hybridDriver } from '@beaver-kit/cache/hybrid'
import { encryptedDriver } from '@beaver-kit/cache/encrypted'
import { code } from './helpers/error-code.ts'

afterEach(async () => {
  vi.useRealTimers()
  await resetCache()
})

describe('configuration from the environment', () => {
  it('builds the default instance from BEAVER_CACHE_* and honours a prefix', async () => {
    vi.stubEnv('BEAVER_CACHE_NAMESPACE', 'from-env')
    vi.stubEnv('BEAVER_CACHE_DEFAULT_TTL', '5m')
    vi.stubEnv('BEAVER_CACHE_MEMORY_MAX_ITEMS', '3')
    vi.stubEnv('OTHER_CACHE_NAMESPACE', 'other')
    try {
      const c = cache()
      expect(c).toBe(cache())
      expect(c.namespaceName).toBe('from-env')
      expect(c.config.defaultTtl).toBe(300_000)
      expect(c.config.memory.maxItems).toBe(3)
      await c.set('a', 1)
      const ttl = await c.ttl('a')
      expect(ttl).toBeGreaterThan(290_000)
      expect(ttl).toBeLessThanOrEqual(300_000)
      expect(() => initCache()).toThrow(/already exists/)
      const other = withPrefix('OTHER_')
      expect(other.namespaceName).toBe('other')
      await other.close()
    } finally {
      vi.unstubAllEnvs()
    }
  })

  it('rejects a bad value with one ConfigError, and a typo in the driver name with a suggestion', () => {
    vi.stubEnv('BEAVER_CACHE_DEFAULT_TTL', 'soon')
    try {
      expect(() => createCache()).toThrow(
        expect.objectContaining({ message: expect.stringContaining('BEAVER_CACHE_DEFAULT_TTL') }),
      )
      let err: unknown
      try {
        createCache()
      } catch (e) {
        err = e
      }
      expect(isConfigError(err)).toBe(true)
    } finally {
      vi.unstubAllEnvs()
    }
    let unknown: unknown
    try {
      createCache({ envPrefix: false, driver: 'reddis' })
    } catch (e) {
      unknown = e
    }
    expect(isCacheError(unknown, 'CACHE_DRIVER_UNKNOWN')).toBe(true)
    expect((unknown as Error).message).toContain('did you mean "redis"')
  })

  it('initCache configures the default before first use; resetCache closes it', async () => {
    const c = initCache({ envPrefix: false, namespace: 'init' })
    expect(cache()).toBe(c)
    await c.set('x', 1)
    await resetCache()
    await expect(c.get('x')).rejects.toSatisfy((e: unknown) => isCacheError(e, 'CACHE_CLOSED'))
    expect(cache()).not.toBe(c)
  })

  it('shutdown() closes the default instance', async () => {
    const c = cache()
    await shutdown()
    await expect(c.set('x', 1)).rejects.toSatisfy((e: unknown) => isCacheError(e, 'CACHE_CLOSED'))
  })
})

describe('driver registry', () => {
  it('declares the optional peers each driver loads, matching peerDependencies', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      peerDependencies: Record<string, string>
      peerDependenciesMeta: Record<string, { optional?: boolean }>
    }
    const builtIn = [
      memoryDriver,
      redisDriver,
      databaseDriver,
      s3Driver,
      dynamoDbDriver,
      cloudflareKvDriver,
      tieredDriver,
      hybridDriver,
      encryptedDriver,
    ]
    for (const d of builtIn) {
      for (const peer of d.peers) {
        expect(pkg.peerDependencies[peer], `${d.name} needs ${peer}`).toBeDefined()
        expect(pkg.peerDependenciesMeta[peer]?.optional).toBe(true)
      }
    }
    // Each definition is registered under its own name.
    expect(cacheDriverNames()).toEqual(expect.arrayContaining(builtIn.map((d) => d.name)))
    // Each built-in names its section of the settings: the one name→section mapping.
    expect(Object.fromEntries(builtIn.map((d) => [d.name, d.section]))).toEqual({
      memory: 'memory',
      redis: 'redis',
      database: 'db',
      s3: 's3',
      dynamodb: 'dynamodb',
      'cloudflare-kv': 'cloudflareKv',
      tiered: 'tiered',
      hybrid: 'hybrid',
      encrypted: 'encryption',
    })
  })

  it('registers a third-party driver by name (also lazily) and fills batch gaps from its primitives', async () => {
    const store = new Map<string, unknown>()
    const calls: string[] = []
    const tiny = defineCacheDriver<{ tag: string }>({
      name: 'tiny',
      peers: [],
      create(options): CacheDriver {
        calls.push(`create:${options.tag}`)
        return {
          name: 'tiny',
          capabilities: { values: 'bytes', sync: false, batch: false, atomicIncrement: false, query: false },
          get: async (ns, key) => store.get(`${ns}|${key}`),
          set: async (ns, key, value) => void store.set(`${ns}|${key}`, value),
          delete: async (ns, key) => store.delete(`${ns}|${key}`),
          clear: async (ns) => {
            for (const k of store.keys()) if (k.startsWith(`${ns}|`) || k.startsWith(`${ns}:`)) store.delete(k)
          },
          close: () => undefined,
        }
      },
    })
    registerCacheDriver('tiny', tiny)
    registerCacheDriver('tiny-lazy', () => Promise.resolve(tiny))
    expect(code(() => registerCacheDriver('Bad Name', tiny))).toBe('CACHE_DRIVER_NAME_INVALID')
    const c = createCache({ envPrefix: false, driver: 'tiny-lazy', driverOptions: { tag: 'x' }, namespace: 'n' })
    await c.setMany([
      { key: 'a', value: 1 },
      { key: 'b', value: 2 },
    ])
    expect(await c.getMany(['a', 'b', 'c'])).toEqual([1, 2, undefined])
    expect(await c.deleteMany(['a', 'c'])).toBe(1)
    await expect(c.increment('n')).rejects.toSatisfy((e: unknown) => isCacheError(e, 'CACHE_UNSUPPORTED'))
    await expect(c.ttl('b')).rejects.toSatisfy((e: unknown) => isCacheError(e, 'CACHE_UNSUPPORTED'))
    expect(() => c.getSync('b')).toThrow(expect.objectContaining({ code: 'CACHE_UNSUPPORTED' }))
    expect(calls).toEqual(['create:x'])
    await c.close()
  })

  it('a missing optional peer is CORE_PEER_MISSING (one code kit-wide) naming the install command', async () => {
    const needsPeer = defineCacheDriver({
      name: 'needs-peer',
      peers: ['not-installed-peer'],
      async create() {
        // What importPeer does when Node reports the module missing.
        return importPeer(
          'not-installed-peer',
          () =>
            Promise.reject(
              Object.assign(new Error("Cannot find package 'not-installed-peer'"), { code: 'ERR_MODULE_NOT_FOUND' }),
            ),
          'the needs-peer cache driver',
        )
      },
    })
    const c = createCache({ envPrefix: false, driver: needsPeer })
    let err: unknown
    try {
      await c.get('x')
    } catch (e) {
      err = e
    }
    expect(isCoreError(err, 'CORE_PEER_MISSING'), String(err)).toBe(true)
    expect((err as Error).message).toBe(
      'The needs-peer cache driver needs the optional package "not-installed-peer", which is not installed. Install it: npm install not-installed-peer',
    )
    await c.close()
  })
})

describe('getOrSet details', () => {
  it('lets the loader pick its TTL, sees the close signal, and forceFresh reloads once for concurrent callers', async () => {
    const c = createCache({ envPrefix: false })
    let signal: AbortSignal | undefined
    await c.getOrSet('k', (ctx) => {
      ctx.setTtl('2s')
      signal = ctx.signal
      return 1
    })
    const left = await c.ttl('k')
    expect(left).toBeGreaterThan(1000)
    expect(left).toBeLessThanOrEqual(2000)
    let loads = 0
    const fresh = await Promise.all(
      Array.from({ length: 10 }, () => c.getOrSet('k', () => ++loads + 1, { forceFresh: true })),
    )
    expect(loads).toBe(1)
    expect(new Set(fresh)).toEqual(new Set([2]))
    await c.close()
    expect(signal?.aborted).toBe(true)
  })

  it('an aborted caller stops waiting while the shared load goes on for the others', async () => {
    const c = createCache({ envPrefix: false })
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const loader = async (): Promise<string> => {
      await gate
      return 'v'
    }
    const controller = new AbortController()
    const first = c.getOrSet('slow', loader, { signal: controller.signal })
    const second = c.getOrSet('slow', loader)
    const reason = new Error('caller gave up')
    controller.abort(reason)
    const err = await first.catch((e: unknown) => e)
    expect(isCacheError(err, 'CACHE_ABORTED')).toBe(true)
    expect((err as Error).message).toBe("The cache getOrSet was aborted by the caller's signal: caller gave up")
    expect((err as Error).cause).toBe(reason)
    release()
    expect(await second).toBe('v')
    await c.close()
  })

  it('a loader result that cannot be cached is still returned, counted as an error and published', async () => {
    const c = createCache({ envPrefix: false, memory: { storage: 'serialized' }, maxEntrySize: 10 })
    const errors: unknown[] = []
    const onError = (m: unknown): void => void errors.push(m)
    dc.subscribe('beaver:cache:error', onError)
    try {
      expect(await c.getOrSet('big', () => 'z'.repeat(100))).toBe('z'.repeat(100))
      expect(await c.has('big')).toBe(false)
      expect(c.stats().errors).toBe(1)
      expect(errors).toHaveLength(1)
    } finally {
      dc.unsubscribe('beaver:cache:error', onError)
      await c.close()
    }
  })
})

describe('lifecycle', () => {
  it('close() is idempotent, namespace views close alone, and await using disposes', async () => {
    const c = createCache({ envPrefix: false })
    const view = c.namespace('v')
    await view.close()
    await view.close()
    await expect(view.get('x')).rejects.toSatisfy((e: unknown) => isCacheError(e, 'CACHE_CLOSED'))
    await c.set('still', 'open')
    expect(await c.get('still')).toBe('open')
    {
      await using scoped = createCache({ envPrefix: false })
      await scoped.set('x', 1)
      c.setSync('ref', scoped)
    }
    const scoped = c.getSync<{ get(k: string): Promise<unknown> }>('ref')
    await expect(scoped?.get('x')).rejects.toSatisfy((e: unknown) => isCacheError(e, 'CACHE_CLOSED'))
    await c.close()
    await c.close()
    expect(code(() => c.getSync('still'))).toBe('CACHE_CLOSED')
  })

  it('ready() resolves for memory and creation does no I/O for remote drivers', async () => {
    const c = createCache({ envPrefix: false })
    await c.ready()
    await c.close()
    const unreachable = createCache({
      envPrefix: false,
      driver: 'redis',
      redis: { url: 'redis://127.0.0.1:1', maxRetriesPerRequest: 0, connectTimeout: 200 },
    })
    expect(unreachable.driverName).toBe('redis')
    await unreachable.close()
  })
})

describe('purgeExpired()', () => {
  // The drivers' clock, moved by hand: entries expire when the test says, not after a sleep.
  let now = Date.now()
  const clock = (): number => now
  async function fill(c: ReturnType<typeof createCache>): Promise<void> {
    const other = c.namespace('other')
    await c.setMany([
      { key: 'short-1', value: 1, ttl: '500ms' },
      { key: 'short-2', value: 2, ttl: '500ms' },
      { key: 'long', value: 3, ttl: '1h' },
      { key: 'forever', value: 4, ttl: Infinity },
    ])
    await other.set('short-3', 5, { ttl: '500ms' })
    // Present before they expire: a driver that dropped short-TTL writes would purge nothing.
    expect(await c.getMany(['short-1', 'short-2', 'long', 'forever'])).toEqual([1, 2, 3, 4])
    expect(await other.get('short-3')).toBe(5)
    now += 1_000
  }

  it('removes every expired entry a memory cache still holds, in every namespace, and nothing else', async () => {
    const c = createCache({ envPrefix: false, driver: 'memory', memory: { sweepInterval: 0, now: clock } })
    await fill(c)
    const deletes = c.stats().deletes
    expect(await c.purgeExpired()).toBe(3)
    expect(c.stats().deletes).toBe(deletes + 3)
    expect(await c.purgeExpired()).toBe(0)
    expect(await c.getMany(['short-1', 'long', 'forever'])).toEqual([undefined, 3, 4])
    await c.close()
  })

  it('deletes expired rows of the database driver, and of each tier of a tiered cache over it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'beaver-purge-'))
    try {
      const url = `sqlite:${dir}/cache.db`
      const db = createCache({ envPrefix: false, driver: 'database', db: { url, sweepInterval: 0, now: clock } })
      await fill(db)
      expect(await db.purgeExpired()).toBe(3)
      expect(await db.getMany(['long', 'forever'])).toEqual([3, 4])
      await db.close()
      const tiered = createCache({
        envPrefix: false,
        driver: 'tiered',
        namespace: 'tiers',
        tiered: { tiers: ['memory', 'database'] },
        memory: { sweepInterval: 0, now: clock },
        db: { url, sweepInterval: 0, now: clock },
      })
      await fill(tiered)
      // three expired entries in the memory tier and the same three in the database tier
      expect(await tiered.purgeExpired()).toBe(6)
      expect(await tiered.get('long')).toBe(3)
      await tiered.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('resolves 0 on a driver whose store expires entries itself', async () => {
    const c = createCache({ envPrefix: false, driver: 'redis', namespace: `purge-${process.pid}-${Date.now()}` })
    await c.set('k', 1, { ttl: '1h' })
    expect(await c.purgeExpired()).toBe(0)
    expect(await c.get('k')).toBe(1)
    await c.clear()
    await c.close()
  })
})
