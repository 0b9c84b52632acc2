// Two-tier benchmark of @beaver-kit/cache on the kit's one harness (@beaver-kit/testkit/bench):
//   memory over the real Redis: L1 hit, L1 miss + L2 hit, set (both tiers)
//   against bentocache (memory L1 + redis L2) and cache-manager (Keyv memory + Keyv over ioredis),
//   with the floor: raw ioredis GET + JSON decode (SET + encode for writes)
//   AdaptiveStrategy and BasicStrategy top-tier hit ratios on Zipf workloads larger than the top tier
// Run: npm run bench:tiered -w @beaver-kit/cache   (BENCH_QUICK=1 for a short smoke run that writes nothing)
import { do_not_optimize } from 'mitata'
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver as bentoMemory } from 'bentocache/drivers/memory'
import { createCache as createCacheManager } from 'cache-manager'
import { Keyv } from 'keyv'
import { Redis } from 'ioredis'
import { isQuick, runBench, type GoalResult } from '@beaver-kit/testkit/bench'
import { createCache } from '@beaver-kit/cache'
import { AdaptiveStrategy, BasicStrategy } from '../src/tiered/strategy.ts'
import { topTierHitRatio } from './workload.ts'

const QUICK = isQuick()
const REDIS_URL = process.env.BEAVER_TEST_REDIS_URL || 'redis://127.0.0.1:6379'
const N = 10_000
const NS = `bench-tiered-${process.pid}`
const TTL = 3_600_000

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

const redis = new Redis(REDIS_URL)
// L1 hit: every key in memory.
const ours = createCache({
  envPrefix: false,
  namespace: `${NS}:hit`,
  driver: 'tiered',
  tiered: { tiers: ['memory', 'redis'] },
  redis: { url: REDIS_URL },
  memory: { maxItems: N * 2, sweepInterval: 0 },
})
// The same with a copy per L1 hit (BEAVER_CACHE_MEMORY_STORAGE=serialized): like bentocache's default.
const oursCopies = createCache({
  envPrefix: false,
  namespace: `${NS}:copies`,
  driver: 'tiered',
  tiered: { tiers: ['memory', 'redis'] },
  redis: { url: REDIS_URL },
  memory: { maxItems: N * 2, sweepInterval: 0, storage: 'serialized' },
})
// L1 miss + L2 hit: a 16-entry top tier in front of 10,000 keys read round-robin.
const oursCold = createCache({
  envPrefix: false,
  namespace: `${NS}:cold`,
  driver: 'tiered',
  tiered: { tiers: ['memory', 'redis'], topCapacity: 16, strategy: 'basic' },
  redis: { url: REDIS_URL },
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
// bentocache with values by reference in its L1 (serialize: false): like the kit's default.
const bentoShared = new BentoCache({
  default: 'c',
  stores: {
    c: bentostore()
      .useL1Layer(bentoMemory({ maxItems: N * 2, serialize: false }))
      .useL2Layer(bentoRedis(redis)),
  },
  prefix: `${NS}-bento-shared`,
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

for (const k of keys) {
  await ours.set(k, value, { ttl: TTL })
  await oursCold.set(k, value, { ttl: TTL })
  await oursCopies.set(k, value, { ttl: TTL })
  await bentoShared.set({ key: k, value, ttl: TTL })
  await bentoHit.set({ key: k, value, ttl: TTL })
  await bentoCold.set({ key: k, value, ttl: TTL })
  await managerHit.set(k, value, TTL)
  await managerCold.set(k, value, TTL)
  await redis.set(`${NS}-raw:${k}`, JSON.stringify(value), 'PX', TTL)
}
for (const k of keys) {
  await ours.get(k)
  await oursCopies.get(k)
  await bentoShared.get({ key: k })
  await bentoHit.get({ key: k })
  await managerHit.get(k)
}

const ratios: Record<string, number> = {}
async function strategies(): Promise<void> {
  for (const scanShare of [0, 0.25]) {
    for (const [label, strategy] of [
      ['basic', new BasicStrategy()],
      ['adaptive', new AdaptiveStrategy({ capacity: 10_000 })],
    ] as const) {
      ratios[`${label}${scanShare > 0 ? ' +25% scan' : ''}`] = await topTierHitRatio(strategy, {
        capacity: 1000,
        keyCount: 100_000,
        reads: QUICK ? 50_000 : 300_000,
        scanShare,
        seed: 7,
      })
    }
  }
}
await strategies()

try {
  await runBench({
    package: 'cache',
    url: import.meta.url,
    name: 'tiered',
    script: 'bench:tiered',
    cases: [
      {
        name: 'tiered L1 hit (memory over Redis)',
        contenders: [
          { contender: 'beaver-kit', fn: async () => do_not_optimize(await ours.get(nextKey())) },
          {
            contender: 'beaver-kit',
            variant: 'copies',
            fn: async () => do_not_optimize(await oursCopies.get(nextKey())),
          },
          { contender: 'bentocache', fn: async () => do_not_optimize(await bentoHit.get({ key: nextKey() })) },
          {
            contender: 'bentocache',
            variant: 'shared',
            fn: async () => do_not_optimize(await bentoShared.get({ key: nextKey() })),
          },
          { contender: 'cache-manager', fn: async () => do_not_optimize(await managerHit.get(nextKey())) },
        ],
      },
      {
        name: 'tiered L1 miss, L2 hit',
        latency: true,
        contenders: [
          { contender: 'beaver-kit', fn: async () => do_not_optimize(await oursCold.get(nextKey())) },
          { contender: 'bentocache', fn: async () => do_not_optimize(await bentoCold.get({ key: nextKey() })) },
          { contender: 'cache-manager', fn: async () => do_not_optimize(await managerCold.get(nextKey())) },
          {
            contender: 'floor',
            fn: async () =>
              do_not_optimize(JSON.parse((await redis.get(`${NS}-raw:${nextKey()}`)) as string) as unknown),
          },
        ],
      },
      {
        name: 'tiered set (both tiers)',
        latency: true,
        contenders: [
          { contender: 'beaver-kit', fn: () => ours.set(nextKey(), value, { ttl: TTL }) },
          { contender: 'bentocache', fn: () => bentoHit.set({ key: nextKey(), value, ttl: TTL }) },
          { contender: 'cache-manager', fn: () => managerHit.set(nextKey(), value, TTL) },
          {
            contender: 'floor',
            fn: () => redis.set(`${NS}-raw:${nextKey()}`, JSON.stringify(value), 'PX', TTL),
          },
        ],
      },
    ],
    goals: [
      {
        goal: 'tiered L1 hit ≥ 2.5x bentocache',
        case: 'tiered L1 hit (memory over Redis)',
        over: 'bentocache',
        target: 2.5,
      },
      {
        goal: 'tiered L1 miss, L2 hit ≥ 0.85x raw ioredis GET + decode',
        case: 'tiered L1 miss, L2 hit',
        over: 'floor',
        target: 0.85,
      },
      {
        goal: 'tiered set ≥ 0.95x bentocache (parity)',
        case: 'tiered set (both tiers)',
        over: 'bentocache',
        target: 0.95,
      },
    ],
    extraGoals: (): GoalResult[] => [
      {
        goal: 'adaptive top-tier hit ratio > basic, Zipf(0.9) with 25% scan',
        value: Number(((ratios['adaptive +25% scan'] as number) / (ratios['basic +25% scan'] as number)).toFixed(2)),
        target: 1,
        met: (ratios['adaptive +25% scan'] as number) > (ratios['basic +25% scan'] as number),
      },
    ],
    notes: () => [
      `Top-tier hit ratio, Zipf(0.9) over 100,000 keys, top tier 1,000 entries: ${Object.entries(ratios)
        .map(([k, v]) => `${k} ${(v * 100).toFixed(1)}%`)
        .join(', ')}.`,
      "L1 hit: beaver-kit's default memory storage (reference) hands every hit the value its first hit decoded, bentocache's default L1 (serialize: true) parses per hit; the like-for-like pairs are beaver-kit (copies, BEAVER_CACHE_MEMORY_STORAGE=serialized) against bentocache, and beaver-kit against bentocache (shared, serialize: false).",
      'floor: raw ioredis GET + JSON.parse (SET PX + JSON.stringify for the set case) on the same client.',
      "bentocache's own Redis driver cannot load in this workspace (it resolves ioredis from the root), so its L2 is an equivalent small driver on the same ioredis client; cache-manager's second tier is a small Keyv store over ioredis (@keyv/redis needs keyv 5).",
    ],
  })
} finally {
  await ours.clear()
  await oursCopies.clear()
  await oursCopies.close()
  await bentoShared.clear()
  await bentoShared.disconnectAll()
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
