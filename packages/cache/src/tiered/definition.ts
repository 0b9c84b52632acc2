import type { CacheConfig } from '../config.ts'
import { CacheError } from '../errors.ts'
import { defineCacheDriver, type CacheDriver } from '../driver.ts'
import type { InvalidationBus } from '../bus/bus.ts'
import { createRedisBus } from '../bus/redis.ts'
import type { CacheSectionOptions, TierDefinition } from '../types.ts'
import { TieredDriver } from './driver.ts'
import { AdaptiveStrategy, BasicStrategy, type TierStrategy } from './strategy.ts'

export { TieredDriver } from './driver.ts'
export type { TieredDriverOptions, TieredRead } from './options.ts'
export { AdaptiveStrategy, BasicStrategy } from './strategy.ts'
export type { AdaptiveStrategyOptions, TierStrategy } from './strategy.ts'
export type { TierCounters, TieredMetrics } from './metrics.ts'
export type { TierDefinition } from '../types.ts'

/** Options of the tiered driver: its settings (`BEAVER_CACHE_TIERED_*`) and what cannot come from the environment. */
export type TieredCacheOptions = NonNullable<CacheSectionOptions['tiered']>

/** What the tiered definition's create() gets: its resolved section, with tiers, strategy and bus as given. */
type TieredCreateOptions = Partial<Omit<CacheConfig['tiered'], 'tiers' | 'strategy' | 'bus'>> &
  Pick<TieredCacheOptions, 'tiers' | 'strategy' | 'bus'>

/**
 * The tiered driver (`BEAVER_CACHE_DRIVER=tiered`): tiers from `BEAVER_CACHE_TIERED_TIERS`
 * (default `memory,redis`), each built by the cache from its own section
 * (`BEAVER_CACHE_MEMORY_*`, `BEAVER_CACHE_REDIS_*`...) or given built, with the strategy,
 * write policy, default grace and invalidation bus of `BEAVER_CACHE_TIERED_*`. The whole cache
 * API works over it, with tags, grace and the cross-process lease.
 * @example const cache = createCache({ driver: 'tiered', tiered: { tiers: ['memory', 'redis'], grace: '10m', bus: 'redis' } })
 */
export const tieredDriver = defineCacheDriver<TieredCreateOptions>({
  name: 'tiered',
  peers: [],
  section: 'tiered',
  async create(options, context) {
    const inputs = options.tiers && options.tiers.length > 0 ? options.tiers : ['memory', 'redis']
    const topCapacity = options.topCapacity || context.config.memory.maxItems
    const defs: TierDefinition[] = []
    const slot: { tiered?: TieredDriver } = {}
    const pending: Array<{ index: number; ns: string; key: string }> = []
    let bus: InvalidationBus | undefined
    try {
      for (const [index, input] of inputs.entries()) {
        if (typeof input !== 'string') {
          defs.push(input)
          continue
        }
        if (input === 'tiered') {
          throw new CacheError(
            'CACHE_OPTIONS_INVALID',
            `${context.variable('TIERED_TIERS')} lists "tiered", which cannot be a tier of itself; list drivers top first, such as memory,redis.`,
            { details: { tier: input } },
          )
        }
        // A bounded memory top tier: the strategy decides what stays, so the store itself
        // never evicts before it does.
        const capacity = index === 0 && input === 'memory' && inputs.length > 1 ? topCapacity : undefined
        const driver: CacheDriver = await context.loadDriver(input, {
          setting: 'TIERED_TIERS',
          storage: 'reference',
          ...(capacity === undefined ? {} : { options: { maxItems: capacity + 1 } }),
          onEvict: (ns, key) => {
            if (slot.tiered) slot.tiered.onTierEvict(index, ns, key)
            else pending.push({ index, ns, key })
          },
        })
        defs.push({ driver, name: input, capacity })
      }
      if (typeof options.bus === 'object') bus = options.bus
      else if (options.bus === 'redis') {
        bus = createRedisBus({
          url: options.busUrl ?? context.config.redis.url,
          channel: options.busChannel,
          key: options.busKey,
        })
      }
      if (bus) await bus.ready()
    } catch (err) {
      for (const d of defs) await Promise.resolve(d.driver.close()).catch(() => undefined)
      if (typeof options.bus !== 'object') await bus?.close()
      throw err
    }
    const tiered = new TieredDriver({
      tiers: defs,
      strategy: strategyOf(options.strategy, topCapacity),
      writes: options.writes,
      graceMs: options.grace,
      bus,
      ownsBus: typeof options.bus !== 'object',
      // BEAVER_CACHE_MEMORY_STORAGE decides for the memory tier as for the memory driver.
      sharesDecoded: context.config.memory.storage === 'reference',
    })
    slot.tiered = tiered
    for (const p of pending) tiered.onTierEvict(p.index, p.ns, p.key)
    return tiered
  },
})

function strategyOf(input: TieredCreateOptions['strategy'], topCapacity: number): TierStrategy {
  if (typeof input === 'object') return input
  return input === 'basic' ? new BasicStrategy() : new AdaptiveStrategy({ capacity: Math.max(1000, topCapacity) })
}
