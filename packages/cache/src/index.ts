export { Cache, createCache, parseTtl } from './cache.ts'
export type {
  BatchLoaderResult,
  CacheCounters,
  CacheEntry,
  CacheOptions,
  CacheStats,
  Duration,
  GetOrSetOptions,
  LoaderContext,
  OperationOptions,
  SetManyEntry,
  SetOptions,
  TraceContext,
} from './cache.ts'
export { cache, initCache, resetCache, withPrefix } from './default.ts'
export { cacheSchema } from './config.ts'
export type { CacheConfig, CacheConfigOptions } from './config.ts'
export { CacheError, isCacheError } from './errors.ts'
export type { CacheErrorCode } from './errors.ts'
export { defineCacheDriver, NEGATIVE } from './driver.ts'
export type {
  CacheDriver,
  CacheDriverCapabilities,
  CacheDriverDefinition,
  DriverContext,
  DriverEntry,
  DriverRow,
  EntriesQuery,
  MaybePromise,
  StoredValue,
} from './driver.ts'
export { cacheDriverNames, registerCacheDriver } from './registry.ts'
export { jsonSerializer, msgpackSerializer, rawSerializer } from './serializers.ts'
export type { Serializer } from './serializers.ts'
