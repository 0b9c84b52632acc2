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
export { defineCacheDriver, NEGATIVE, storeCapabilities } from './driver.ts'
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

// part 2: tiers, hybrid, encryption, invalidation bus, cloud drivers
export { createTieredCache, TieredCache, tieredDriver } from './tiered/cache.ts'
export type {
  TieredDefinitionOptions,
  TierInput,
  TieredCacheOptions,
  TieredGetOrSetOptions,
  TieredSetOptions,
  WarmResult,
} from './tiered/cache.ts'
export { TieredDriver } from './tiered/driver.ts'
export type {
  HotEnvelope,
  TierCounters,
  TierDefinition,
  TieredDriverOptions,
  TieredMetrics,
  TieredRead,
} from './tiered/driver.ts'
export { AdaptiveStrategy, BasicStrategy, Residency } from './tiered/strategy.ts'
export type { AdaptiveStrategyOptions, ResidencyMark, TierStrategy } from './tiered/strategy.ts'
export { FrequencySketch, sketchHash } from './tiered/sketch.ts'
export { decodeEnvelope, encodeEnvelope } from './tiered/envelope.ts'
export type { Envelope } from './tiered/envelope.ts'
export { createRedisBus } from './bus/bus.ts'
export type { InvalidationBus, InvalidationMessage, RedisBusOptions } from './bus/bus.ts'
export { HybridDriver, hybridDriver } from './hybrid/driver.ts'
export type { HybridDefinitionOptions, HybridDriverOptions, HybridStats } from './hybrid/driver.ts'
export { WriteQueue } from './hybrid/queue.ts'
export type { QueuedWrite } from './hybrid/queue.ts'
export { EncryptedDriver, encryptedDriver } from './encrypted/driver.ts'
export type { EncryptedDefinitionOptions, EncryptedDriverOptions } from './encrypted/driver.ts'
export { cacheCloudSchema, cacheEncryptionSchema, cacheHybridSchema, cacheTiersSchema } from './config.ts'
export type {
  CacheCloudConfig,
  CacheEncryptionConfig,
  CacheHybridConfig,
  CacheTiersConfig,
  CacheTiersConfigOptions,
} from './config.ts'
export type { CacheEnv } from './env.ts'
