export { createCache } from './cache.ts'
export type { Cache } from './cache.ts'
export { cache, initCache, resetCache, withPrefix } from './default.ts'
export type {
  AwsClientLike,
  BatchLoaderResult,
  CacheCounters,
  CacheEntry,
  CacheOptions,
  CacheSectionOptions,
  CacheStats,
  DatabaseLike,
  Duration,
  EntriesOptions,
  GetOrSetOptions,
  HttpClientLike,
  KeyRingLike,
  KvNamespaceBinding,
  LoaderContext,
  OperationOptions,
  RedisClientLike,
  SetManyEntry,
  SetOptions,
  TierDefinition,
  WarmOptions,
  WarmResult,
} from './types.ts'
export { cacheSchema } from './config.ts'
export type { CacheConfig, CacheSection, CacheSettings } from './config.ts'
export { CacheError, isCacheError } from './errors.ts'
export type { CacheErrorCode } from './errors.ts'
export { channels } from './channels.ts'
export type { CacheTrace } from './channels.ts'
export { defineCacheDriver, NEGATIVE, storeCapabilities } from './driver.ts'
export type {
  CacheDriver,
  CacheDriverCapabilities,
  CacheDriverDefinition,
  DriverContext,
  DriverEntry,
  DriverRow,
  DriverStats,
  EntriesQuery,
  EntryOptions,
  EntryRead,
  LoadDriverOptions,
  MaybePromise,
  StoredValue,
} from './driver.ts'
export { cacheDriverNames, registerCacheDriver } from './registry.ts'
export { jsonSerializer, msgpackSerializer, rawSerializer } from './serializers.ts'
export type { Serializer } from './serializers.ts'
export type { InvalidationBus, InvalidationMessage } from './bus/bus.ts'
export type { TierStrategy } from './tiered/strategy.ts'
export type { TierCounters, TieredMetrics } from './tiered/metrics.ts'
export type { HybridStats } from './hybrid/stats.ts'
