// Two-tier benchmark of @beaver-kit/cache part 2, in one process and one run:
//   memory over the real Redis: L1 hit, L1 miss + L2 hit, set (both tiers)
//   vs bentocache (memory L1 + redis L2) and cache-manager (Keyv memory + Keyv over ioredis),
//   with the floor: raw ioredis GET + JSON decode
//   AdaptiveStrategy vs BasicStrategy top-tier hit ratio on Zipf workloads larger than the top tier
// Run: npm run bench:tiered -w @beaver-kit/cache   or   node --conditions=@beaver-kit/source bench/tiered.ts
// (BENCH_QUICK=1 for a short smoke run)
// The contenders of a case run in interleaved rounds (the order rotating) and each keeps its
// median round, so load from other work on a shared machine hits every contender alike.
import { writeFileSync } from 'node:fs'
import os from 'node:os'
import { do_not_optimize, measure } from 'mitata'
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver as bentoMemory } from 'bentocache/drivers/memory'
import { createCache as createCacheManager } from 'cache-manager'
import { Keyv } from 'keyv'
import { Redis } from 'ioredis'
import { createTieredCache } from '../src/tiered/cache.ts'
import { AdaptiveStrategy, BasicStrategy } from '../src/tiered/strategy.ts'
import { topTierHitRatio } from './workload.ts'
import { jsonSerializer } from '../src/serializers.ts'

const QUICK = process.env.BENCH_QUICK === '1'
const ROUNDS = QUICK ? 3 : 7
const ROUND_CPU_NS = QUICK ? 10e6 : 150e6
const REDIS_URL = process.env.BEAVER_TEST_REDIS_URL || 'redis://127.0.0.1:6379'
const N = 10_000
const NS = `bench-tiered-${process.pid}`

interface Result {
  case: string
  contender: string
  opsPerSec?: number
  p99Ms?: number
  hitRatio?: number
}
const results: Result[] = []

async function bench(name: string, contenders: Array<[string, () => unknown]>): Promise<void> {
  const rounds = new Map<string, Array<{ ops: number; p99: number }>>()
  for (let r = 0; r < ROUNDS; r++) {
    for (let c = 0; c < contenders.length; c++) {
      const [contender, fn] = contenders[(c + r) % contenders.length] as [string, () => unknown]
      const s = await measure(fn, { min_cpu_time: ROUND_CPU_NS })
      const list = rounds.get(contender) ?? []
      list.push({ ops: 1e9 / s.avg, p99: s.p99 })
      rounds.set(contender, list)
    }
  }
  for (const [contender] of contenders) {
    const list = [...(rounds.get(contender) ?? [])].sort((a, b) => a.ops - b.ops)
    const median = list[Math.floor(list.length / 2)] as { ops: number; p99: number }
    const r: Result = {
      case: name,
      contender,
      opsPerSec: Math.round(median.ops),
      p99Ms: Number((median.p99 / 1e6).toFixed(4)),
    }
    results.push(r)
    console.log(
      `  ${name.padEnd(28)} ${contender.padEnd(26)} ${(r.opsPerSec ?? 0).toLocaleString('en-US').padStart(12)} ops/s   p99 ${r.p99Ms} ms`,
    )
  }
}

function ratio(caseName: string, a: string, b: string): number {
  const x = results.find((r) => r.case === caseName && r.contender === a)?.opsPerSec
  const y = results.find((r) => r.case === caseName && r.contender === b)?.opsPerSec
  return x && y ? x / y : Number.NaN
}

const value = { id: 42, name: 'Ada Lovelace', email: 'ada@example.com', roles: ['admin', 'dev'], active: true }
const keys = Array.from({ length: N }, (_, i) => `user:${i}`)
let cursor = 0
const nextKey = (): string => keys[(cursor = (cursor + 7919) % N)] as string

// bentocache's own redis driver cannot load here (its bus imports ioredis from the root, where it
// is not installed), so its L2 is this equivalent driver over the same ioredis client.
function bentoRedis(client: Redis): Parameters<ReturnType<typeof bentostore>['useL2Layer']>[0] {
  const make = (prefix: string): Record<string, unknown> => ({
    type: 'l2',
    namespace: (ns: string) => make(`${prefix}${ns}:`),
    get: async (key: string) => (await client.get(prefix + key)) ?? undefined,
    pull: async (key: string) => (await client.getdel(prefix + key)) ?? undefined,
    set: async (key: string, v: string, ttl?: number) => {
      if (ttl) await client.set(prefix + key, v, 'PX', ttl)
      else await client.set(prefix + key, v)
      return true
    },
    clear: async () => {
      const found = await client.keys(`${prefix}*`)
      for (let i = 0; i < found.length; i += 500) await client.del(...found.slice(i, i + 500))
    },
    delete: async (key: string) => (await client.del(prefix + key)) > 0,
    deleteMany: async (ks: string[]) => (ks.length === 0 ? true : (await client.del(...ks.map((k) => prefix + k))) > 0),
    disconnect: async () => undefined,
  })
  return { options: {}, factory: () => make('') } as unknown as Parameters<
    ReturnType<typeof bentostore>['useL2Layer']
  >[0]
}

// A Keyv store over ioredis for cache-manager's second tier (@keyv/redis needs keyv 5).
function keyvRedis(client: Redis, prefix: string): ConstructorParameters<typeof Keyv>[0] {
  const store = {
    opts: {},
    namespace: undefined as string | undefined,
    async get(key: string): Promise<string | undefined> {
      return (await client.get(prefix + key)) ?? undefined
    },
    async set(key: string, v: string, ttl?: number): Promise<boolean> {
      if (ttl) await client.set(prefix + key, v, 'PX', ttl)
      else await client.set(prefix + key, v)
      return true
    },
    async delete(key: string): Promise<boolean> {
      return (await client.del(prefix + key)) > 0
    },
    async clear(): Promise<void> {},
    on() {
      return store
    },
  }
  return { store }
}

async function tierBench(): Promise<void> {
  const redis = new Redis(REDIS_URL)
  // L1 hit: every key in memory.
  const ours = createTieredCache({
    envPrefix: false,
    namespace: `${NS}:hit`,
    tiers: ['memory', 'redis'],
    redis: { url: REDIS_URL },
    memory: { maxItems: N * 2, sweepInterval: 0 },
  })
  // L1 miss + L2 hit: a 16-entry top tier in front of 10,000 keys read round-robin.
  const oursCold = createTieredCache({
    envPrefix: false,
    namespace: `${NS}:cold`,
    tiers: ['memory', 'redis'],
    redis: { url: REDIS_URL },
    topCapacity: 16,
    strategy: 'basic',
    memory: { maxItems: 17, sweepInterval: 0 },
  })
  const bentoHit = new BentoCache({
    default: 'c',
    stores: {
      c: bentostore()
        .useL1Layer(bentoMemory({ maxItems: N * 2 }))
        .useL2Layer(bentoRedis(redis)),
    },
    prefix: `${NS}-bento-hit`,
  })
  const bentoCold = new BentoCache({
    default: 'c',
    stores: {
      c: bentostore()
        .useL1Layer(bentoMemory({ maxItems: 16 }))
        .useL2Layer(bentoRedis(redis)),
    },
    prefix: `${NS}-bento-cold`,
  })
  const { CacheableMemory } = await import('cacheable')
  // cache-manager is typed against its own bundled keyv major; the instances work at run time.
  type ManagerStores = NonNullable<Parameters<typeof createCacheManager>[0]>['stores']
  const managerHit = createCacheManager({
    stores: [
      new Keyv({ store: new CacheableMemory({ lruSize: N * 2 }) }),
      new Keyv(keyvRedis(redis, `${NS}-cm-hit:`)),
    ] as unknown as ManagerStores,
  })
  const managerCold = createCacheManager({
    stores: [
      new Keyv({ store: new CacheableMemory({ lruSize: 16 }) }),
      new Keyv(keyvRedis(redis, `${NS}-cm-cold:`)),
    ] as unknown as ManagerStores,
  })

  const TTL = 3_600_000
  for (const k of keys) {
    await ours.set(k, value, { ttl: TTL })
    await oursCold.set(k, value, { ttl: TTL })
    await bentoHit.set({ key: k, value, ttl: TTL })
    await bentoCold.set({ key: k, value, ttl: TTL })
    await managerHit.set(k, value, TTL)
    await managerCold.set(k, value, TTL)
    await redis.set(`${NS}-raw:${k}`, JSON.stringify(value), 'PX', TTL)
  }
  for (const k of keys) {
    await ours.get(k)
    await bentoHit.get({ key: k })
    await managerHit.get(k)
  }

  console.log(`two tiers (memory over real Redis), 10,000 keys; median of ${ROUNDS} interleaved rounds`)
  await bench('L1 hit', [
    ['beaver-kit tiered', async () => do_not_optimize(await ours.get(nextKey()))],
    ['bentocache', async () => do_not_optimize(await bentoHit.get({ key: nextKey() }))],
    ['cache-manager', async () => do_not_optimize(await managerHit.get(nextKey()))],
  ])
  await bench('L1 miss, L2 hit', [
    ['beaver-kit tiered', async () => do_not_optimize(await oursCold.get(nextKey()))],
    ['bentocache', async () => do_not_optimize(await bentoCold.get({ key: nextKey() }))],
    ['cache-manager', async () => do_not_optimize(await managerCold.get(nextKey()))],
    [
      'raw ioredis GET + decode',
      async () => do_not_optimize(JSON.parse((await redis.get(`${NS}-raw:${nextKey()}`)) as string) as unknown),
    ],
  ])
  await bench('set (both tiers)', [
    ['beaver-kit tiered', async () => ours.set(nextKey(), value, { ttl: TTL })],
    ['bentocache', async () => bentoHit.set({ key: nextKey(), value, ttl: TTL })],
    ['cache-manager', async () => managerHit.set(nextKey(), value, TTL)],
    ['raw ioredis SET + encode', async () => redis.set(`${NS}-raw:${nextKey()}`, JSON.stringify(value), 'PX', TTL)],
  ])
  // The floor of our own encoding, for reference.
  do_not_optimize(jsonSerializer.serialize(value))

  await ours.clear()
  await oursCold.clear()
  await ours.close()
  await oursCold.close()
  await bentoHit.clear()
  await bentoCold.clear()
  await bentoHit.disconnectAll()
  await bentoCold.disconnectAll()
  const leftovers = await redis.keys(`${NS}*`)
  for (let i = 0; i < leftovers.length; i += 500) await redis.del(...leftovers.slice(i, i + 500))
  await managerHit.disconnect().catch(() => undefined)
  await managerCold.disconnect().catch(() => undefined)
  redis.disconnect()
}

async function strategyBench(): Promise<void> {
  console.log('top-tier hit ratio, Zipf(0.9) over 100,000 keys, top tier 1,000 entries')
  for (const scanShare of [0, 0.25]) {
    const name = `Zipf hit ratio${scanShare > 0 ? ' (+25% scan)' : ''}`
    for (const [label, strategy] of [
      ['basic', new BasicStrategy()],
      ['adaptive', new AdaptiveStrategy({ capacity: 10_000 })],
    ] as const) {
      const h = await topTierHitRatio(strategy, {
        capacity: 1000,
        keyCount: 100_000,
        reads: QUICK ? 50_000 : 300_000,
        scanShare,
        seed: 7,
      })
      results.push({ case: name, contender: label, hitRatio: Number(h.toFixed(4)) })
      console.log(`  ${name.padEnd(28)} ${label.padEnd(26)} ${(h * 100).toFixed(1)}%`)
    }
  }
}

await tierBench()
await strategyBench()

const l1 = ratio('L1 hit', 'beaver-kit tiered', 'bentocache')
const l2 = ratio('L1 miss, L2 hit', 'beaver-kit tiered', 'raw ioredis GET + decode')
console.log(`\ngoal L1 hit >= 1.2x bentocache: ${l1.toFixed(2)}x ${l1 >= 1.2 ? 'MET' : 'NOT MET'}`)
console.log(`goal L2 hit >= 0.85x raw ioredis GET + decode: ${l2.toFixed(2)}x ${l2 >= 0.85 ? 'MET' : 'NOT MET'}`)

const out = {
  node: process.version,
  date: new Date().toISOString(),
  cpu: `${os.cpus()[0]?.model ?? 'unknown'} x${os.cpus().length}`,
  quick: QUICK,
  goals: { l1HitVsBentocache: Number(l1.toFixed(3)), l2HitVsRawIoredis: Number(l2.toFixed(3)) },
  results,
}
writeFileSync(new URL('./results-tiered.json', import.meta.url), `${JSON.stringify(out, null, 2)}\n`)
console.log('wrote bench/results-tiered.json')
