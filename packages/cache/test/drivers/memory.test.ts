import dc from 'node:diagnostics_channel'
import { describe, expect, it, vi } from 'vitest'
import { describeCacheDriver } from '@beaver-kit/testkit/cache'
import { eventually } from '@beaver-kit/testkit'
import { createCache, isCacheError } from '@beaver-kit/cache'
import { coarseNow, MemoryStore } from '../../src/drivers/memory.ts'
import { code } from '../helpers/error-code.ts'

describeCacheDriver('memory (by reference)', (ns) => createCache({ envPrefix: false, namespace: ns }), {
  shared: false,
  increment: true,
  query: false,
})

describeCacheDriver(
  'memory (serialized, lru)',
  (ns) =>
    createCache({ envPrefix: false, namespace: ns, memory: { storage: 'serialized', policy: 'lru', maxSize: '64mb' } }),
  { shared: false, increment: true, query: false },
)

describe('memory driver', () => {
  it('answers a hit synchronously: no microtask between set and getSync, and get() resolves it', async () => {
    const c = createCache({ envPrefix: false })
    c.setSync('k', { v: 1 })
    expect(c.getSync('k')).toEqual({ v: 1 })
    const order: string[] = []
    void c.get('k').then(() => order.push('get'))
    queueMicrotask(() => order.push('microtask'))
    await Promise.resolve()
    await Promise.resolve()
    expect(order[0]).toBe('get')
    await c.close()
  })

  it('getSync: a negatively cached key is a counted miss, and a closed namespace view refuses while its parent answers', async () => {
    const c = createCache({ envPrefix: false })
    expect(await c.getOrSet('absent', () => undefined, { negativeTtl: '1h' })).toBeUndefined()
    c.setSync('present', 0)
    const before = c.stats()
    expect(c.getSync('absent')).toBeUndefined()
    expect(c.getSync('present')).toBe(0)
    expect(c.stats().misses).toBe(before.misses + 1)
    expect(c.stats().hits).toBe(before.hits + 1)
    const view = c.namespace('v')
    view.setSync('k', 'v')
    await view.close()
    expect(code(() => view.getSync('k'))).toBe('CACHE_CLOSED')
    expect(c.getSync('present')).toBe(0)
    await c.close()
  })

  it('keeps values by reference by default, and copies them in serialized mode', async () => {
    const byRef = createCache({ envPrefix: false })
    const copy = createCache({ envPrefix: false, memory: { storage: 'serialized' } })
    const v = { n: 1 }
    await byRef.set('k', v)
    await copy.set('k', v)
    v.n = 2
    expect(await byRef.get('k')).toEqual({ n: 2 })
    expect(await copy.get('k')).toEqual({ n: 1 })
    await byRef.close()
    await copy.close()
  })

  it('evicts by item count with SIEVE (visited entries survive) and counts evictions', async () => {
    const c = createCache({ envPrefix: false, memory: { maxItems: 3 } })
    const evicted: unknown[] = []
    const onEvict = (m: unknown): void => void evicted.push(m)
    dc.subscribe('beaver:cache:evict', onEvict)
    try {
      c.setSync('a', 1)
      c.setSync('b', 2)
      c.setSync('c', 3)
      c.getSync('a')
      c.setSync('d', 4)
      expect(c.getSync('a')).toBe(1)
      expect(c.getSync('b')).toBeUndefined()
      // The event names where, never which key (keys may hold tokens).
      expect(evicted).toEqual([{ namespace: 'cache', driver: 'memory' }])
      expect(c.stats().evictions).toBe(1)
    } finally {
      dc.unsubscribe('beaver:cache:evict', onEvict)
      await c.close()
    }
  })

  it('evicts the least recently used entry with policy lru', async () => {
    const c = createCache({ envPrefix: false, memory: { maxItems: 3, policy: 'lru' } })
    c.setSync('a', 1)
    c.setSync('b', 2)
    c.setSync('c', 3)
    c.getSync('a')
    c.setSync('d', 4)
    c.getSync('c')
    c.setSync('e', 5)
    // a, b, c; a used; d evicts b; c used; e evicts a (now the least recently used).
    expect([c.getSync('a'), c.getSync('b'), c.getSync('c'), c.getSync('d'), c.getSync('e')]).toEqual([
      undefined,
      undefined,
      3,
      4,
      5,
    ])
    await c.close()
  })

  it('bounds total bytes, rejects entries above maxEntrySize or the whole bound', async () => {
    const c = createCache({
      envPrefix: false,
      memory: { storage: 'serialized', maxSize: 1000, maxItems: 1000 },
      maxEntrySize: 600,
    })
    for (let i = 0; i < 10; i++) await c.set(`k${i}`, 'x'.repeat(200))
    const store = c.stats()
    expect(store.evictions).toBeGreaterThan(0)
    const present = (await c.getMany(Array.from({ length: 10 }, (_, i) => `k${i}`))).filter((v) => v !== undefined)
    expect(present.length).toBeLessThanOrEqual(4)
    expect(present.length).toBeGreaterThan(0)
    await expect(c.set('big', 'y'.repeat(700))).rejects.toSatisfy((e: unknown) =>
      isCacheError(e, 'CACHE_VALUE_TOO_LARGE'),
    )
    const refs = createCache({ envPrefix: false, memory: { maxSize: 100, sizeOf: () => 500 } })
    expect(code(() => refs.setSync('k', 1))).toBe('CACHE_VALUE_TOO_LARGE')
    await c.close()
    await refs.close()
  })

  it('expires lazily, and sweeps in bounded batches (manual clock)', () => {
    let clock = 1_000_000
    const store = new MemoryStore({ maxItems: 10_000, sweepInterval: 0, sweepBatch: 100, now: () => clock })
    for (let i = 0; i < 1000; i++) store.set('ns', `k${i}`, i, 500)
    store.set('ns', 'forever', 1, undefined)
    expect(store.size).toBe(1001)
    expect(store.sweep()).toBe(0)
    clock += 1000
    expect(store.sweep()).toBe(100)
    expect(store.size).toBe(901)
    expect(store.get('ns', 'k999')).toBeUndefined()
    expect(store.size).toBe(900)
    for (let n = 0; n < 20; n++) store.sweep()
    expect(store.size).toBe(1)
    expect(store.get('ns', 'forever')).toBe(1)
    store.close()
  })

  it('runs the sweep from a background timer that does not keep the process alive', async () => {
    let clock = 1_000_000
    const store = new MemoryStore({ maxItems: 100, sweepInterval: 5, sweepBatch: 10, now: () => clock })
    for (let i = 0; i < 50; i++) store.set('ns', `k${i}`, i, 100)
    clock += 1000
    await eventually(() => expect(store.size).toBe(0), { timeoutMs: 5000 })
    store.close()
  })

  it('reads its default clock once per turn of the event loop, and arms no timer to do so', async () => {
    // A 1 ms timer re-armed every millisecond cost the tiered cache 5-10 µs of CPU per Redis
    // round trip; the clock is forgotten by an immediate instead.
    const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
    await turn()
    const first = coarseNow()
    const until = Date.now() + 3
    let spins = 0
    while (Date.now() < until) spins++
    expect(spins).toBeGreaterThan(0)
    expect(coarseNow()).toBe(first) // a synchronous run sees one time
    await turn()
    await turn()
    const timers = vi.spyOn(globalThis, 'setTimeout')
    try {
      expect(coarseNow()).toBeGreaterThanOrEqual(until)
      expect(timers).not.toHaveBeenCalled()
    } finally {
      timers.mockRestore()
    }
  })

  it('reports per-namespace stats and a hit ratio', async () => {
    const c = createCache({ envPrefix: false, namespace: 'app' })
    const users = c.namespace('users')
    await users.set('1', 'u')
    await users.get('1')
    await users.get('2')
    await c.get('x')
    const s = c.stats()
    expect(s.namespaces['app:users']).toMatchObject({ hits: 1, misses: 1, sets: 1 })
    expect(s.namespaces.app).toMatchObject({ hits: 0, misses: 1 })
    expect(s.hitRatio).toBeCloseTo(1 / 3)
    expect(code(() => c.namespace(''))).toBe('CACHE_OPTIONS_INVALID')
    expect(code(() => c.namespace('has space'))).toBe('CACHE_OPTIONS_INVALID')
    await c.close()
  })
})
