// Side-by-side benchmark of @beaver-kit/cache on the kit's one harness (@beaver-kit/testkit/bench):
//   memory: get hit (sync and async API), get miss, set, evict-heavy set against lru-cache,
//           bentocache (memory), cache-manager and a bare Map (the floor)
//   getOrSet with 1,000 concurrent callers on a cold key (loader calls counted)
//   redis:  getMany/setMany of 100 keys and a single get at 1/16/100 in flight against raw ioredis
//   heap bytes per entry for 100,000 small entries; hit ratio of SIEVE and LRU on a Zipf trace
// Run: npm run bench -w @beaver-kit/cache   (BENCH_QUICK=1 for a short smoke run that writes nothing)
import { setImmediate as tick } from 'node:timers/promises'
import { do_not_optimize } from 'mitata'
import { LRUCache } from 'lru-cache'
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver as bentoMemory } from 'bentocache/drivers/memory'
import { createCache as createCacheManager } from 'cache-manager'
import { Redis } from 'ioredis'
import { isQuick, runBench, type BenchCase, type GoalResult } from '@beaver-kit/testkit/bench'
import { createCache } from '@beaver-kit/cache'
import { rng, zipf } from './workload.ts'

const QUICK = isQuick()
const N = 10_000
const TTL = 3_600_000
const REDIS_URL = process.env.BEAVER_TEST_REDIS_URL || 'redis://127.0.0.1:6379'

// Keys visited in a random order (lru-cache's "get2"), through a power-of-two ring.
const keys = Array.from({ length: N }, (_, i) => `key:${i}`)
const RING = 1 << 14
const pick = rng(1)
const order = Array.from({ length: RING }, () => keys[Math.floor(pick() * N)] as string)
const missKeys = Array.from({ length: RING }, (_, i) => `missing:${i}`)
const value = { id: 1, name: 'beaver', tags: ['a', 'b'] }
let at = 0
const nextKey = (): string => order[at++ & (RING - 1)] as string
const nextMiss = (): string => missKeys[at++ & (RING - 1)] as string

const ours = createCache({ envPrefix: false, namespace: 'bench', memory: { maxItems: N, sweepInterval: 0 } })
const oursLru = createCache({
  envPrefix: false,
  namespace: 'bench',
  memory: { maxItems: N, sweepInterval: 0, policy: 'lru' },
})
const lruTtl = new LRUCache<string, object>({ max: N, ttl: TTL })
const lruPlain = new LRUCache<string, object>({ max: N })
const map = new Map<string, object>()
const bento = new BentoCache({
  default: 'memory',
  stores: { memory: bentostore().useL1Layer(bentoMemory({ maxItems: N, serialize: false })) },
})
const manager = createCacheManager({ ttl: TTL })

for (const k of keys) {
  ours.setSync(k, value, { ttl: TTL })
  oursLru.setSync(k, value, { ttl: TTL })
  lruTtl.set(k, value)
  lruPlain.set(k, value)
  map.set(k, value)
  await bento.set({ key: k, value, ttl: TTL })
  await manager.set(k, value, TTL)
}

// Every evict-heavy set is a new key into a full cache, so every one evicts. It writes into
// caches of its own: into the ones the get cases read, it would push their keys out, and
// from the second round on "get hit" would measure misses (all of them for an LRU).
const fresh = Array.from({ length: 1 << 18 }, (_, i) => `fresh:${i}`)
let f = 0
const nextFresh = (): string => fresh[f++ & ((1 << 18) - 1)] as string
const evictMap = new Map(map)
const evictOurs = createCache({ envPrefix: false, namespace: 'bench', memory: { maxItems: N, sweepInterval: 0 } })
const evictOursLru = createCache({
  envPrefix: false,
  namespace: 'bench',
  memory: { maxItems: N, sweepInterval: 0, policy: 'lru' },
})
const evictLru = new LRUCache<string, object>({ max: N, ttl: TTL })
for (const k of keys) {
  evictOurs.setSync(k, value, { ttl: TTL })
  evictOursLru.setSync(k, value, { ttl: TTL })
  evictLru.set(k, value)
}

// The floor of the memory cases is a bare Map (awaited for the async API); of the Redis
// cases, the raw ioredis call with JSON.parse/stringify.
const memoryCases: BenchCase[] = [
  {
    name: 'memory get hit (sync)',
    contenders: [
      { contender: 'beaver-kit', variant: 'sieve', fn: () => do_not_optimize(ours.getSync(nextKey())) },
      { contender: 'beaver-kit', variant: 'lru', fn: () => do_not_optimize(oursLru.getSync(nextKey())) },
      { contender: 'lru-cache', variant: 'ttl', fn: () => do_not_optimize(lruTtl.get(nextKey())) },
      { contender: 'lru-cache', variant: 'no ttl', fn: () => do_not_optimize(lruPlain.get(nextKey())) },
      { contender: 'floor', fn: () => do_not_optimize(map.get(nextKey())) },
    ],
  },
  {
    name: 'memory get hit (async API)',
    contenders: [
      { contender: 'beaver-kit', fn: async () => do_not_optimize(await ours.get(nextKey())) },
      { contender: 'bentocache', fn: async () => do_not_optimize(await bento.get({ key: nextKey() })) },
      { contender: 'cache-manager', fn: async () => do_not_optimize(await manager.get(nextKey())) },
      { contender: 'floor', fn: async () => do_not_optimize(await Promise.resolve(map.get(nextKey()))) },
    ],
  },
  {
    name: 'memory get miss (sync)',
    contenders: [
      { contender: 'beaver-kit', variant: 'sieve', fn: () => do_not_optimize(ours.getSync(nextMiss())) },
      { contender: 'lru-cache', variant: 'ttl', fn: () => do_not_optimize(lruTtl.get(nextMiss())) },
      { contender: 'floor', fn: () => do_not_optimize(map.get(nextMiss())) },
    ],
  },
  {
    name: 'memory get miss (async API)',
    contenders: [
      { contender: 'beaver-kit', fn: async () => do_not_optimize(await ours.get(nextMiss())) },
      { contender: 'bentocache', fn: async () => do_not_optimize(await bento.get({ key: nextMiss() })) },
      { contender: 'cache-manager', fn: async () => do_not_optimize(await manager.get(nextMiss())) },
      { contender: 'floor', fn: async () => do_not_optimize(await Promise.resolve(map.get(nextMiss()))) },
    ],
  },
  {
    name: 'memory set, update (sync)',
    contenders: [
      { contender: 'beaver-kit', variant: 'sieve', fn: () => ours.setSync(nextKey(), value, { ttl: TTL }) },
      { contender: 'lru-cache', variant: 'ttl', fn: () => lruTtl.set(nextKey(), value) },
      { contender: 'floor', fn: () => map.set(nextKey(), value) },
    ],
  },
  {
    name: 'memory set, update (async API)',
    contenders: [
      { contender: 'beaver-kit', fn: () => ours.set(nextKey(), value, { ttl: TTL }) },
      { contender: 'bentocache', fn: () => bento.set({ key: nextKey(), value, ttl: TTL }) },
      { contender: 'cache-manager', fn: () => manager.set(nextKey(), value, TTL) },
    ],
  },
  {
    name: 'memory evict-heavy set (sync)',
    contenders: [
      { contender: 'beaver-kit', variant: 'sieve', fn: () => evictOurs.setSync(nextFresh(), value, { ttl: TTL }) },
      { contender: 'beaver-kit', variant: 'lru', fn: () => evictOursLru.setSync(nextFresh(), value, { ttl: TTL }) },
      { contender: 'lru-cache', variant: 'ttl', fn: () => evictLru.set(nextFresh(), value) },
      {
        contender: 'floor',
        fn: () => {
          evictMap.set(nextFresh(), value)
          if (evictMap.size > N) evictMap.delete(evictMap.keys().next().value as string)
        },
      },
    ],
  },
]

// ---- getOrSet: 1,000 concurrent callers of one cold key ----------------------------------
const loaderCalls = new Map<string, { calls: number; keys: number }>()
let cold = 0
function stampede(
  label: string,
  call: (key: string, loader: () => Promise<object>) => Promise<unknown>,
): () => Promise<void> {
  const count = { calls: 0, keys: 0 }
  loaderCalls.set(label, count)
  const loader = async (): Promise<object> => {
    count.calls++
    await tick()
    return value
  }
  return async () => {
    const key = `cold:${cold++}`
    count.keys++
    await Promise.all(Array.from({ length: 1000 }, () => call(key, loader)))
  }
}
const stampedeCache = createCache({
  envPrefix: false,
  namespace: 'stampede',
  memory: { maxItems: 100_000, sweepInterval: 0 },
})
const lruFetch = new LRUCache<string, object, () => Promise<object>>({
  max: 100_000,
  ttl: TTL,
  fetchMethod: (_key, _stale, { context }) => context(),
})
const stampedeCase: BenchCase = {
  name: 'getOrSet, 1,000 callers of a cold key',
  opsPerCall: 1000,
  contenders: [
    {
      contender: 'beaver-kit',
      fn: stampede('beaver-kit', (key, loader) => stampedeCache.getOrSet(key, loader, { ttl: TTL })),
    },
    {
      contender: 'bentocache',
      fn: stampede('bentocache', (key, loader) => bento.getOrSet({ key, factory: loader, ttl: TTL })),
    },
    { contender: 'cache-manager', fn: stampede('cache-manager', (key, loader) => manager.wrap(key, loader, TTL)) },
    {
      contender: 'lru-cache',
      variant: 'ttl',
      fn: stampede('lru-cache (fetch)', (key, loader) => lruFetch.fetch(key, { context: loader })),
    },
  ],
}

// ---- Redis: the same server and ioredis version for the kit and the raw calls --------------
const raw = new Redis(REDIS_URL)
const redisCache = createCache({
  envPrefix: false,
  driver: 'redis',
  redis: { url: REDIS_URL },
  namespace: `bench_${process.pid}`,
})
await redisCache.ready()
const rkeys = Array.from({ length: 100 }, (_, i) => `k${i}`)
// The Redis key of each cache key, read back from Redis itself so the floor reads the same keys.
await redisCache.setMany(rkeys.map((key) => ({ key, value, ttl: TTL })))
const stored = (await raw.keys(`bench_${process.pid}*`)).sort()
const full = rkeys.map((k) => stored.find((s) => s.endsWith(`:${k}`)) as string)
if (full.some((k) => k === undefined)) throw new Error('bench: the Redis keys of the cache were not found')
const parse = (b: Buffer | null): unknown => (b === null ? undefined : JSON.parse(b.toString('utf8')))
const parseText = (s: string | null): unknown => (s === null ? undefined : JSON.parse(s))
const entries = rkeys.map((key) => ({ key, value, ttl: TTL }))
const redisCases: BenchCase[] = [
  {
    name: 'redis getMany, 100 keys',
    opsPerCall: 100,
    latency: true,
    contenders: [
      { contender: 'beaver-kit', fn: () => redisCache.getMany(rkeys) },
      { contender: 'floor', fn: async () => (await raw.mget(...full)).map(parseText) },
      {
        contender: 'floor',
        variant: 'pipeline',
        fn: async () => {
          const p = raw.pipeline()
          for (const k of full) p.getBuffer(k)
          return ((await p.exec()) ?? []).map(([, v]) => parse(v as Buffer | null))
        },
      },
    ],
  },
  {
    name: 'redis setMany, 100 keys',
    opsPerCall: 100,
    latency: true,
    contenders: [
      { contender: 'beaver-kit', fn: () => redisCache.setMany(entries) },
      {
        contender: 'floor',
        fn: async () => {
          const p = raw.pipeline()
          for (const k of full) p.set(k, JSON.stringify(value), 'PX', TTL)
          await p.exec()
        },
      },
    ],
  },
  ...[1, 16, 100].map((inflight): BenchCase => {
    const batch = Array.from({ length: inflight }, (_, i) => rkeys[i % 100] as string)
    const batchFull = batch.map((_, i) => full[i % 100] as string)
    return {
      name: `redis get, ${inflight} in flight`,
      opsPerCall: inflight,
      latency: true,
      contenders: [
        { contender: 'beaver-kit', fn: () => Promise.all(batch.map((k) => redisCache.get(k))) },
        {
          contender: 'floor',
          fn: () => Promise.all(batchFull.map(async (k) => parseText(await raw.get(k)))),
        },
      ],
    }
  }),
]
const redisStampede = createCache({
  envPrefix: false,
  driver: 'redis',
  redis: { url: REDIS_URL },
  namespace: `bench_${process.pid}_cold`,
})
redisCases.push({
  name: 'getOrSet over Redis, 1,000 callers of a cold key',
  opsPerCall: 1000,
  contenders: [
    {
      contender: 'beaver-kit',
      fn: stampede('beaver-kit (redis)', (key, loader) => redisStampede.getOrSet(key, loader, { ttl: 60_000 })),
    },
  ],
})

// ---- heap bytes per entry, hit ratio (measured once, outside the rounds) -------------------
function heapPerEntry(): Record<string, number> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (!gc) throw new Error('bench: run with --expose-gc (npm run bench does)')
  const M = 100_000
  const hk = Array.from({ length: M }, (_, i) => `user:${i}`)
  const hv = Array.from({ length: M }, (_, i) => ({ id: i }))
  const measure = (fill: () => unknown): number => {
    gc()
    gc()
    const before = process.memoryUsage().heapUsed
    const holder = fill()
    gc()
    gc()
    const bytes = (process.memoryUsage().heapUsed - before) / M
    do_not_optimize(holder)
    return Math.round(bytes)
  }
  return {
    'beaver-kit (ttl)': measure(() => {
      const c = createCache({ envPrefix: false, memory: { maxItems: M, sweepInterval: 0 } })
      for (let i = 0; i < M; i++) c.setSync(hk[i] as string, hv[i], { ttl: TTL })
      return c
    }),
    'lru-cache (ttl)': measure(() => {
      const c = new LRUCache<string, object>({ max: M, ttl: TTL })
      for (let i = 0; i < M; i++) c.set(hk[i] as string, hv[i] as object)
      return c
    }),
    'floor (Map)': measure(() => {
      const c = new Map<string, object>()
      for (let i = 0; i < M; i++) c.set(hk[i] as string, hv[i] as object)
      return c
    }),
  }
}

function hitRatios(): Record<string, number> {
  const K = 20_000
  const next = zipf(K, 0.9, rng(42))
  const trace = Array.from({ length: QUICK ? 60_000 : 300_000 }, () => `z:${next()}`)
  const ratio = (get: (k: string) => unknown, set: (k: string) => void): number => {
    let hits = 0
    for (const k of trace) {
      if (get(k) !== undefined) hits++
      else set(k)
    }
    return Number((hits / trace.length).toFixed(4))
  }
  const sieve = createCache({ envPrefix: false, memory: { maxItems: 1000, sweepInterval: 0 } })
  const lru = createCache({ envPrefix: false, memory: { maxItems: 1000, sweepInterval: 0, policy: 'lru' } })
  const lc = new LRUCache<string, number>({ max: 1000 })
  return {
    'beaver-kit (sieve)': ratio(
      (k) => sieve.getSync(k),
      (k) => sieve.setSync(k, 1),
    ),
    'beaver-kit (lru)': ratio(
      (k) => lru.getSync(k),
      (k) => lru.setSync(k, 1),
    ),
    'lru-cache': ratio(
      (k) => lc.get(k),
      (k) => void lc.set(k, 1),
    ),
  }
}

// The get-hit cases measured hits to the end: nothing else wrote into their caches.
function checkHitsKept(): void {
  const missing = keys.filter((k) => ours.getSync(k) === undefined || lruTtl.get(k) === undefined)
  if (missing.length > 0) throw new Error(`bench: ${missing.length} keys of the get-hit cases were evicted`)
}

const heap = heapPerEntry()
const hits = hitRatios()

try {
  await runBench({
    package: 'cache',
    url: import.meta.url,
    cases: [...memoryCases, stampedeCase, ...redisCases],
    goals: [
      {
        goal: 'memory sync get ≥ 1.0x lru-cache (ttl)',
        case: 'memory get hit (sync)',
        of: { contender: 'beaver-kit', variant: 'sieve' },
        over: { contender: 'lru-cache', variant: 'ttl' },
        target: 1,
      },
      { goal: 'memory async get ≥ 5x bentocache', case: 'memory get hit (async API)', over: 'bentocache', target: 5 },
      {
        goal: 'memory async get ≥ 3x cache-manager',
        case: 'memory get hit (async API)',
        over: 'cache-manager',
        target: 3,
      },
      {
        goal: 'redis getMany(100) ≥ 0.9x raw MGET + JSON.parse',
        case: 'redis getMany, 100 keys',
        over: 'floor',
        target: 0.9,
      },
      {
        goal: 'redis setMany(100) ≥ 0.9x raw pipelined SET PX',
        case: 'redis setMany, 100 keys',
        over: 'floor',
        target: 0.9,
      },
      ...[1, 16, 100].map((n) => ({
        goal: `redis get (${n} in flight) ≥ 0.9x raw GET + JSON.parse`,
        case: `redis get, ${n} in flight`,
        over: 'floor',
        target: 0.9,
      })),
    ],
    extraGoals: (): GoalResult[] => {
      checkHitsKept()
      const perKey = (label: string): number => {
        const c = loaderCalls.get(label) as { calls: number; keys: number }
        return c.keys === 0 ? Number.NaN : c.calls / c.keys
      }
      const ours = heap['beaver-kit (ttl)'] as number
      const lru = heap['lru-cache (ttl)'] as number
      return [
        ...['beaver-kit', 'beaver-kit (redis)'].map((label) => ({
          goal: `getOrSet: loader calls per cold key, 1,000 callers (${label === 'beaver-kit' ? 'memory' : 'redis'})`,
          value: perKey(label),
          target: 1,
          met: perKey(label) === 1,
        })),
        {
          goal: 'heap bytes per entry ≤ 1.0x lru-cache (ttl), 100,000 entries',
          value: Number((ours / lru).toFixed(2)),
          target: 1,
          met: ours <= lru,
        },
      ]
    },
    notes: () => [
      `Heap bytes per entry, 100,000 small entries: ${Object.entries(heap)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}.`,
      `Hit ratio, capacity 1,000 over 20,000 keys, Zipf(0.9) trace (get, set on a miss): ${Object.entries(hits)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}.`,
      `Loader calls per cold key with 1,000 concurrent callers: ${[...loaderCalls]
        .map(([k, c]) => `${k} ${(c.calls / Math.max(1, c.keys)).toFixed(2)}`)
        .join(', ')}.`,
      'floor: a bare Map in the memory cases (awaited for the async API); in the Redis cases the raw ioredis call (MGET, GET, a pipeline of SET PX) with JSON.parse/stringify, on the same server and client version; floor (pipeline): GETs in one pipeline.',
    ],
  })
} finally {
  await redisCache.clear().catch(() => undefined)
  await redisStampede.clear().catch(() => undefined)
  await Promise.all([
    ours.close(),
    oursLru.close(),
    evictOurs.close(),
    evictOursLru.close(),
    stampedeCache.close(),
    redisCache.close(),
    redisStampede.close(),
  ])
  await bento.disconnect()
  await manager.disconnect()
  await raw.quit().catch(() => raw.disconnect())
}
