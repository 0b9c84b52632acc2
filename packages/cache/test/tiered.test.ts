import dc from 'node:diagnostics_channel'
import { afterEach, describe, expect, it } from 'vitest'
import { describeCacheDriver } from '@beaver-kit/testkit/cache'
import { eventually, requireService, uniqueNamespace } from '@beaver-kit/testkit'
import { isBeaverError } from '@beaver-kit/core'
import { createCache, type Cache, type CacheOptions } from '@beaver-kit/cache'
import { MemoryStore } from '../src/drivers/memory.ts'
import { TieredDriver } from '../src/tiered/driver.ts'
import { AdaptiveStrategy, BasicStrategy, type TierStrategy } from '../src/tiered/strategy.ts'
import { FrequencySketch } from '../src/tiered/sketch.ts'
import { decodeEnvelope, encodeEnvelope } from '../src/tiered/envelope.ts'
import { topTierHitRatio } from '../bench/workload.ts'

const redisUrl = await requireService('redis')

describe.runIf(redisUrl)('tiered (memory over real Redis)', () => {
  for (const strategy of ['adaptive', 'basic'] as const) {
    describeCacheDriver(
      `tiered memory+redis (${strategy})`,
      (ns) =>
        createCache({
          envPrefix: false,
          namespace: ns,
          driver: 'tiered',
          tiered: { tiers: ['memory', 'redis'], strategy },
          redis: { url: redisUrl },
        }),
      { shared: true, increment: true, query: false },
    )
  }
})

describeCacheDriver(
  'tiered memory+memory',
  (ns) =>
    createCache({
      envPrefix: false,
      namespace: ns,
      driver: 'tiered',
      tiered: { tiers: ['memory', 'memory'], strategy: 'adaptive' },
    }),
  { shared: false, increment: true, query: false },
)

/** A tiered cache over two memory tiers, configured as the tests need. */
function tiered(tieredOptions: NonNullable<CacheOptions['tiered']> = {}, namespace = uniqueNamespace('g')): Cache {
  return createCache({
    envPrefix: false,
    namespace,
    driver: 'tiered',
    tiered: { tiers: ['memory', 'memory'], ...tieredOptions },
  })
}

describe('tier strategies', () => {
  it('the frequency sketch counts, saturates at 15 and ages', () => {
    const sketch = new FrequencySketch(16)
    for (let i = 0; i < 20; i++) sketch.increment('hot')
    expect(sketch.estimate('hot')).toBe(15)
    expect(sketch.estimate('never')).toBeLessThanOrEqual(1)
    // Enough other additions trigger aging, which halves the hot key's count.
    for (let i = 0; i < 2000; i++) sketch.increment(`other-${i}`)
    expect(sketch.estimate('hot')).toBeLessThan(15)
  })

  it('adaptive keeps the hot set in a small top tier where basic thrashes (Zipf 0.9 + 25% scan, 20,000 keys, top tier 500)', async () => {
    // Zipf(0.9) reads mixed with one-off scan keys (one read in four).
    const run = { capacity: 500, keyCount: 20_000, reads: 60_000, scanShare: 0.25, seed: 42 }
    const basic = await topTierHitRatio(new BasicStrategy(), run)
    const adaptive = await topTierHitRatio(new AdaptiveStrategy({ capacity: 5000 }), run)
    console.info(
      `[tiered] top-tier hit ratio: basic ${(basic * 100).toFixed(1)}%, adaptive ${(adaptive * 100).toFixed(1)}%`,
    )
    expect(adaptive).toBeGreaterThan(basic * 1.2)
  })

  it('demotes entries leaving the top tier into the tier below under writes=top', async () => {
    const top = new MemoryStore({ maxItems: 10, sweepInterval: 0 }, { storage: 'reference', onEvict: () => undefined })
    const bottom = new MemoryStore(
      { maxItems: 100, sweepInterval: 0 },
      { storage: 'serialized', onEvict: () => undefined },
    )
    const demoting: TierStrategy = new AdaptiveStrategy()
    expect(demoting.shouldDemote('x', 0)).toBe(true)
    const d2 = new TieredDriver({
      tiers: [{ driver: top, capacity: 3 }, { driver: bottom }],
      strategy: demoting,
      writes: 'top',
    })
    for (const k of ['a', 'b', 'c']) await d2.set('ns', k, new Uint8Array([1]), undefined)
    // Make "d" more frequent than the residents so adaptive admits it.
    for (let i = 0; i < 5; i++) await d2.read('ns', 'd')
    await d2.set('ns', 'd', new Uint8Array([2]), undefined)
    const m = d2.metrics()
    expect(m.tiers[0]?.totals.demotions).toBe(1)
    expect(m.tiers[1]?.totals.writes).toBe(1)
    // The demoted entry is still readable (from the lower tier).
    const values = await Promise.all(['a', 'b', 'c'].map((k) => d2.read('ns', k)))
    expect(values.every((v) => v !== undefined)).toBe(true)
    await d2.close()
  })

  it('envelope bytes round-trip with tags and Infinity', () => {
    const e = {
      payload: new Uint8Array([1, 2, 3]),
      freshUntil: Infinity,
      staleUntil: Infinity,
      createdAt: 1234.5,
      tags: ['a', 'ünïcode'],
    }
    const back = decodeEnvelope(encodeEnvelope(e))
    expect(back).toEqual({ ...e, payload: new Uint8Array([1, 2, 3]) })
    let caught: unknown
    try {
      decodeEnvelope(new Uint8Array([1, 2, 3]))
    } catch (err) {
      caught = err
    }
    expect(isBeaverError(caught, 'CACHE_DESERIALIZE')).toBe(true)
  })

  it('an envelope without tags has the documented bytes (the pooled-Buffer path), read back from a Buffer or a Uint8Array', () => {
    const e = { payload: new Uint8Array([7, 8]), freshUntil: 1.5e12, staleUntil: Infinity, createdAt: 99.25, tags: [] }
    const bytes = encodeEnvelope(e)
    const expected = new Uint8Array(30)
    const view = new DataView(expected.buffer)
    expected.set([0xb7, 0x01])
    view.setFloat64(2, 1.5e12)
    view.setFloat64(10, Infinity)
    view.setFloat64(18, 99.25)
    view.setUint16(26, 0)
    expected.set([7, 8], 28)
    expect([...bytes]).toEqual([...expected])
    expect(decodeEnvelope(Buffer.from(bytes))).toEqual({ ...e, payload: Buffer.from([7, 8]) })
    expect(decodeEnvelope(new Uint8Array(bytes))).toEqual({ ...e, payload: new Uint8Array([7, 8]) })
  })
})

describe('grace, timeouts, tags (memory over memory)', () => {
  let cache: Cache | undefined
  afterEach(async () => {
    await cache?.close()
    cache = undefined
  })
  const make = (): Cache => (cache = tiered())

  it('serves stale within grace while one background refresh runs (SWR), then the fresh value', async () => {
    const c = make()
    let calls = 0
    expect(await c.getOrSet('k', () => ++calls, { ttl: 30, grace: '1h' })).toBe(1)
    await eventually(async () => expect(await c.get('k')).toBeUndefined())
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const loader = async (): Promise<number> => {
      await gate
      return ++calls
    }
    // Two callers during the refresh both get the stale value at once; one refresh runs.
    expect(
      await Promise.all([
        c.getOrSet('k', loader, { ttl: '1h', grace: '1h' }),
        c.getOrSet('k', loader, { ttl: '1h', grace: '1h' }),
      ]),
    ).toEqual([1, 1])
    release()
    await eventually(async () => expect(await c.get('k')).toBe(2))
    expect(calls).toBe(2)
  })

  it('serves stale when the loader fails, and rejects when nothing is in grace', async () => {
    const c = make()
    await c.getOrSet('k', () => 'old', { ttl: 30, grace: '1h' })
    await eventually(async () => expect(await c.get('k')).toBeUndefined())
    const fail = (): never => {
      throw new Error('db down')
    }
    expect(await c.getOrSet('k', fail, { staleWhileRevalidate: false })).toBe('old')
    await expect(c.getOrSet('other', fail)).rejects.toThrow('db down')
  })

  it('soft timeout serves stale while the loader continues; hard timeout rejects with CACHE_LOADER_TIMEOUT', async () => {
    const c = make()
    await c.getOrSet('k', () => 'old', { ttl: 30, grace: '1h' })
    await eventually(async () => expect(await c.get('k')).toBeUndefined())
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const slow = async (): Promise<string> => {
      await gate
      return 'new'
    }
    expect(await c.getOrSet('k', slow, { staleWhileRevalidate: false, softTimeout: 20, ttl: '1h' })).toBe('old')
    release()
    await eventually(async () => expect(await c.get('k')).toBe('new'))
    let caught: unknown
    try {
      await c.getOrSet('cold', () => new Promise<string>(() => undefined), { loaderTimeout: 20 })
    } catch (err) {
      caught = err
    }
    expect(isBeaverError(caught, 'CACHE_LOADER_TIMEOUT')).toBe(true)
  })

  it('tags: hard invalidation makes entries misses, soft keeps them for grace', async () => {
    const c = make()
    await c.set('a', 1, { tags: ['t1'], ttl: '1h', grace: '1h' })
    await c.set('b', 2, { tags: ['t2'], ttl: '1h', grace: '1h' })
    await c.set('c', 3, { tags: ['t1', 't2'], ttl: '1h', grace: '1h' })
    await c.invalidateTags(['t1'], { mode: 'hard' })
    expect(await c.get('a')).toBeUndefined()
    expect(await c.get('c')).toBeUndefined()
    expect(await c.get('b')).toBe(2)
    expect(await c.getOrSet('a', () => 10, { tags: ['t1'] })).toBe(10)
    expect(await c.get('a')).toBe(10)
    await c.invalidateTags(['t2'], { mode: 'soft' })
    expect(await c.get('b')).toBeUndefined()
    expect(await c.getOrSet('b', () => Promise.reject(new Error('down')), { staleWhileRevalidate: false })).toBe(2)
    // A namespace's tags are its own.
    const other = c.namespace('other')
    await other.set('a', 'o', { tags: ['t1'] })
    await c.invalidateTags(['t1'])
    expect(await other.get('a')).toBe('o')
  })

  it('answers L1 hits on the fast path with copies (serialized memory storage), counts them, and sees overwrites, deletes and close', async () => {
    const c = (cache = createCache({
      envPrefix: false,
      namespace: uniqueNamespace('copies'),
      driver: 'tiered',
      tiered: { tiers: ['memory', 'memory'] },
      memory: { storage: 'serialized' },
    }))
    await c.set('k', { n: 1 })
    await c.ready()
    const first = await c.get<{ n: number }>('k')
    const second = await c.get<{ n: number }>('k')
    expect(first).toEqual({ n: 1 })
    expect(first).not.toBe(second)
    first!.n = 99
    expect(await c.get('k')).toEqual({ n: 1 })
    expect(c.stats().hits).toBe(3)
    await c.set('k', { n: 2 })
    expect(await c.get('k')).toEqual({ n: 2 })
    await c.delete('k')
    expect(await c.get('k')).toBeUndefined()
    await c.set('k', 1)
    await c.close()
    const err = await c.get('k').catch((e: unknown) => e)
    expect(isBeaverError(err, 'CACHE_CLOSED')).toBe(true)
    cache = undefined
  })

  it('shares the value decoded on the first L1 hit with later hits by default (memory storage reference), never the object given to set', async () => {
    const c = make()
    const given = { n: 1, list: [1, 2] }
    await c.set('k', given)
    await c.ready()
    given.n = 2 // after set: not seen, the tier holds the serialized value
    const first = await c.get<{ n: number; list: number[] }>('k')
    expect(first).toEqual({ n: 1, list: [1, 2] })
    expect(first).not.toBe(given)
    expect(await c.get('k')).toBe(first)
    expect(c.stats().hits).toBe(2)
    // An overwrite, a delete and a tag invalidation each drop the shared value.
    await c.set('k', { n: 3 })
    const third = await c.get<{ n: number }>('k')
    expect(third).toEqual({ n: 3 })
    expect(third).not.toBe(first)
    await c.set('t', { v: 1 }, { tags: ['team'], ttl: '1h' })
    expect(await c.get('t')).toEqual({ v: 1 }) // learns the tag's times (read through the tiers)
    const tagged = await c.get('t')
    expect(await c.get('t')).toBe(tagged)
    await c.invalidateTags(['team'])
    expect(await c.get('t')).toBeUndefined()
    await c.delete('k')
    expect(await c.get('k')).toBeUndefined()
    // A negative entry stays a miss when shared.
    expect(await c.getOrSet('absent', () => undefined, { negativeTtl: '1h' })).toBeUndefined()
    expect(await c.get('absent')).toBeUndefined()
    expect(await c.get('absent')).toBeUndefined()
  })

  it('L1 hits on the fast path keep the strategy and residency informed: a key read often survives the CLOCK', async () => {
    const strategy = new AdaptiveStrategy({ capacity: 1000 })
    const c = (cache = tiered({ strategy, topCapacity: 2 }, uniqueNamespace('hot')))
    await c.ready()
    await c.set('hot', 'h')
    for (let i = 0; i < 5; i++) expect(await c.get('hot')).toBe('h')
    expect(strategy.frequency(`${c.namespaceName}\u0000hot`)).toBeGreaterThanOrEqual(5)
    expect(c.stats().tiers?.tiers[0]?.totals.hits).toBe(5)

    // Basic admission lets every candidate in, so only the used bits decide the victim.
    const basic = tiered({ strategy: 'basic', topCapacity: 2 }, uniqueNamespace('clock'))
    try {
      await basic.ready()
      await basic.set('hot', 'h')
      await basic.set('cold', 'c')
      expect(await basic.get('hot')).toBe('h')
      await basic.set('new', 'n')
      const hits = (): number[] => basic.stats().tiers?.tiers.map((t) => t.totals.hits) ?? []
      const before = hits()
      // "hot" kept its place (the hit set its bit); "cold" was the victim and is read from below.
      expect(await basic.get('hot')).toBe('h')
      expect(await basic.get('cold')).toBe('c')
      const after = hits()
      expect([(after[0] as number) - (before[0] as number), (after[1] as number) - (before[1] as number)]).toEqual([
        1, 1,
      ])
    } finally {
      await basic.close()
    }
  })

  it('the fast path counts a negative entry as a miss, honours tags once their times are known, and sees invalidations', async () => {
    const c = make()
    await c.ready()
    expect(await c.getOrSet('absent', () => undefined, { negativeTtl: '1h' })).toBeUndefined()
    const misses = c.stats().misses
    expect(await c.get('absent')).toBeUndefined()
    expect(c.stats().misses).toBe(misses + 1)
    await c.set('t', { v: 1 }, { tags: ['team'], ttl: '1h' })
    for (let i = 0; i < 3; i++) expect(await c.get('t')).toEqual({ v: 1 })
    await c.invalidateTags(['team'], { mode: 'soft' })
    expect(await c.get('t')).toBeUndefined()
    await c.set('t', { v: 2 }, { tags: ['team'], ttl: '1h' })
    expect(await c.get('t')).toEqual({ v: 2 })
    await c.invalidateTags(['team'])
    expect(await c.get('t')).toBeUndefined()
    const hitsBefore = c.stats().hits
    await c.set('plain', 'p')
    expect(await c.get('plain')).toBe('p')
    expect(c.stats().hits).toBe(hitsBefore + 1)
  })

  it('warms keys from a loader with bounded concurrency and counts what was already fresh', async () => {
    const c = make()
    await c.set('k1', 'already')
    let running = 0
    let most = 0
    async function* keys(): AsyncGenerator<string> {
      for (let i = 1; i <= 20; i++) yield `k${i}`
    }
    // The first loads wait until three run at once (or 2 s pass): a limit of 3 must reach 3, never 4.
    let threeRunning!: () => void
    const gate = new Promise<void>((resolve) => (threeRunning = resolve))
    const gateTimer = setTimeout(threeRunning, 2000)
    const result = await c.warm(
      keys(),
      async (key) => {
        running++
        most = Math.max(most, running)
        if (running === 3) threeRunning()
        await gate
        await new Promise((resolve) => setImmediate(resolve))
        running--
        return key.toUpperCase()
      },
      { concurrency: 3 },
    )
    clearTimeout(gateTimer)
    expect(result).toMatchObject({ loaded: 19, skipped: 1, failed: 0 })
    expect(most).toBe(3)
    expect(await c.get('k7')).toBe('K7')
    expect(await c.get('k1')).toBe('already')
  })

  it('preload() copies keys found in a lower tier into the top one and reports its progress', async () => {
    const reference = (): MemoryStore =>
      new MemoryStore({ maxItems: 100, sweepInterval: 0 }, { storage: 'reference', onEvict: () => undefined })
    const bottom = new MemoryStore(
      { maxItems: 100, sweepInterval: 0 },
      { storage: 'serialized', onEvict: () => undefined },
    )
    const over = (): Cache =>
      createCache({
        envPrefix: false,
        namespace: 'pre',
        driver: {
          name: 'tiered',
          peers: [],
          create: () =>
            new TieredDriver({ tiers: [{ driver: reference() }, { driver: bottom }], strategy: new BasicStrategy() }),
        },
      })
    const writer = over()
    for (let i = 1; i <= 5; i++) await writer.set(`k${i}`, i)
    // Another process: its top tier is empty, the lower tier is shared.
    const reader = over()
    const progress: unknown[] = []
    const onWarm = (m: unknown): void => void progress.push(m)
    dc.subscribe('beaver:cache:warm', onWarm)
    try {
      expect(await reader.preload(['k1', 'k2', 'k3', 'k4', 'k5', 'missing'])).toBe(5)
    } finally {
      dc.unsubscribe('beaver:cache:warm', onWarm)
    }
    expect(progress).toEqual([{ namespace: 'pre', loaded: 5, skipped: 0, failed: 0, requested: 6 }])
    const topHits = (): number | undefined => reader.stats().tiers?.tiers[0]?.totals.hits
    const before = topHits() as number
    expect(await reader.get('k3')).toBe(3)
    expect(topHits()).toBe(before + 1)
    expect(await reader.preload([])).toBe(0)
    await reader.close()
    await writer.close()
  })
})
