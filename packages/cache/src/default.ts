import { defineDefaultInstance } from '@beaver-kit/core'
import { createCache, type Cache } from './cache.ts'
import type { CacheOptions } from './types.ts'

const slot = defineDefaultInstance<Cache, CacheOptions>('cache', createCache)

/**
 * The default cache, built on first use from `BEAVER_CACHE_*` (memory when nothing is set)
 * and closed by `shutdown()`. Rethrows the configuration error until the environment is fixed.
 * @example await cache().set('greeting', 'hello', { ttl: '10m' })
 */
export const cache: () => Cache = slot.get

/**
 * Configures the default cache before its first use; throws once it exists.
 * @example initCache({ driver: 'redis', namespace: 'links' })
 */
export const initCache: (options?: CacheOptions) => Cache = slot.init

/** Closes and forgets the default cache (tests); the next `cache()` builds a new one. */
export const resetCache: () => Promise<void> = slot.reset

/**
 * A new cache (not the default) configured from another env prefix: `withPrefix('USER_')`
 * reads `USER_CACHE_*`; `options` beat that environment.
 * @example const sessions = withPrefix('SESSION_', { namespace: 'sess' })
 */
export const withPrefix: (prefix: string, options?: Omit<CacheOptions, 'envPrefix'>) => Cache = slot.withPrefix
