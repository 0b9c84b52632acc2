// Side-by-side benchmark of @beaver-kit/cache, in one process and one run:
//   memory: get hit / get miss / set / evict-heavy set vs lru-cache, bentocache (memory),
//           cache-manager and a bare Map (the floor); sync path and public async API
//   redis:  getMany/setMany of 100 keys vs raw ioredis, single get at 1/16/100 in flight
//   getOrSet with 1,000 concurrent callers on a cold key (loader calls counted)
//   heap bytes per entry for 100,000 small entries; hit ratio of SIEVE vs LRU on a Zipf trace
// Run: npm run bench -w @beaver-kit/cache   (BENCH_QUICK=1 for a short smoke run)
import { writeFileSync } from 'node:fs'
import os from 'node:os'
import { setImmediate as tick } from 'node:timers/promises'
import { do_not_optimize, measure } from 'mitata'
import { LRUCache } from 'lru-cache'
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver as bentoMemory } from 'bentocache/drivers/memory'
import { createCache as createCacheManager } from 'cache-manager'
import { Redis } from 'ioredis'
import { createCache } from '@beaver-kit/cache'

const QUICK = process.env.BENCH_QUICK === '1'
const MIN_CPU_NS = QUICK ? 30e6 : 500e6
const N = 10_000
const ONLY = process.env.BENCH_ONLY
const REDIS_URL = process.env.BEAVER_TEST_REDIS_URL || 'redis://127.0.0.1:6379'

interface Result {
  case: string
  contender: string
  opsPerSec: number
  p99Ms?: number
  loaderCalls?: number
}
const results: Result[] = []
const heap: Array<{ contender: string; bytesPerEntry: number }> = []
const hitRatios: Array<{ contender: string; hitRatio: number }> = []

async function bench(name: string, contender: string, fn: () => unknown, opsPerCall = 1): Promise<Result> {
  const s = await measure(fn, { min_cpu_time: MIN_CPU_NS })
  const r: Result = {
    case: name,
    contender,
    opsPerSec: Math.round((opsPerCall * 1e9) / s.avg),
    p99Ms: Number((s.p99 / 1e6).toFixed(4)),
  }
  results.push(r)
  console.log(
    `  ${name.padEnd(36)} ${contender.padEnd(28)} ${r.opsPerSec.toLocaleString('en-US').padStart(14)} ops/s   p99 ${r.p99Ms} ms`,
  )
  return r
}

// Per-round rates of the network cases, so that a ratio is taken within each round (the two
// contenders ran back to back) and the median of those is reported: load that comes and goes
// on a shared 2-core machine, Redis included, then weighs on both sides of each ratio alike.
const roundRates = new Map<string, Map<string, number[]>>()

function ratio(caseName: string, ours: string, other: string): number {
  const paired = roundRates.get(caseName)
  const x = paired?.get(ours)
  const y = paired?.get(other)
  if (x !== undefined && y !== undefined) {
    const perRound = x.map((v, i) => v / (y[i] as number)).sort((p, q) => p - q)
    return perRound[Math.floor(perRound.length / 2)] as number
  }
  const a = results.find((r) => r.case === caseName && r.contender === ours)
  const b = results.find((r) => r.case === caseName && r.contender === other)
  return a && b ? a.opsPerSec / b.opsPerSec : Number.NaN
}

// Keys visited in a random order (lru-cache's "get2"), through a power-of-two ring.
const keys = Array.from({ length: N }, (_, i) => `key:${i}`)
const RING = 1 << 14
const order = Array.from({ length: RING }, () => keys[Math.floor(Math.random() * N)] as string)
const missKeys = Array.from({ length: RING }, (_, i) => `missing:${i}`)
const value = { id: 1, name: 'beaver', tags: ['a', 'b'] }
let at = 0
const nextKey = (): string => order[at++ & (RING - 1)] as string
const nextMiss = (): string => missKeys[at++ & (RING - 1)] as string

const TTL = 3_600_000
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

console.log(
  `\n@beaver-kit/cache benchmark  node ${process.version}  ${os.cpus()[0]?.model ?? 'cpu?'} x${os.cpus().length}${QUICK ? '  (BENCH_QUICK)' : ''}\n`,
)
if (!ONLY || ONLY === 'memory') {
  console.log('memory, 10,000 entries')
  await bench('memory get hit (sync)', 'beaver-kit getSync (sieve)', () => do_not_optimize(ours.getSync(nextKey())))
  await bench('memory get hit (sync)', 'beaver-kit getSync (lru)', () => do_not_optimize(oursLru.getSync(nextKey())))
  await bench('memory get hit (sync)', 'lru-cache (ttl)', () => do_not_optimize(lruTtl.get(nextKey())))
  await bench('memory get hit (sync)', 'lru-cache (no ttl)', () => do_not_optimize(lruPlain.get(nextKey())))
  await bench('memory get hit (sync)', 'floor: Map', () => do_not_optimize(map.get(nextKey())))

  await bench('memory get hit (async API)', 'beaver-kit get', async () => do_not_optimize(await ours.get(nextKey())))
  await bench('memory get hit (async API)', 'bentocache', async () =>
    do_not_optimize(await bento.get({ key: nextKey() })),
  )
  await bench('memory get hit (async API)', 'cache-manager', async () => do_not_optimize(await manager.get(nextKey())))
  // The floor of an async API: one await of a value that is already there.
  await bench('memory get hit (async API)', 'floor: await Map.get', async () =>
    do_not_optimize(await Promise.resolve(map.get(nextKey()))),
  )

  await bench('memory get miss', 'beaver-kit getSync', () => do_not_optimize(ours.getSync(nextMiss())))
  await bench('memory get miss', 'beaver-kit get', async () => do_not_optimize(await ours.get(nextMiss())))
  await bench('memory get miss', 'lru-cache (ttl)', () => do_not_optimize(lruTtl.get(nextMiss())))
  await bench('memory get miss', 'bentocache', async () => do_not_optimize(await bento.get({ key: nextMiss() })))
  await bench('memory get miss', 'cache-manager', async () => do_not_optimize(await manager.get(nextMiss())))
  await bench('memory get miss', 'floor: Map', () => do_not_optimize(map.get(nextMiss())))

  await bench('memory set (update)', 'beaver-kit setSync', () => ours.setSync(nextKey(), value, { ttl: TTL }))
  await bench('memory set (update)', 'beaver-kit set', async () => ours.set(nextKey(), value, { ttl: TTL }))
  await bench('memory set (update)', 'lru-cache (ttl)', () => lruTtl.set(nextKey(), value))
  await bench('memory set (update)', 'bentocache', async () => bento.set({ key: nextKey(), value, ttl: TTL }))
  await bench('memory set (update)', 'cache-manager', async () => manager.set(nextKey(), value, TTL))
  await bench('memory set (update)', 'floor: Map', () => map.set(nextKey(), value))

  // Every set is a new key into a full cache, so every set evicts.
  const fresh = Array.from({ length: 1 << 18 }, (_, i) => `fresh:${i}`)
  let f = 0
  const nextFresh = (): string => fresh[f++ & ((1 << 18) - 1)] as string
  const evictMap = new Map(map)
  await bench('memory evict-heavy set', 'beaver-kit setSync (sieve)', () =>
    ours.setSync(nextFresh(), value, { ttl: TTL }),
  )
  await bench('memory evict-heavy set', 'beaver-kit setSync (lru)', () =>
    oursLru.setSync(nextFresh(), value, { ttl: TTL }),
  )
  await bench('memory evict-heavy set', 'lru-cache (ttl)', () => lruTtl.set(nextFresh(), value))
  await bench('memory evict-heavy set', 'bentocache', async () => bento.set({ key: nextFresh(), value, ttl: TTL }))
  await bench('memory evict-heavy set', 'floor: Map (+delete oldest)', () => {
    evictMap.set(nextFresh(), value)
    if (evictMap.size > N) evictMap.delete(evictMap.keys().next().value as string)
  })
}

// ---- getOrSet: 1,000 concurrent callers of one cold key ----------------------------------
console.log('\ngetOrSet, 1,000 concurrent callers on a cold key')
let round = 0
async function stampede(
  contender: string,
  call: (key: string, loader: () => Promise<object>) => Promise<unknown>,
): Promise<void> {
  let calls = 0
  let rounds = 0
  const loader = async (): Promise<object> => {
    calls++
    await tick()
    return value
  }
  const r = await bench(
    'getOrSet 1,000 callers, cold key',
    contender,
    async () => {
      const key = `cold:${round++}`
      rounds++
      await Promise.all(Array.from({ length: 1000 }, () => call(key, loader)))
    },
    1000,
  )
  r.loaderCalls = calls / rounds
  console.log(`    loader calls per cold key: ${r.loaderCalls}`)
}
const stampedeCache = createCache({
  envPrefix: false,
  namespace: 'stampede',
  memory: { maxItems: 100_000, sweepInterval: 0 },
})
await stampede('beaver-kit (memory)', (key, loader) => stampedeCache.getOrSet(key, loader, { ttl: TTL }))
await stampede('bentocache (memory)', (key, loader) => bento.getOrSet({ key, factory: loader, ttl: TTL }))
await stampede('cache-manager wrap', (key, loader) => manager.wrap(key, loader, TTL))
const lruFetch = new LRUCache<string, object, () => Promise<object>>({
  max: 100_000,
  ttl: TTL,
  fetchMethod: (_key, _stale, { context }) => context(),
})
await stampede('lru-cache fetch', (key, loader) => lruFetch.fetch(key, { context: loader }))

// ---- Redis ------------------------------------------------------------------------------
// Network cases interleave the contenders in rounds (the order rotating) and keep the median
// round, so that load from other work on a shared machine hits every contender alike; goals
// use the median of the per-round ratios (see ratio()).
async function duel(name: string, contenders: Array<[string, () => Promise<unknown>, number]>): Promise<void> {
  const rounds = QUICK ? 3 : 15
  const windowMs = QUICK ? 150 : 300
  const rates = new Map<string, number[]>()
  const latencies = new Map<string, number[]>()
  for (let r = 0; r < rounds; r++) {
    for (let c = 0; c < contenders.length; c++) {
      const [contender, fn, perCall] = contenders[(c + r) % contenders.length] as [
        string,
        () => Promise<unknown>,
        number,
      ]
      const lat = latencies.get(contender) ?? []
      latencies.set(contender, lat)
      let calls = 0
      const start = performance.now()
      let now = start
      while (now - start < windowMs) {
        const t0 = now
        await fn()
        now = performance.now()
        lat.push(now - t0)
        calls++
      }
      const list = rates.get(contender) ?? []
      list.push((calls * perCall * 1000) / (now - start))
      rates.set(contender, list)
    }
  }
  roundRates.set(name, rates)
  for (const [contender] of contenders) {
    const sorted = [...(rates.get(contender) as number[])].sort((a, b) => a - b)
    const lat = [...(latencies.get(contender) as number[])].sort((a, b) => a - b)
    const r: Result = {
      case: name,
      contender,
      opsPerSec: Math.round(sorted[Math.floor(sorted.length / 2)] as number),
      p99Ms: Number((lat[Math.floor(lat.length * 0.99)] as number).toFixed(3)),
    }
    results.push(r)
    console.log(
      `  ${name.padEnd(36)} ${contender.padEnd(28)} ${r.opsPerSec.toLocaleString('en-US').padStart(14)} ops/s   p99 ${r.p99Ms} ms`,
    )
  }
}

if (!ONLY || ONLY === 'redis') {
  console.log('\nredis (same server, same ioredis version, default client options; median of interleaved rounds)')
  const raw = new Redis(REDIS_URL)
  const redisCache = createCache({
    envPrefix: false,
    driver: 'redis',
    redis: { url: REDIS_URL },
    namespace: `bench_${process.pid}`,
  })
  const redisStampede = createCache({
    envPrefix: false,
    driver: 'redis',
    redis: { url: REDIS_URL },
    namespace: `bench_${process.pid}_cold`,
  })
  try {
    await redisCache.ready()
    const rkeys = Array.from({ length: 100 }, (_, i) => `k${i}`)
    const full = rkeys.map((k) => `${redisCache.namespaceName}:${k}`)
    await redisCache.setMany(rkeys.map((key) => ({ key, value, ttl: TTL })))
    const parse = (b: Buffer | null): unknown => (b === null ? undefined : JSON.parse(b.toString('utf8')))

    await duel('redis getMany 100 keys', [
      ['beaver-kit getMany', () => redisCache.getMany(rkeys), 100],
      ['raw ioredis MGET + JSON.parse', async () => (await raw.mgetBuffer(...full)).map(parse), 100],
      [
        'raw ioredis pipeline GET',
        async () => {
          const p = raw.pipeline()
          for (const k of full) p.getBuffer(k)
          return ((await p.exec()) ?? []).map(([, v]) => parse(v as Buffer | null))
        },
        100,
      ],
    ])
    const entries = rkeys.map((key) => ({ key, value, ttl: TTL }))
    await duel('redis setMany 100 keys', [
      ['beaver-kit setMany', () => redisCache.setMany(entries), 100],
      [
        'raw ioredis pipeline SET PX',
        async () => {
          const p = raw.pipeline()
          for (const k of full) p.set(k, JSON.stringify(value), 'PX', TTL)
          await p.exec()
        },
        100,
      ],
    ])
    for (const inflight of [1, 16, 100]) {
      const batch = Array.from({ length: inflight }, (_, i) => rkeys[i % 100] as string)
      const batchFull = batch.map((k) => `${redisCache.namespaceName}:${k}`)
      await duel(`redis get, ${inflight} in flight`, [
        ['beaver-kit get', () => Promise.all(batch.map((k) => redisCache.get(k))), inflight],
        [
          'raw ioredis GET + JSON.parse',
          () => Promise.all(batchFull.map(async (k) => parse(await raw.getBuffer(k)))),
          inflight,
        ],
      ])
    }
    await stampede('beaver-kit (redis)', (key, loader) => redisStampede.getOrSet(key, loader, { ttl: 60_000 }))
    await redisCache.clear()
    await redisStampede.clear()
  } catch (err) {
    console.log(`  redis cases skipped: ${(err as Error).message}`)
  } finally {
    await redisCache.close()
    await redisStampede.close()
    await raw.quit().catch(() => raw.disconnect())
  }
}

// ---- heap bytes per entry ----------------------------------------------------------------
console.log('\nheap bytes per entry, 100,000 small entries (keys and values allocated beforehand)')
const gc = (globalThis as { gc?: () => void }).gc
if (gc) {
  const M = 100_000
  const hk = Array.from({ length: M }, (_, i) => `user:${i}`)
  const hv = Array.from({ length: M }, (_, i) => ({ id: i }))
  const measureHeap = (contender: string, fill: () => unknown): void => {
    gc()
    gc()
    const before = process.memoryUsage().heapUsed
    const holder = fill()
    gc()
    gc()
    const bytes = (process.memoryUsage().heapUsed - before) / M
    do_not_optimize(holder)
    heap.push({ contender, bytesPerEntry: Math.round(bytes) })
    console.log(`  ${contender.padEnd(36)} ${Math.round(bytes)} bytes/entry`)
  }
  measureHeap('beaver-kit memory (ttl)', () => {
    const c = createCache({ envPrefix: false, memory: { maxItems: M, sweepInterval: 0 } })
    for (let i = 0; i < M; i++) c.setSync(hk[i] as string, hv[i], { ttl: TTL })
    return c
  })
  measureHeap('lru-cache (ttl)', () => {
    const c = new LRUCache<string, object>({ max: M, ttl: TTL })
    for (let i = 0; i < M; i++) c.set(hk[i] as string, hv[i] as object)
    return c
  })
  measureHeap('lru-cache (no ttl)', () => {
    const c = new LRUCache<string, object>({ max: M })
    for (let i = 0; i < M; i++) c.set(hk[i] as string, hv[i] as object)
    return c
  })
  measureHeap('floor: Map', () => {
    const c = new Map<string, object>()
    for (let i = 0; i < M; i++) c.set(hk[i] as string, hv[i] as object)
    return c
  })
} else console.log('  skipped: run with --expose-gc (npm run bench does)')

// ---- hit ratio: SIEVE vs LRU on a Zipf(0.9) trace ---------------------------------------------
console.log('\nhit ratio, capacity 1,000 over 20,000 keys, Zipf(0.9) trace of 300,000 reads (get, set on miss)')
{
  const K = 20_000
  const weights = Array.from({ length: K }, (_, i) => 1 / (i + 1) ** 0.9)
  const total = weights.reduce((a, b) => a + b, 0)
  const cdf: number[] = []
  let acc = 0
  for (const w of weights) cdf.push((acc += w / total))
  let seed = 42
  const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648
  const trace = Array.from({ length: QUICK ? 60_000 : 300_000 }, () => {
    const x = rand()
    let lo = 0
    let hi = K - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((cdf[mid] as number) < x) lo = mid + 1
      else hi = mid
    }
    return `z:${lo}`
  })
  const ratioOf = (contender: string, get: (k: string) => unknown, set: (k: string) => void): void => {
    let hits = 0
    for (const k of trace) {
      if (get(k) !== undefined) hits++
      else set(k)
    }
    hitRatios.push({ contender, hitRatio: Number((hits / trace.length).toFixed(4)) })
    console.log(`  ${contender.padEnd(36)} ${(hits / trace.length).toFixed(4)}`)
  }
  const sieve = createCache({ envPrefix: false, memory: { maxItems: 1000, sweepInterval: 0 } })
  const lru = createCache({ envPrefix: false, memory: { maxItems: 1000, sweepInterval: 0, policy: 'lru' } })
  const lc = new LRUCache<string, number>({ max: 1000 })
  ratioOf(
    'beaver-kit sieve',
    (k) => sieve.getSync(k),
    (k) => sieve.setSync(k, 1),
  )
  ratioOf(
    'beaver-kit lru',
    (k) => lru.getSync(k),
    (k) => lru.setSync(k, 1),
  )
  ratioOf(
    'lru-cache',
    (k) => lc.get(k),
    (k) => void lc.set(k, 1),
  )
}

// ---- summary -------------------------------------------------------------------------------
const goals = [
  {
    goal: 'sync get >= 1.0x lru-cache (ttl)',
    value: ratio('memory get hit (sync)', 'beaver-kit getSync (sieve)', 'lru-cache (ttl)'),
    target: 1.0,
  },
  {
    goal: 'async get >= 3x bentocache',
    value: ratio('memory get hit (async API)', 'beaver-kit get', 'bentocache'),
    target: 3,
  },
  {
    goal: 'async get >= 3x cache-manager',
    value: ratio('memory get hit (async API)', 'beaver-kit get', 'cache-manager'),
    target: 3,
  },
  {
    goal: 'redis getMany >= 0.9x raw MGET',
    value: ratio('redis getMany 100 keys', 'beaver-kit getMany', 'raw ioredis MGET + JSON.parse'),
    target: 0.9,
  },
  {
    goal: 'redis setMany >= 0.9x raw pipeline',
    value: ratio('redis setMany 100 keys', 'beaver-kit setMany', 'raw ioredis pipeline SET PX'),
    target: 0.9,
  },
  {
    goal: 'redis get (1 in flight) >= 0.9x raw',
    value: ratio('redis get, 1 in flight', 'beaver-kit get', 'raw ioredis GET + JSON.parse'),
    target: 0.9,
  },
  {
    goal: 'redis get (16 in flight) >= 0.9x raw',
    value: ratio('redis get, 16 in flight', 'beaver-kit get', 'raw ioredis GET + JSON.parse'),
    target: 0.9,
  },
  {
    goal: 'redis get (100 in flight) >= 0.9x raw',
    value: ratio('redis get, 100 in flight', 'beaver-kit get', 'raw ioredis GET + JSON.parse'),
    target: 0.9,
  },
]
console.log('\ngoals')
for (const g of goals)
  console.log(`  ${g.goal.padEnd(40)} ${g.value.toFixed(2)}x  ${g.value >= g.target ? 'met' : 'NOT met'}`)

writeFileSync(
  new URL('./results.json', import.meta.url),
  `${JSON.stringify({ node: process.version, date: new Date().toISOString(), cpu: `${os.cpus()[0]?.model ?? 'unknown'} x${os.cpus().length}`, quick: QUICK, results, heap, hitRatios, goals }, null, 2)}\n`,
)
await ours.close()
await oursLru.close()
await stampedeCache.close()
await bento.disconnect()
await manager.disconnect()
