// The public option and result types of the cache. Everything here is the package's own or
// structural: the root entry's published types must not need an optional peer (ioredis, the
// AWS SDKs, @beaver-kit/database/krypto/http), so a client you pass is typed by what the kit
// calls on it, and each driver's subpath (`@beaver-kit/cache/redis`) gives the precise type.
import type { Duration, InstanceOptions } from '@beaver-kit/config'
import type { CacheSettings } from './config.ts'
import type { CacheDriver, CacheDriverDefinition, DriverStats, EntriesQuery } from './driver.ts'
import type { Serializer } from './serializers.ts'
import type { InvalidationBus } from './bus/bus.ts'
import type { TierStrategy } from './tiered/strategy.ts'

export type { Duration }

/** Options of every operation that waits. */
export interface OperationOptions {
  /** Stops waiting (the operation rejects with CACHE_ABORTED); the store may still apply a write. */
  signal?: AbortSignal | undefined
}

/** Options of writes. */
export interface SetOptions extends OperationOptions {
  /** Time to live; default `defaultTtl`. `Infinity` never expires. */
  ttl?: Duration | undefined
  /** Tags for `invalidateTags()` (drivers with the `tags` capability: tiered). */
  tags?: readonly string[] | undefined
  /** How long the entry may be served stale after its TTL (drivers with the `grace` capability: tiered). */
  grace?: Duration | undefined
}

/** One entry of `setMany`. */
export interface SetManyEntry<T = unknown> {
  key: string
  value: T
  ttl?: Duration | undefined
}

/** What a `getOrSet` loader can do besides returning the value. */
export interface LoaderContext {
  /** The key being loaded (for `getOrSetMany`, the first missing key). */
  readonly key: string
  /** Aborted when the cache closes or the loader runs past `loaderTimeout`: stop working then. */
  readonly signal: AbortSignal
  /** Return the value to the callers but do not cache it ("do not cache", unlike negative caching). */
  skip(): void
  /** Cache the result for this TTL instead of the one given (adaptive TTL). */
  setTtl(ttl: Duration): void
}

/** Options of `getOrSet`. */
export interface GetOrSetOptions extends SetOptions {
  /** How long a loader result of `undefined` ("not found") is remembered; default `negativeTtl` (0 = not remembered). */
  negativeTtl?: Duration | undefined
  /** Ignore a cached value and call the loader (callers of the same key still share one call). */
  forceFresh?: boolean | undefined
  /** Longest the loader may run (CACHE_LOADER_TIMEOUT); default `loaderTimeout`, 0 waits forever. */
  loaderTimeout?: Duration | undefined
  /** With a stale value: serve it at once while one background refresh runs; default `staleWhileRevalidate`. */
  staleWhileRevalidate?: boolean | undefined
  /** With a stale value and no stale-while-revalidate: wait this long for the loader, then serve stale. */
  softTimeout?: Duration | undefined
  /** Cross-process single flight (drivers with the `leases` capability); 0 disables it for this call. */
  lease?: Duration | undefined
}

/** What the batch loader of `getOrSetMany` may return for the keys it was given. */
export type BatchLoaderResult<T> = ReadonlyMap<string, T> | Readonly<Record<string, T>> | ReadonlyArray<T | undefined>

/** Options of `warm()`: a write's options plus how many loads run at once. */
export interface WarmOptions extends Omit<SetOptions, 'signal'> {
  /** Loads running at once; default 4. */
  concurrency?: number | undefined
}

/** Result of `warm()`. */
export interface WarmResult {
  loaded: number
  /** Keys that were already cached. */
  skipped: number
  failed: number
  errors: Array<{ key: string; error: unknown }>
}

/** Counters of one namespace. */
export interface CacheCounters {
  hits: number
  misses: number
  sets: number
  deletes: number
  evictions: number
  errors: number
}

/** `stats()`: totals, the counters of each namespace used, and the driver's own counters. */
export interface CacheStats extends CacheCounters, DriverStats {
  /** Hits / (hits + misses), 0 when nothing was read. */
  hitRatio: number
  namespaces: Record<string, CacheCounters>
}

/** One row of `entries()`. */
export interface CacheEntry<T = unknown> {
  namespace: string
  key: string
  value: T | undefined
  expiresAt: Date | undefined
  createdAt: Date
  updatedAt: Date
}

/** Filter of `entries()` plus a signal. */
export type EntriesOptions = EntriesQuery & OperationOptions

/** An ioredis `Redis` or `Cluster` you own (reused, never closed by the cache). */
export interface RedisClientLike {
  readonly status: string
  duplicate(...args: never[]): unknown
}

/** An `@beaver-kit/database` Database you own (reused, never closed by the cache). */
export interface DatabaseLike {
  readonly dialect: string
  migrator(...args: never[]): unknown
}

/** A `@beaver-kit/krypto` KeyRing. */
export interface KeyRingLike {
  encryptBytes(...args: never[]): Uint8Array
  decryptBytes(...args: never[]): Uint8Array
}

/** An AWS SDK v3 client you own (S3Client, DynamoDBClient): reused, never closed by the cache. */
export interface AwsClientLike {
  send(...args: never[]): Promise<unknown>
  destroy(): void
}

/** An `@beaver-kit/http` client to send the KV REST calls through (its retries, breaker and timeouts apply). */
export interface HttpClientLike {
  request(...args: never[]): Promise<unknown>
  close(): Promise<void>
}

/** A Workers KV namespace binding (`env.MY_KV` inside a Worker). */
export interface KvNamespaceBinding {
  get(key: string, options: { type: 'arrayBuffer' }): Promise<ArrayBuffer | null>
  put(key: string, value: ArrayBuffer | Uint8Array, options?: { expirationTtl?: number }): Promise<void>
  delete(key: string): Promise<void>
  list(options?: {
    prefix?: string
    cursor?: string
    limit?: number
  }): Promise<{ keys: Array<{ name: string }>; list_complete: boolean; cursor?: string }>
}

/** A tier given as a built driver (the `tiered` section's `tiers` may mix names and these). */
export interface TierDefinition {
  /** The built driver; the tiered driver closes it on close. */
  driver: CacheDriver
  /** Name in metrics and events; default the driver's name. */
  name?: string | undefined
  /** Most entries this tier holds under the strategy; unset = the driver's own limits. */
  capacity?: number | undefined
  /** Private to this process (memory): the bus evicts from it. Default: the driver is `memory`. */
  local?: boolean | undefined
}

/** The settings of each driver section, plus what cannot come from the environment. */
export interface CacheSectionOptions {
  memory?: CacheSettings['memory'] & {
    /** Size of a by-reference value in bytes, for `maxSize`. Default: a bounded estimate. */
    sizeOf?: ((value: unknown) => number) | undefined
    /** The clock (ms since epoch); pass `Date.now` under fake timers. */
    now?: (() => number) | undefined
  }
  redis?: CacheSettings['redis'] & {
    client?: RedisClientLike | undefined
    /** ioredis options merged over what the URL and settings give. */
    connection?: Readonly<Record<string, unknown>> | undefined
    /** ioredis Cluster options (mode cluster). */
    cluster?: Readonly<Record<string, unknown>> | undefined
  }
  db?: CacheSettings['db'] & { database?: DatabaseLike | undefined; now?: (() => number) | undefined }
  tiered?: Omit<NonNullable<CacheSettings['tiered']>, 'tiers' | 'strategy' | 'bus'> & {
    /** Tiers top first: driver names (built from their own sections) or built drivers. */
    tiers?: ReadonlyArray<string | TierDefinition> | undefined
    strategy?: 'basic' | 'adaptive' | TierStrategy | undefined
    /** `'redis'`, `'none'`, or a bus you own (shared by several caches, not closed by them). */
    bus?: 'redis' | 'none' | InvalidationBus | undefined
  }
  hybrid?: Omit<NonNullable<CacheSettings['hybrid']>, 'store'> & {
    /** The persistent store: a driver name or a built driver (not closed by the cache). */
    store?: string | CacheDriver | undefined
    /** The memory in front: a built driver that stores bytes; default the memory driver, serialized. */
    memory?: CacheDriver | undefined
  }
  encryption?: Omit<NonNullable<CacheSettings['encryption']>, 'keys' | 'inner'> & {
    /** A key ring, or its text `kid1:base64,kid2:base64`. */
    keys?: string | KeyRingLike | undefined
    /** The driver that stores the ciphertext: a name or a built driver (not closed by the cache). */
    inner?: string | CacheDriver | undefined
    /** Re-encrypt entries written under an older key when they are read; default true. */
    reencryptOnRead?: boolean | undefined
  }
  s3?: CacheSettings['s3'] & {
    client?: AwsClientLike | undefined
    /** S3Client options used to build a client when none is given. */
    clientConfig?: Readonly<Record<string, unknown>> | undefined
    /** Values at least this large are uploaded in parts; default 8 MiB. */
    multipartThreshold?: number | undefined
    /** Part size of multipart uploads; default 8 MiB (S3's minimum is 5 MiB). */
    partSize?: number | undefined
    /** Parallel requests of batch operations; default 16. */
    concurrency?: number | undefined
    /** Longest object key in UTF-8 bytes (S3 allows 1,024); longer keys are stored under their SHA-256. */
    maxKeyBytes?: number | undefined
    now?: (() => number) | undefined
  }
  dynamodb?: CacheSettings['dynamodb'] & {
    client?: AwsClientLike | undefined
    clientConfig?: Readonly<Record<string, unknown>> | undefined
    /** Attempts for unprocessed batch items before failing; default 8. */
    maxBatchAttempts?: number | undefined
    now?: (() => number) | undefined
  }
  cloudflareKv?: CacheSettings['cloudflareKv'] & {
    /** A Workers binding (`env.MY_KV`); when given, the REST settings are not used. */
    binding?: KvNamespaceBinding | undefined
    http?: HttpClientLike | undefined
    /** Parallel requests for getMany / deleteMany; default 8. */
    concurrency?: number | undefined
    now?: (() => number) | undefined
  }
}

/** Options of `createCache`: every setting (explicit options beat the environment), and what cannot come from it. */
export interface CacheOptions
  extends
    InstanceOptions,
    Omit<CacheSettings, 'driver' | 'serializer' | keyof CacheSectionOptions>,
    CacheSectionOptions {
  /** A driver name (built in or registered) or a definition (`redisDriver`, your own). */
  driver?: string | CacheDriverDefinition<never> | undefined
  /** Options of a driver that has no section of its own (a registered third-party driver). */
  driverOptions?: Readonly<Record<string, unknown>> | undefined
  /** `json` (default), `msgpack`, `raw`, or your own serializer. */
  serializer?: 'json' | 'msgpack' | 'raw' | Serializer | undefined
}
