import { afterEach, describe, expect, it } from 'vitest'
import { describeCacheDriver } from '@beaver-kit/testkit/cache'
import { eventually, requireService, startFaultProxy, uniqueNamespace, type FaultProxy } from '@beaver-kit/testkit'
import { isBeaverError } from '@beaver-kit/core'
import { createCache, type Cache, type CacheDriver, type CacheDriverDefinition } from '@beaver-kit/cache'
import { redisDriver } from '../src/drivers/redis.ts'
import { HybridDriver, type HybridDriverOptions } from '../src/hybrid/driver.ts'
import { WriteQueue } from '../src/hybrid/queue.ts'
import { MemoryStore } from '../src/drivers/memory.ts'
import { testContext } from './helpers/context.ts'

const url = await requireService('redis')
const context = testContext()

function asDefinition(driver: CacheDriver): CacheDriverDefinition<never> {
  return { name: driver.name, peers: [], create: () => driver }
}

function serializedMemory(maxItems = 100_000): MemoryStore {
  return new MemoryStore({ maxItems, sweepInterval: 0 }, { storage: 'serialized', onEvict: () => undefined })
}

describe.runIf(url)('hybrid over real Redis', () => {
  describeCacheDriver(
    'hybrid write-through',
    (ns) =>
      createCache({
        envPrefix: false,
        namespace: ns,
        driver: 'hybrid',
        hybrid: { store: 'redis', mode: 'write-through' },
        redis: { url },
      }),
    { shared: true, increment: true, query: false },
  )
  describeCacheDriver(
    'hybrid write-behind',
    (ns) =>
      createCache({
        envPrefix: false,
        namespace: ns,
        driver: 'hybrid',
        hybrid: { store: 'redis', mode: 'write-behind', flushInterval: 5 },
        redis: { url },
      }),
    { shared: 'eventually', increment: false, query: false },
  )
})

describe('write-behind queue', () => {
  it('keeps one write per key in last-write order, and a clear drops its namespace', async () => {
    const q = new WriteQueue(10)
    const v = new Uint8Array([1])
    await q.push({ kind: 'set', namespace: 'a', key: '1', value: v, expiresAt: undefined })
    await q.push({ kind: 'set', namespace: 'b', key: '1', value: v, expiresAt: undefined })
    await q.push({ kind: 'delete', namespace: 'a', key: '1' })
    expect(q.peek(10).map((w) => `${w.kind}:${w.namespace}`)).toEqual(['set:b', 'delete:a'])
    await q.push({ kind: 'set', namespace: 'b:nested', key: '2', value: v, expiresAt: undefined })
    await q.push({ kind: 'clear', namespace: 'b' })
    expect(q.peek(10).map((w) => `${w.kind}:${w.namespace}`)).toEqual(['delete:a', 'clear:b'])
    expect(q.pending('b:nested', '2')?.kind).toBe('clear')
  })

  it('applies back-pressure when full: a writer waits for room, then is refused, never dropped silently', async () => {
    const q = new WriteQueue(2, 50)
    const v = new Uint8Array([1])
    await q.push({ kind: 'set', namespace: 'n', key: '1', value: v, expiresAt: undefined })
    await q.push({ kind: 'set', namespace: 'n', key: '2', value: v, expiresAt: undefined })
    let admitted = false
    const waiting = q
      .push({ kind: 'set', namespace: 'n', key: '3', value: v, expiresAt: undefined })
      .then(() => (admitted = true))
    await Promise.resolve()
    expect(admitted).toBe(false)
    q.done(q.peek(1))
    await waiting
    expect(q.peek(5).map((w) => (w.kind === 'clear' ? '' : w.key))).toEqual(['2', '3'])
    let caught: unknown
    try {
      await q.push({ kind: 'set', namespace: 'n', key: '4', value: v, expiresAt: undefined })
    } catch (err) {
      caught = err
    }
    expect(isBeaverError(caught, 'CACHE_BACKPRESSURE')).toBe(true)
    expect(q.size).toBe(2)
  })
})

describe.runIf(url)('hybrid failover: the store killed (fault proxy) and brought back', () => {
  let proxy: FaultProxy | undefined
  let direct: Cache | undefined
  let cache: Cache | undefined
  afterEach(async () => {
    await proxy?.accept()
    await cache?.close().catch(() => undefined)
    await direct?.clear()
    await direct?.close()
    await proxy?.close()
    proxy = direct = cache = undefined
  })

  async function setUp(ns: string, options: Omit<HybridDriverOptions, 'store' | 'memory'>): Promise<HybridDriver> {
    const u = new URL(url as string)
    proxy = await startFaultProxy({ target: { host: u.hostname, port: Number(u.port) || 6379 } })
    const store = await redisDriver.create(
      { url: proxy.url(url as string), commandTimeout: 300, connectTimeout: 300, maxRetriesPerRequest: 0 },
      context,
    )
    const driver = new HybridDriver({
      ...options,
      store,
      ownsStore: true,
      probeIntervalMs: 50,
      memory: serializedMemory(),
    })
    cache = createCache({ envPrefix: false, namespace: ns, driver: asDefinition(driver), defaultTtl: '10m' })
    direct = createCache({ envPrefix: false, namespace: ns, driver: 'redis', redis: { url } })
    return driver
  }

  /** The store "dies": no new connections, open ones reset (refuse() resolves once they are gone). */
  async function kill(): Promise<void> {
    const refused = proxy?.refuse()
    proxy?.resetAll()
    await refused
  }

  it('write-through: no acknowledged write is lost; writes during the outage are queued and replayed in order', async () => {
    const ns = uniqueNamespace('hyb')
    const driver = await setUp(ns, { mode: 'write-through', flushIntervalMs: 10 })
    const c = cache as Cache
    for (let i = 0; i < 500; i++) await c.set(`k${i}`, i)
    expect(driver.counters().queueDepth).toBe(0)
    await kill()
    // Writes keep being acknowledged (memory + queue); the first failure switches to failover.
    for (let i = 500; i < 1000; i++) await c.set(`k${i}`, i)
    await c.set('k0', 'overwritten during the outage')
    await c.delete('k1')
    expect(driver.counters().store).toBe('down')
    expect(driver.counters().failovers).toBeGreaterThanOrEqual(1)
    // Reads continue against memory.
    expect(await c.get('k999')).toBe(999)
    await proxy?.accept()
    await eventually(() => expect(driver.counters()).toMatchObject({ store: 'up', queueDepth: 0 }), {
      timeoutMs: 20_000,
    })
    const keys = Array.from({ length: 1000 }, (_, i) => `k${i}`)
    const values = await (direct as Cache).getMany(keys)
    expect(values[0]).toBe('overwritten during the outage')
    expect(values[1]).toBeUndefined()
    for (let i = 2; i < 1000; i++) expect(values[i]).toBe(i)
    expect(driver.counters().recoveries).toBeGreaterThanOrEqual(1)
  })

  it('write-behind: all 10,000 writes acknowledged before the outage are in the store after recovery', async () => {
    const ns = uniqueNamespace('hyb')
    // A long flush interval: nothing is flushed before the store goes down.
    const driver = await setUp(ns, { mode: 'write-behind', flushIntervalMs: 60_000, batch: 1000 })
    const c = cache as Cache
    const entries = Array.from({ length: 10_000 }, (_, i) => ({ key: `w${i}`, value: { i } }))
    await c.setMany(entries)
    expect(driver.counters().queueDepth).toBe(10_000)
    await kill()
    const failuresBefore = driver.counters().flushFailures
    const flushError = await driver.flush().then(
      () => undefined,
      (err: unknown) => err,
    )
    // The store's own connection error (the flush is the driver's, below the facade's wrapping).
    expect(flushError).toBeInstanceOf(Error)
    expect(driver.counters()).toMatchObject({ store: 'down', flushFailures: failuresBefore + 1, queueDepth: 10_000 })
    // Memory still answers while the store is down.
    expect(await c.get('w1234')).toEqual({ i: 1234 })
    await proxy?.accept()
    await eventually(() => expect(driver.counters()).toMatchObject({ store: 'up', queueDepth: 0 }), {
      timeoutMs: 30_000,
    })
    const values = await (direct as Cache).getMany(entries.map((e) => e.key))
    expect(values.filter((v, i) => (v as { i: number } | undefined)?.i === i).length).toBe(10_000)
  })

  it('serves reads from memory without store round trips, and counts them', async () => {
    const ns = uniqueNamespace('hyb')
    const driver = await setUp(ns, { mode: 'write-through' })
    const c = cache as Cache
    await c.set('a', 1)
    const before = driver.counters()
    for (let i = 0; i < 10; i++) expect(await c.get('a')).toBe(1)
    const after = driver.counters()
    expect(after.memoryHits - before.memoryHits).toBe(10)
    expect(after.storeReads).toBe(before.storeReads)
  })

  it('close() flushes pending write-behind writes; with the store gone it reports how many were lost', async () => {
    const ns = uniqueNamespace('hyb')
    const driver = await setUp(ns, { mode: 'write-behind', flushIntervalMs: 60_000, closeTimeoutMs: 200 })
    await (cache as Cache).set('x', 1)
    await kill()
    let caught: unknown
    try {
      await (cache as Cache).close()
    } catch (err) {
      caught = err
    }
    expect(isBeaverError(caught, 'CACHE_WRITE_BEHIND_PENDING')).toBe(true)
    expect(driver.counters().queueDepth).toBe(1)
    cache = undefined
  })
})

describe('hybrid over an in-process store', () => {
  it('flushes on close', async () => {
    const store = serializedMemory(100)
    const driver = new HybridDriver({
      store,
      memory: serializedMemory(),
      mode: 'write-behind',
      flushIntervalMs: 60_000,
    })
    const c = createCache({ envPrefix: false, namespace: 'n', driver: asDefinition(driver) })
    await c.set('a', 'A')
    expect(store.get('n', 'a')).toBeUndefined()
    await c.close()
    expect(store.get('n', 'a')).toBeInstanceOf(Uint8Array)
  })

  it('write-behind: flushes batch after batch in write order; a failed batch stays queued and is sent again, nothing after it first', async () => {
    const store = serializedMemory(1000)
    const log: string[] = []
    let failSetManyIn: number | undefined
    const setMany = store.setMany.bind(store)
    store.setMany = (ns, entries) => {
      if (failSetManyIn !== undefined && --failSetManyIn === 0) {
        failSetManyIn = undefined
        throw new Error('store refused the batch')
      }
      log.push(`set ${ns} ${entries.map((e) => e.key).join(',')}`)
      return setMany(ns, entries)
    }
    const deleteMany = store.deleteMany.bind(store)
    store.deleteMany = (ns, keys) => {
      log.push(`delete ${ns} ${keys.join(',')}`)
      return deleteMany(ns, keys)
    }
    const driver = new HybridDriver({
      store,
      memory: serializedMemory(),
      mode: 'write-behind',
      flushIntervalMs: 60_000,
      batch: 3,
    })
    const c = createCache({ envPrefix: false, namespace: 'n', driver: asDefinition(driver) })
    for (const k of ['a', 'b', 'c', 'd']) await c.set(k, k)
    await c.delete('a')
    await c.set('e', 'e')
    await c.set('f', 'f')
    expect(driver.counters().queueDepth).toBe(6)
    // Batches of three, in write order (a's set was superseded by its delete).
    await driver.flush()
    expect(log).toEqual(['set n b,c,d', 'delete n a', 'set n e,f'])
    log.length = 0
    await c.set('g', 'g')
    await c.set('h', 'h')
    await c.delete('g')
    await c.set('i', 'i')
    // The batch [set h, delete g, set i] fails at its last write: h and the delete went, i did
    // not; the whole batch stays queued and is sent again (each write is idempotent).
    failSetManyIn = 2
    await expect(driver.flush()).rejects.toThrow('store refused the batch')
    expect(log).toEqual(['set n h', 'delete n g'])
    expect(driver.counters()).toMatchObject({ queueDepth: 3, flushFailures: 1 })
    expect(store.get('n', 'i')).toBeUndefined()
    log.length = 0
    await driver.flush()
    expect(log).toEqual(['set n h', 'delete n g', 'set n i'])
    expect(driver.counters().queueDepth).toBe(0)
    for (const [k, present] of [
      ['a', false],
      ['b', true],
      ['e', true],
      ['g', false],
      ['h', true],
      ['i', true],
    ] as const)
      expect(store.get('n', k) !== undefined, k).toBe(present)
    await c.close()
  })

  it('write-behind: a queued write whose TTL ran out before the flush is gone for ttl() as for get()', async () => {
    let now = 1_000_000
    const driver = new HybridDriver({
      store: serializedMemory(100),
      memory: serializedMemory(),
      mode: 'write-behind',
      flushIntervalMs: 60_000,
      now: () => now,
    })
    await driver.set('n', 'k', new Uint8Array([1]), 100)
    expect(driver.counters().queueDepth).toBe(1)
    now += 40
    expect(await driver.ttl('n', 'k')).toBe(60)
    now += 100
    expect(await driver.ttl('n', 'k')).toBeUndefined()
    await driver.close()
  })

  it('does not keep in memory a value that expired in the store between its read and its TTL read', async () => {
    const store = serializedMemory(100)
    store.set('n', 'short', new TextEncoder().encode('"v"'), 60_000)
    // The GET saw the value; by the PTTL the key had expired (two separate commands on Redis).
    store.ttl = () => undefined
    const driver = new HybridDriver({ store, memory: serializedMemory(), mode: 'write-through' })
    const c = createCache({ envPrefix: false, namespace: 'n', driver: asDefinition(driver) })
    expect(await c.get('short')).toBe('v')
    store.delete('n', 'short')
    expect(await c.get('short')).toBeUndefined()
    expect(driver.counters().storeReads).toBe(2)
    await c.close()
  })
})
