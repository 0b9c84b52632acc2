// The cache conformance suite: every @beaver-kit/cache driver runs all of it against its real
// store. The subject is typed structurally so the testkit does not depend on the cache package.
import { afterEach, expect, it } from 'vitest'
import { isBeaverError } from '@beaver-kit/core'
import { defineConformanceSuite } from './conformance.ts'
import { eventually } from './eventually.ts'

type Ttl = number | string
interface Opts {
  ttl?: Ttl
  signal?: AbortSignal
}
interface LoaderCtx {
  key: string
  signal: AbortSignal
  skip(): void
  setTtl(ttl: Ttl): void
}

/** What the suite needs from a cache (the public API of `@beaver-kit/cache`'s `Cache`). */
export interface ConformanceCache {
  get(key: string, options?: Opts): Promise<unknown>
  set(key: string, value: unknown, options?: Opts): Promise<void>
  has(key: string): Promise<boolean>
  delete(key: string): Promise<boolean>
  pull(key: string): Promise<unknown>
  clear(): Promise<void>
  ttl(key: string): Promise<number | undefined>
  touch(key: string, ttl?: Ttl): Promise<boolean>
  increment(key: string, by?: number, options?: Opts): Promise<number>
  decrement(key: string, by?: number, options?: Opts): Promise<number>
  getMany(keys: readonly string[]): Promise<unknown[]>
  setMany(entries: ReadonlyArray<{ key: string; value: unknown; ttl?: Ttl }>, options?: Opts): Promise<void>
  deleteMany(keys: readonly string[]): Promise<number>
  getOrSet<T>(
    key: string,
    loader: (ctx: LoaderCtx) => T | Promise<T>,
    options?: Opts & { negativeTtl?: Ttl; forceFresh?: boolean },
  ): Promise<T>
  getOrSetMany<T>(
    keys: readonly string[],
    loader: (
      missing: string[],
    ) => Promise<ReadonlyMap<string, T> | Readonly<Record<string, T>> | ReadonlyArray<T | undefined>>,
    options?: Opts & { negativeTtl?: Ttl },
  ): Promise<Array<T | undefined>>
  namespace(name: string): ConformanceCache
  stats(): {
    hits: number
    misses: number
    sets: number
    deletes: number
    namespaces: Record<string, { hits: number; misses: number }>
  }
  entries(query?: {
    prefix?: string
    updatedSince?: Date
    limit?: number
  }): Promise<Array<{ key: string; value: unknown; updatedAt: Date }>>
  readonly namespaceName: string
  close(): Promise<void>
}

/** What a driver declares to the suite. */
export interface CacheSuiteOptions {
  /**
   * Whether `another()` (a second cache on the same store) sees this one's writes: `true` at
   * once, `'eventually'` after a delay (write-behind), `false` never (the in-process memory driver).
   */
  shared: boolean | 'eventually'
  /** Atomic increment is supported (else the suite expects CACHE_UNSUPPORTED). */
  increment: boolean
  /** `entries()` query support. */
  query: boolean
  /** Short TTL used by the expiry tests, ms (stores with second-granularity expiry need more). */
  shortTtlMs?: number
}

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  let caught: unknown
  try {
    await promise
  } catch (err) {
    caught = err
  }
  expect(caught, `expected a rejection with ${code}`).toBeDefined()
  expect(
    isBeaverError(caught, code),
    `expected ${code}, got ${String((caught as { code?: unknown })?.code ?? caught)}`,
  ).toBe(true)
}

/**
 * Writes an entry with a short TTL under `base:<attempt>`, asserts it was stored (`read()`
 * gives `expected`) while its TTL cannot have run out yet, then polls until it is gone, and
 * returns the key. On a loaded machine a read that comes after the TTL proves nothing either
 * way, so the write is tried again under a fresh key; a driver that drops short-TTL writes
 * never shows the entry and fails.
 */
async function expectStoredThenGone(
  base: string,
  ttlMs: number,
  write: (key: string) => Promise<unknown>,
  read: (key: string) => Promise<unknown>,
  expected: unknown,
): Promise<string> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const key = `${base}:${attempt}`
    const start = performance.now()
    await write(key)
    const got = await read(key)
    if (performance.now() - start >= ttlMs) continue
    expect(got, 'the entry read back before its TTL ran out').toEqual(expected)
    await eventually(async () => expect(await read(key)).not.toEqual(expected), { timeoutMs: 10_000 })
    return key
  }
  throw new Error(`no write-and-read finished within the ${ttlMs} ms TTL in 20 attempts`)
}

/**
 * Runs the whole cache conformance suite for one driver.
 * @example describeCacheDriver('redis', (ns) => createCache({ driver: 'redis', namespace: ns, envPrefix: false }), { shared: true, increment: true, query: false })
 */
export const describeCacheDriver = defineConformanceSuite<ConformanceCache, CacheSuiteOptions>('cache', (ctx) => {
  const c = (): ConformanceCache => ctx.subject()

  // Leave nothing behind in shared stores: each test clears its own namespace before the
  // subject is closed (after-hooks run in reverse order of registration).
  afterEach(async () => {
    await c()
      .clear()
      .catch(() => undefined)
  })
  const shortTtl = (): number => ctx.options.shortTtlMs ?? 60

  it('misses, then round-trips values of every JSON-able and rich type', async () => {
    expect(await c().get('nothing')).toBeUndefined()
    const values: Record<string, unknown> = {
      string: 'hello',
      empty: '',
      number: 42.5,
      zero: 0,
      negative: -7,
      null: null,
      boolean: false,
      array: [1, 'two', null, { three: 3 }],
      object: { a: 1, nested: { b: [true, false] } },
      date: new Date('2024-02-29T12:34:56.789Z'),
      bigint: 12345678901234567890n,
      map: new Map<unknown, unknown>([
        ['k', 1],
        [2, { x: new Date(0) }],
      ]),
      set: new Set(['a', 'b', 3]),
      bytes: new Uint8Array([0, 1, 2, 254, 255]),
      tagLike: { $t: 'Date', v: 'not a date' },
      deep: { list: [new Map([['inner', new Set([1n])]])] },
    }
    for (const [key, value] of Object.entries(values)) await c().set(key, value)
    for (const [key, value] of Object.entries(values)) {
      const back = await c().get(key)
      if (value instanceof Uint8Array) expect(new Uint8Array(back as Uint8Array)).toEqual(value)
      else expect(back, key).toEqual(value)
    }
  })

  it('overwrites a value and its TTL', async () => {
    await c().set('k', 'first', { ttl: '1h' })
    await c().set('k', { second: true }, { ttl: Infinity })
    expect(await c().get('k')).toEqual({ second: true })
    expect(await c().ttl('k')).toBe(Infinity)
  })

  it('expires entries after their TTL (polled, no fixed sleep) and reports the remaining TTL', async () => {
    await c().set('long', 'v', { ttl: '1h' })
    const short = await expectStoredThenGone(
      'short',
      shortTtl(),
      (key) => c().set(key, 'v', { ttl: shortTtl() }),
      (key) => c().get(key),
      'v',
    )
    expect(await c().has(short)).toBe(false)
    expect(await c().ttl(short)).toBeUndefined()
    expect(await c().get('long')).toBe('v')
  })

  it('touch() extends or removes an expiry; has(), delete() and pull() answer truthfully', async () => {
    // A TTL no loaded machine outlives between the two calls, so touch() finds the entry.
    await c().set('t', 1, { ttl: '30s' })
    expect(await c().touch('t', '1h')).toBe(true)
    const extended = await c().ttl('t')
    expect(extended).toBeGreaterThan(3_500_000)
    expect(extended).toBeLessThanOrEqual(3_600_000)
    expect(await c().touch('t', Infinity)).toBe(true)
    expect(await c().ttl('t')).toBe(Infinity)
    expect(await c().touch('missing', '1h')).toBe(false)
    expect(await c().has('t')).toBe(true)
    expect(await c().delete('t')).toBe(true)
    expect(await c().delete('t')).toBe(false)
    expect(await c().has('t')).toBe(false)
    await c().set('p', { v: 1 })
    expect(await c().pull('p')).toEqual({ v: 1 })
    expect(await c().pull('p')).toBeUndefined()
  })

  it('batches: getMany answers missing and duplicate keys in order; setMany keeps the last duplicate; deleteMany counts', async () => {
    expect(await c().getMany([])).toEqual([])
    await c().setMany([
      { key: 'a', value: 1 },
      { key: 'b', value: 'two', ttl: '1h' },
      { key: 'a', value: 'a-last' },
      { key: 'c', value: { three: 3 } },
    ])
    expect(await c().getMany(['a', 'missing', 'b', 'a', 'c'])).toEqual([
      'a-last',
      undefined,
      'two',
      'a-last',
      { three: 3 },
    ])
    expect(await c().deleteMany(['a', 'a', 'missing', 'c'])).toBe(2)
    expect(await c().getMany(['a', 'b', 'c'])).toEqual([undefined, 'two', undefined])
    const many = Array.from({ length: 250 }, (_, i) => ({ key: `bulk:${i}`, value: { i } }))
    await c().setMany(many, { ttl: '10m' })
    const back = await c().getMany(many.map((e) => e.key))
    expect(back).toEqual(many.map((e) => e.value))
  })

  it('keeps namespaces apart and clear() removes only its own namespace and those nested in it', async () => {
    const users = c().namespace('users')
    const admins = users.namespace('admins')
    const posts = c().namespace('posts')
    await c().set('id', 'root')
    await users.set('id', 'user')
    await admins.set('id', 'admin')
    await posts.set('id', 'post')
    expect(await users.get('id')).toBe('user')
    expect(await admins.get('id')).toBe('admin')
    expect(await posts.get('id')).toBe('post')
    expect(await c().get('id')).toBe('root')
    await users.clear()
    expect(await users.get('id')).toBeUndefined()
    expect(await admins.get('id')).toBeUndefined()
    expect(await posts.get('id')).toBe('post')
    expect(await c().get('id')).toBe('root')
    await c().clear()
    expect(await posts.get('id')).toBeUndefined()
    expect(await c().get('id')).toBeUndefined()
  })

  it("encodes keys so no two (namespace, key) pairs share a stored entry, and clear() of a:b spares a's b:x", async () => {
    // Pairs that a naive "<namespace><separator><key>" encoding stores under one name.
    const pairs: Array<[string, string]> = [
      ['users', 'admin:1'],
      ['users:admin', '1'],
      ['users:admin', ':1'],
      ['a', 'b:x'],
      ['a:b', 'x'],
      ['a/b', 'x'],
      ['a', 'b/x'],
      ['a', 'b::x'],
      ['a%2Fb', 'x'],
      ['a', 'b#x'],
      ['a#b', 'x'],
    ]
    const views = pairs.map(([ns, key]) => ({ view: c().namespace(ns), key, value: `${ns}|${key}` }))
    for (const { view, key, value } of views) await view.set(key, value)
    await c().set('users:admin:1', 'root|users:admin:1')
    for (const { view, key, value } of views) expect(await view.get(key), value).toBe(value)
    expect(await c().get('users:admin:1')).toBe('root|users:admin:1')
    // Clearing namespace a:b removes its own key (and nested ones), never a's key b:x.
    const nested = c().namespace('a:b:c')
    await nested.set('x', 'a:b:c|x')
    await c().namespace('a:b').clear()
    expect(await c().namespace('a:b').get('x')).toBeUndefined()
    expect(await nested.get('x')).toBeUndefined()
    expect(await c().namespace('a').get('b:x')).toBe('a|b:x')
    expect(await c().namespace('a').get('b::x')).toBe('a|b::x')
    expect(await c().namespace('a/b').get('x')).toBe('a/b|x')
    expect(await c().namespace('users').get('admin:1')).toBe('users|admin:1')
    // Deleting one of two would-be aliases leaves the other.
    expect(await c().namespace('users').delete('admin:1')).toBe(true)
    expect(await c().namespace('users:admin').get('1')).toBe('users:admin|1')
  })

  if (!ctx.options.shared)
    it('does not see the entries of another instance (an in-process store), nor another namespace', async () => {
      const other = await ctx.another()
      await c().set('mine', 1)
      expect(await other.get('mine')).toBeUndefined()
      expect(await c().namespace('elsewhere').get('mine')).toBeUndefined()
    })
  ctx.itIf(ctx.options.shared !== false, 'an in-process store: a second instance has its own entries')(
    ctx.options.shared === 'eventually'
      ? 'a second instance on the same store sees its writes eventually (write-behind), and not another namespace'
      : 'a second instance on the same store shares its entries at once, and not another namespace',
    async () => {
      const same = await ctx.another()
      await c().set('shared', 'yes')
      if (ctx.options.shared === 'eventually')
        await eventually(async () => expect(await same.get('shared')).toBe('yes'), { timeoutMs: 10_000 })
      else expect(await same.get('shared')).toBe('yes')
      const sibling = same.namespace('elsewhere')
      expect(await sibling.get('shared')).toBeUndefined()
    },
  )

  it('getOrSet: 1,000 concurrent callers of a cold key share one loader call', async () => {
    let calls = 0
    const loader = async (): Promise<{ n: number }> => {
      calls++
      await new Promise((r) => setTimeout(r, 20))
      return { n: 7 }
    }
    const results = await Promise.all(Array.from({ length: 1000 }, () => c().getOrSet('cold', loader, { ttl: '1m' })))
    expect(calls).toBe(1)
    expect(results.every((r) => r.n === 7)).toBe(true)
    expect(await c().get('cold')).toEqual({ n: 7 })
    expect(await c().getOrSet('cold', loader)).toEqual({ n: 7 })
    expect(calls).toBe(1)
  })

  it('getOrSet: a failing loader rejects every waiter and caches nothing', async () => {
    let calls = 0
    const boom = async (): Promise<never> => {
      calls++
      await new Promise((r) => setTimeout(r, 5))
      throw new Error('loader failed')
    }
    const settled = await Promise.allSettled(Array.from({ length: 20 }, () => c().getOrSet('fails', boom)))
    expect(calls).toBe(1)
    expect(settled.every((s) => s.status === 'rejected' && (s.reason as Error).message === 'loader failed')).toBe(true)
    expect(await c().has('fails')).toBe(false)
    expect(await c().getOrSet('fails', () => 'now ok')).toBe('now ok')
  })

  it('negative caching remembers "not found" for its own TTL, distinct from "do not cache"', async () => {
    let calls = 0
    const notFound = (): undefined => {
      calls++
      return undefined
    }
    expect(await c().getOrSet('ghost', notFound, { negativeTtl: '1h' })).toBeUndefined()
    expect(await c().getOrSet('ghost', notFound, { negativeTtl: '1h' })).toBeUndefined()
    expect(calls).toBe(1)
    expect(await c().get('ghost')).toBeUndefined()
    expect(await c().has('ghost')).toBe(false)
    // Without negativeTtl nothing is remembered.
    expect(await c().getOrSet('ghost2', notFound)).toBeUndefined()
    expect(await c().getOrSet('ghost2', notFound)).toBeUndefined()
    expect(calls).toBe(3)
    // skip(): returned to the caller, never cached.
    expect(await c().getOrSet('skipped', (l) => (l.skip(), 'temporary'))).toBe('temporary')
    expect(await c().has('skipped')).toBe(false)
    // A negative entry is remembered (the loader is not called again), then expires on its own TTL.
    const briefCalls = new Map<string, number>()
    const brief = (l: LoaderCtx): string | undefined => {
      const n = (briefCalls.get(l.key) ?? 0) + 1
      briefCalls.set(l.key, n)
      return n === 1 ? undefined : 'found'
    }
    const brieflyMissing = await expectStoredThenGone(
      'brief',
      shortTtl(),
      (key) => c().getOrSet(key, brief, { negativeTtl: shortTtl() }),
      async (key) => {
        await c().getOrSet(key, brief)
        return briefCalls.get(key)
      },
      1,
    )
    expect(await c().get(brieflyMissing)).toBe('found')
  })

  it('getOrSetMany: one batch read, one loader call for the misses, results in key order', async () => {
    await c().set('u:1', { id: 1 })
    const seen: string[][] = []
    const loader = async (missing: string[]): Promise<Map<string, { id: number }>> => {
      seen.push(missing)
      return new Map(missing.filter((k) => k !== 'u:404').map((k) => [k, { id: Number(k.slice(2)) }]))
    }
    const out = await c().getOrSetMany(['u:1', 'u:2', 'u:404', 'u:3', 'u:2'], loader, { ttl: '1m', negativeTtl: '1m' })
    expect(out).toEqual([{ id: 1 }, { id: 2 }, undefined, { id: 3 }, { id: 2 }])
    expect(seen).toEqual([['u:2', 'u:404', 'u:3']])
    const again = await c().getOrSetMany(['u:3', 'u:404', 'u:2'], loader, { negativeTtl: '1m' })
    expect(again).toEqual([{ id: 3 }, undefined, { id: 2 }])
    expect(seen).toHaveLength(1)
  })

  it('stores large and unicode keys and values', async () => {
    const key = `ключ:🦫:${'é'.repeat(400)}`
    const value = { text: '日本語 🦫 '.repeat(20_000), emoji: '👩‍👩‍👧' }
    await c().set(key, value)
    expect(await c().get(key)).toEqual(value)
    expect(await c().getMany([key, 'ü'])).toEqual([value, undefined])
  })

  it('rejects invalid keys and TTLs with CacheError', async () => {
    await rejectsWithCode(c().get(''), 'CACHE_KEY_INVALID')
    await rejectsWithCode(c().set('x'.repeat(100_000), 1), 'CACHE_KEY_INVALID')
    await rejectsWithCode(c().get(42 as unknown as string), 'CACHE_KEY_INVALID')
    await rejectsWithCode(c().getMany(['ok', '']), 'CACHE_KEY_INVALID')
    for (const ttl of [-1, 0, Number.NaN, 'soon', '-5m'])
      await rejectsWithCode(c().set('k', 1, { ttl }), 'CACHE_TTL_INVALID')
    await rejectsWithCode(c().set('k', undefined), 'CACHE_SERIALIZE')
    expect(await c().has('k')).toBe(false)
  })

  if (!ctx.options.increment)
    it('refuses increment and decrement with CACHE_UNSUPPORTED (no atomic increment)', async () => {
      await rejectsWithCode(c().increment('n'), 'CACHE_UNSUPPORTED')
      await rejectsWithCode(c().decrement('n'), 'CACHE_UNSUPPORTED')
      expect(await c().has('n')).toBe(false)
    })
  ctx.itIf(ctx.options.increment, 'no atomic increment on this driver (refused with CACHE_UNSUPPORTED)')(
    'increments atomically',
    async () => {
      expect(await c().increment('n')).toBe(1)
      expect(await c().increment('n', 10)).toBe(11)
      expect(await c().decrement('n', 3)).toBe(8)
      const parallel = await Promise.all(Array.from({ length: 50 }, () => c().increment('n')))
      expect(new Set(parallel).size).toBe(50)
      expect(await c().get('n')).toBe(58)
      expect(await c().increment('fresh', 5, { ttl: '1h' })).toBe(5)
      expect(await c().ttl('fresh')).toBeGreaterThan(3_000_000)
      await c().set('text', 'abc')
      await rejectsWithCode(c().increment('text'), 'CACHE_NOT_A_NUMBER')
    },
  )

  it('counts hits, misses, sets and deletes per namespace', async () => {
    const ns = c().namespace('stats')
    await ns.set('a', 1)
    await ns.get('a')
    await ns.get('b')
    await ns.delete('a')
    const s = c().stats().namespaces[ns.namespaceName]
    expect(s).toMatchObject({ hits: 1, misses: 1 })
    // A fresh cache per test: these four calls are all it counted.
    expect(c().stats()).toMatchObject({ hits: 1, misses: 1, sets: 1, deletes: 1 })
  })

  if (!ctx.options.query)
    it('refuses entries() queries with CACHE_UNSUPPORTED', async () => {
      await rejectsWithCode(c().entries(), 'CACHE_UNSUPPORTED')
    })
  ctx.itIf(ctx.options.query, 'no entries() queries on this driver (refused with CACHE_UNSUPPORTED)')(
    'answers audit-style entries() queries',
    async () => {
      const before = new Date(Date.now() - 1000)
      await c().setMany([
        { key: 'audit:1', value: 1 },
        { key: 'audit:2', value: 2 },
        { key: 'other', value: 3 },
      ])
      const rows = await c().entries({ prefix: 'audit:', updatedSince: before, limit: 10 })
      expect(rows.map((r) => r.key).sort()).toEqual(['audit:1', 'audit:2'])
      expect(rows.map((r) => r.value).sort()).toEqual([1, 2])
      expect(await c().entries({ prefix: 'audit:', limit: 1 })).toHaveLength(1)
      expect(await c().entries({ updatedSince: new Date(Date.now() + 60_000) })).toHaveLength(0)
    },
  )

  it('closes idempotently and refuses calls afterwards', async () => {
    const own = await ctx.another()
    await own.set('x', 1)
    await own.close()
    await own.close()
    await rejectsWithCode(own.get('x'), 'CACHE_CLOSED')
    await rejectsWithCode(own.set('x', 2), 'CACHE_CLOSED')
  })
})
