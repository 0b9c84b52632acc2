import { afterEach, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { eventually, requireService, startFaultProxy, uniqueNamespace } from '@beaver-kit/testkit'
import {
  channels,
  createLimiter,
  initLimiter,
  limiter,
  RedisStore,
  resetLimiter,
  withPrefix,
  type RateLimitStore,
} from '@beaver-kit/ratelimit'

const redis = await requireService('redis')

describe('the limiter instance surface', () => {
  afterEach(() => resetLimiter())

  it('builds the default lazily from env, refuses init once it exists, and describes itself', async () => {
    const first = limiter()
    expect(limiter()).toBe(first)
    expect(() => initLimiter()).toThrow(expect.objectContaining({ code: 'CORE_ALREADY_INITIALIZED' }))
    await first.ready()
    expect(first.store).toBe('memory')
    expect(first.rule).toEqual({ algorithm: 'sliding-window', limit: 60, windowMs: 60_000, burst: 60 })
    const d = first.describe()
    expect(d.package).toBe('ratelimit')
    expect(d.settings.map((s) => s.name)).toContain('BEAVER_RATELIMIT_ALGORITHM')
  })

  it('reads another prefix with withPrefix, and env below explicit options', async () => {
    const env = { OTHER_RATELIMIT_LIMIT: '7', OTHER_RATELIMIT_ALGORITHM: 'gcra', OTHER_RATELIMIT_BURST: '2' }
    await using other = withPrefix('OTHER_', { env })
    expect(other.rule).toEqual({ algorithm: 'gcra', limit: 7, windowMs: 60_000, burst: 2 })
    await using explicit = createLimiter({ envPrefix: 'OTHER_', env, limit: 9 })
    expect(explicit.rule.limit).toBe(9)
  })

  it('names the variable and the accepted values when configuration is bad', () => {
    expect(() => createLimiter({ env: { BEAVER_RATELIMIT_ALGORITHM: 'leaky' } })).toThrow(
      /BEAVER_RATELIMIT_ALGORITHM[\s\S]*sliding-window/,
    )
    expect(() => createLimiter({ env: { BEAVER_RATELIMIT_FAIL_POLICY: 'maybe' } })).toThrow(
      /BEAVER_RATELIMIT_FAIL_POLICY/,
    )
    expect(() => createLimiter({ env: { BEAVER_RATELIMIT_NAMESPACE: 'a:b' } })).toThrow(/BEAVER_RATELIMIT_NAMESPACE/)
    expect(() => createLimiter({ env: { BEAVER_RATELIMIT_TRUSTED_PROXIES: '10.0.0.0/8,proxy' } })).toThrow(
      expect.objectContaining({
        code: 'RATELIMIT_OPTIONS_INVALID',
        message: expect.stringMatching(/BEAVER_RATELIMIT_TRUSTED_PROXIES.*"proxy"/),
      }),
    )
    expect(() => createLimiter({ envPrefix: false, algorithm: 'sliding-log', limit: 20_000 })).toThrow(/at most 10000/)
  })

  it('names the variable of a bad Redis Cluster node list, and nodes given without the cluster mode', () => {
    const cluster = { BEAVER_RATELIMIT_STORE: 'redis', BEAVER_RATELIMIT_REDIS_MODE: 'cluster' }
    expect(() =>
      createLimiter({ env: { ...cluster, BEAVER_RATELIMIT_REDIS_CLUSTER_NODES: '10.0.0.1:7000,10.0.0.2' } }),
    ).toThrow(/BEAVER_RATELIMIT_REDIS_CLUSTER_NODES[\s\S]*"10\.0\.0\.2" is not host:port/)
    expect(() =>
      createLimiter({
        env: { BEAVER_RATELIMIT_STORE: 'redis', BEAVER_RATELIMIT_REDIS_CLUSTER_NODES: '10.0.0.1:7000' },
      }),
    ).toThrow(
      expect.objectContaining({
        code: 'RATELIMIT_OPTIONS_INVALID',
        message: expect.stringMatching(
          /BEAVER_RATELIMIT_REDIS_CLUSTER_NODES.*BEAVER_RATELIMIT_REDIS_MODE is standalone/,
        ),
      }),
    )
    const l = createLimiter({ env: { ...cluster, BEAVER_RATELIMIT_REDIS_CLUSTER_NODES: '10.0.0.1:7000,[::1]:7001' } })
    expect(l.store).toBe('redis') // nothing connects before first use
  })

  it('names the variable of a bad Sentinel list, and sentinels without the sentinel mode (or the reverse)', () => {
    const env = { BEAVER_RATELIMIT_STORE: 'redis', BEAVER_RATELIMIT_REDIS_MODE: 'sentinel' }
    expect(() =>
      createLimiter({ env: { ...env, BEAVER_RATELIMIT_REDIS_SENTINELS: '10.0.0.1:26379,10.0.0.2' } }),
    ).toThrow(/BEAVER_RATELIMIT_REDIS_SENTINELS[\s\S]*"10\.0\.0\.2" is not host:port/)
    expect(() => createLimiter({ env })).toThrow(
      expect.objectContaining({
        code: 'RATELIMIT_OPTIONS_INVALID',
        message: expect.stringMatching(/BEAVER_RATELIMIT_REDIS_MODE is sentinel but BEAVER_RATELIMIT_REDIS_SENTINELS/),
      }),
    )
    expect(() =>
      createLimiter({ env: { BEAVER_RATELIMIT_STORE: 'redis', BEAVER_RATELIMIT_REDIS_SENTINELS: '10.0.0.1:26379' } }),
    ).toThrow(/BEAVER_RATELIMIT_REDIS_SENTINELS.*BEAVER_RATELIMIT_REDIS_MODE is standalone/)
    const l = createLimiter({ env: { ...env, BEAVER_RATELIMIT_REDIS_SENTINELS: '10.0.0.1:26379,[::1]:26380' } })
    expect(l.store).toBe('redis') // nothing connects before first use
  })

  it('keeps the Redis password out of describe()', () => {
    const l = createLimiter({
      envPrefix: false,
      store: 'redis',
      redis: { url: 'redis://user:hunter2@127.0.0.1:1', password: 's3cret' },
    })
    const text = JSON.stringify(l.describe())
    expect(text).not.toContain('hunter2')
    expect(text).not.toContain('s3cret')
  })

  it('refuses costs that are not whole numbers or can never fit, and calls after close', async () => {
    const l = createLimiter({ envPrefix: false, limit: 5 })
    await expect(l.limit('k', { cost: 0 })).rejects.toMatchObject({ code: 'RATELIMIT_COST_INVALID' })
    await expect(l.limit('k', { cost: 1.5 })).rejects.toMatchObject({ code: 'RATELIMIT_COST_INVALID' })
    await expect(l.limit('k', { cost: 6 })).rejects.toMatchObject({ code: 'RATELIMIT_COST_INVALID' })
    expect(await l.limit('k', { cost: 6, upTo: true })).toMatchObject({ allowed: true, granted: 5 })
    await expect(l.limit('')).rejects.toMatchObject({ code: 'RATELIMIT_KEY_INVALID' })
    await expect(l.limitAll([])).rejects.toMatchObject({ code: 'RATELIMIT_OPTIONS_INVALID' })
    await l.close()
    await expect(l.limit('k')).rejects.toMatchObject({ code: 'RATELIMIT_CLOSED' })
  })

  it('keeps namespaces apart on one store', async () => {
    const { MemoryStore } = await import('@beaver-kit/ratelimit')
    const store = new MemoryStore()
    const a = createLimiter({ envPrefix: false, namespace: 'a', limit: 1, storeInstance: store })
    const b = createLimiter({ envPrefix: false, namespace: 'b', limit: 1, storeInstance: store })
    expect((await a.limit('x')).allowed).toBe(true)
    expect((await a.limit('x')).allowed).toBe(false)
    expect((await b.limit('x')).allowed).toBe(true)
  })

  it('meets one counter per key through every operation on a memory store of its own (keys kept unprefixed)', async () => {
    const seen: unknown[] = []
    const listen = (m: unknown): void => void seen.push(m)
    channels.denied.subscribe(listen)
    try {
      await using l = createLimiter({ envPrefix: false, namespace: 'own', algorithm: 'fixed-window', limit: 5 })
      const long = 'k'.repeat(500)
      for (const key of ['k', long]) {
        expect((await l.limit(key)).remaining).toBe(4)
        await l.penalty(key, 2)
        expect((await l.limit(key)).remaining).toBe(1)
        await l.refund(key, 1)
        const all = await l.limitAll([{ key }, { key: `${key}:other` }])
        expect(all.decisions.map((d) => d.remaining)).toEqual([1, 4])
        await l.block(key, '1m')
        expect(await l.limit(key)).toMatchObject({ allowed: false, blocked: true })
        await l.reset(key)
        expect((await l.limit(key)).remaining).toBe(4)
      }
      expect((await l.limit(`${long}x`)).remaining).toBe(4) // a long key is hashed, not cut
      // Observers see the namespaced key whatever the store holds.
      expect(seen).toContainEqual(expect.objectContaining({ key: 'own:k' }))
    } finally {
      channels.denied.unsubscribe(listen)
    }
  })
})

describe('the memory store bound', () => {
  it('keeps at most maxKeys, giving a key used since the last pass a second chance', async () => {
    const { MemoryStore } = await import('@beaver-kit/ratelimit')
    const store = new MemoryStore({ maxKeys: 3 })
    await using l = createLimiter({ envPrefix: false, algorithm: 'fixed-window', limit: 5, storeInstance: store })
    for (const k of ['a', 'b', 'c']) await l.limit(k)
    await l.limit('a') // a is used again: it survives the next eviction, b (older, unused) goes
    await l.limit('d')
    expect(store.size).toBe(3)
    expect((await l.limit('a')).remaining).toBe(2) // its count kept
    expect((await l.limit('b')).remaining).toBe(4) // forgotten: a fresh window
    await store.block('default:e', 1000, Date.now())
    expect(store.size).toBe(3)
  })
})

describe('shadow mode', () => {
  it('lets every request through, reports the ones it would refuse, and publishes them', async () => {
    const seen: unknown[] = []
    const listen = (m: unknown): void => void seen.push(m)
    channels.denied.subscribe(listen)
    try {
      await using l = createLimiter({ envPrefix: false, limit: 1, shadow: true })
      expect(await l.limit('k')).toMatchObject({ allowed: true, shadowed: false })
      expect(await l.limit('k')).toMatchObject({ allowed: true, shadowed: true, remaining: 0, retryAfterMs: 0 })
      expect(seen).toEqual([expect.objectContaining({ shadow: true, key: 'default:k' })])
    } finally {
      channels.denied.unsubscribe(listen)
    }
  })
})

/** A store whose every call fails, as a dead backend's would. */
function brokenStore(): RateLimitStore {
  const fail = (): Promise<never> => Promise.reject(new Error('ECONNREFUSED 127.0.0.1:1'))
  return {
    name: 'broken',
    apply: fail,
    block: fail,
    reset: fail,
    ready: () => Promise.resolve(),
    close: () => Promise.resolve(),
  }
}

describe('store failure policy', () => {
  it('open: decides from the in-memory insurance limiter, publishes the error, never throws', async () => {
    const errors: unknown[] = []
    const listen = (m: unknown): void => void errors.push(m)
    channels.storeError.subscribe(listen)
    try {
      await using l = createLimiter({ envPrefix: false, limit: 2, storeInstance: brokenStore(), failPolicy: 'open' })
      const d = await Promise.all([l.limit('k'), l.limit('k'), l.limit('k')])
      expect(d.map((x) => [x.allowed, x.source])).toEqual([
        [true, 'insurance'],
        [true, 'insurance'],
        [false, 'insurance'],
      ])
      expect(errors).toHaveLength(3)
      expect(errors[0]).toMatchObject({
        store: 'broken',
        policy: 'open',
        error: expect.objectContaining({ message: expect.stringContaining('ECONNREFUSED') }),
      })
    } finally {
      channels.storeError.unsubscribe(listen)
    }
  })

  it('closed: refuses while the store is away', async () => {
    await using l = createLimiter({ envPrefix: false, limit: 2, storeInstance: brokenStore(), failPolicy: 'closed' })
    expect(await l.limit('k')).toMatchObject({ allowed: false, source: 'unavailable', retryAfterMs: 1000 })
  })

  it('a store that hangs counts as failed after the timeout', async () => {
    const hanging: RateLimitStore = { ...brokenStore(), apply: () => new Promise(() => undefined) }
    await using l = createLimiter({ envPrefix: false, storeInstance: hanging, timeout: '50ms' })
    expect(await l.limit('k')).toMatchObject({ allowed: true, source: 'insurance' })
  })

  describe.runIf(redis)('on a real Redis behind a fault proxy', () => {
    it(
      'falls back while Redis is unreachable and goes back to Redis when it returns',
      { timeout: 60_000 },
      async () => {
        const target = new URL(redis as string)
        const proxy = await startFaultProxy({ target: { host: target.hostname, port: Number(target.port) || 6379 } })
        const store = new RedisStore({ url: proxy.url(redis as string), timeoutMs: 2000 })
        await using l = createLimiter({
          envPrefix: false,
          namespace: uniqueNamespace('rlf'),
          limit: 100,
          storeInstance: store,
          timeout: '2s',
        })
        try {
          expect((await l.limit('k')).source).toBe('store')
          proxy.setDrop(true)
          proxy.resetAll()
          await proxy.refuse()
          const during = await l.limit('k')
          expect(during).toMatchObject({ allowed: true, source: 'insurance' })
          proxy.setDrop(false)
          await proxy.accept()
          await eventually(async () => (await l.limit('k')).source === 'store', { timeoutMs: 30_000, intervalMs: 200 })
        } finally {
          await store.close()
          await proxy.close()
        }
      },
    )

    it('reloads its script after SCRIPT FLUSH (EVALSHA answered NOSCRIPT)', async () => {
      const admin = new Redis(redis as string)
      await using l = createLimiter({
        envPrefix: false,
        namespace: uniqueNamespace('rls'),
        store: 'redis',
        redis: { url: redis },
        limit: 3,
      })
      try {
        expect((await l.limit('k')).remaining).toBe(2)
        await admin.script('FLUSH')
        expect(await l.limit('k')).toMatchObject({ source: 'store', remaining: 1 })
      } finally {
        admin.disconnect()
      }
    })
  })
})
