import type { CacheConfig } from '../config.ts'
import { defineCacheDriver, type CacheDriver } from '../driver.ts'
import { CacheError } from '../errors.ts'
import type { CacheSectionOptions } from '../types.ts'
import { HybridDriver } from './driver.ts'

export { HybridDriver } from './driver.ts'
export type { HybridDriverOptions } from './driver.ts'
export type { HybridStats } from './stats.ts'

/** Options of the hybrid driver: its settings (`BEAVER_CACHE_HYBRID_*`) and what cannot come from the environment. */
export type HybridCacheOptions = NonNullable<CacheSectionOptions['hybrid']>

/** What the hybrid definition's create() gets: its resolved section, the store and memory as given. */
type HybridCreateOptions = Partial<Omit<CacheConfig['hybrid'], 'store'>> & Pick<HybridCacheOptions, 'store' | 'memory'>

/**
 * The hybrid driver (`BEAVER_CACHE_DRIVER=hybrid`): the memory driver (serialized) in front of
 * the store `BEAVER_CACHE_HYBRID_STORE` names (redis by default), each built by the cache from
 * its own section, with the mode, queue and flush settings of `BEAVER_CACHE_HYBRID_*`.
 * @example const cache = createCache({ driver: 'hybrid', hybrid: { store: 'redis', mode: 'write-behind' } })
 */
export const hybridDriver = defineCacheDriver<HybridCreateOptions>({
  name: 'hybrid',
  peers: [],
  section: 'hybrid',
  async create(options, context) {
    const input = options.store ?? 'redis'
    let store: CacheDriver
    if (typeof input === 'string') {
      if (input === 'hybrid' || input === 'memory') {
        throw new CacheError(
          'CACHE_OPTIONS_INVALID',
          `${context.variable('HYBRID_STORE')} is "${input}", but the hybrid cache already keeps memory in front of its store; set it to a persistent driver such as redis or database.`,
          { details: { store: input } },
        )
      }
      store = await context.loadDriver(input, { setting: 'HYBRID_STORE', storage: 'serialized' })
    } else store = input
    let memory: CacheDriver
    try {
      memory = options.memory ?? (await context.loadDriver('memory', { storage: 'serialized' }))
    } catch (err) {
      if (typeof input === 'string') await store.close()
      throw err
    }
    return new HybridDriver({
      store,
      memory,
      ownsStore: typeof input === 'string',
      mode: options.mode,
      queueMax: options.queueMax,
      queueWaitMs: options.queueWait,
      flushIntervalMs: options.flushInterval,
      batch: options.batch,
      probeIntervalMs: options.probeInterval,
      closeTimeoutMs: options.closeTimeout,
    })
  },
})
