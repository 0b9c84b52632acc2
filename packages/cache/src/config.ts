import { defineSchema, f, redisTopologyFields, type SchemaConfig, type SchemaOptions } from '@beaver-kit/config'

/**
 * Every `BEAVER_CACHE_*` setting, resolved once by `createCache`: the main settings first, then
 * one section per driver (`BEAVER_CACHE_MEMORY_*`, `_REDIS_*`, `_DB_*`, `_TIERED_*`, `_HYBRID_*`,
 * `_ENCRYPTION_*`, `_S3_*`, `_DYNAMODB_*`, `_CLOUDFLARE_KV_*`). A driver definition names its
 * section (`redisDriver.section === 'redis'`), so a composite driver's inner drivers read theirs.
 * The single source of the variable names, defaults, validation, the README table and `describe()`.
 */
export const cacheSchema = defineSchema(
  'CACHE',
  {
    driver: f.string({
      default: 'memory',
      minLength: 1,
      doc: 'Which driver stores entries: memory, redis, database, tiered, hybrid, encrypted, s3, dynamodb, cloudflare-kv, or the name of a registered driver',
    }),
    namespace: f.string({
      default: 'cache',
      // Segments joined by ":"; none empty, without spaces or control characters.
      pattern: /^(?:[^\s:\p{Cc}]+(?::[^\s:\p{Cc}]+)*)?$/u,
      doc: 'Namespace of this cache, segments joined by ":" (a:b is b nested in a): every key is stored under it, and clear() only removes it',
    }),
    defaultTtl: f.duration({ default: '1h', doc: 'TTL of entries set without one; 0 means they never expire' }),
    negativeTtl: f.duration({
      default: '0',
      doc: 'How long getOrSet remembers a "not found" (loader returned undefined); 0 disables negative caching',
    }),
    serializer: f.enum({
      values: ['json', 'msgpack', 'raw'],
      default: 'json',
      doc: 'How values become bytes: json (round-trips Date, BigInt, Map, Set, Uint8Array), msgpack (needs msgpackr), raw (Uint8Array only)',
    }),
    maxKeyLength: f.int({ default: 1024, min: 1, max: 65_536, doc: 'Longest key accepted, in UTF-16 code units' }),
    maxEntrySize: f.bytes({ default: '0', doc: 'Largest serialized value accepted by set(); 0 means no limit' }),
    loaderTimeout: f.duration({
      default: '30s',
      doc: 'Longest a getOrSet loader may run: then its callers get CACHE_LOADER_TIMEOUT (or a stale value), its signal aborts and the key is free to load again; 0 waits forever',
    }),
    staleWhileRevalidate: f.boolean({
      default: true,
      doc: 'With a driver that keeps stale entries (tiered, grace): serve a stale value at once while one background refresh runs',
    }),
    softTimeout: f.duration({
      default: '0',
      doc: 'With a stale value and no stale-while-revalidate: wait this long for the loader, then serve the stale value; 0 waits',
    }),
    lease: f.duration({
      default: '10s',
      doc: 'With a driver that has a tier shared between processes (tiered over redis): the lease a process holds while it loads a key, so one process loads it; 0 disables',
    }),
    memory: {
      maxItems: f.int({ default: 10_000, min: 1, doc: 'Most entries the memory driver keeps' }),
      maxSize: f.bytes({
        default: '0',
        doc: 'Most bytes the memory driver keeps (estimated for by-reference values); 0 means no limit',
      }),
      policy: f.enum({ values: ['sieve', 'lru'], default: 'sieve', doc: 'Eviction policy of the memory driver' }),
      storage: f.enum({
        values: ['reference', 'serialized'],
        default: 'reference',
        doc: 'Memory values kept by reference (fastest, mutations are shared) or serialized (copies, exact byte accounting)',
      }),
      sweepInterval: f.duration({
        default: '10s',
        doc: 'How often the memory driver removes expired entries in the background; 0 disables',
      }),
      sweepBatch: f.int({
        default: 1000,
        min: 1,
        doc: 'Most entries one background sweep looks at (bounds its pause)',
      }),
    },
    redis: {
      url: f.url({
        protocols: ['redis', 'rediss'],
        default: 'redis://127.0.0.1:6379',
        doc: 'Redis URL (user, password and db number may be in it)',
      }),
      ...redisTopologyFields(),
      username: f.string({ doc: 'Redis ACL user (overrides the URL)' }),
      password: f.string({ secret: true, doc: 'Redis password (overrides the URL)' }),
      tls: f.boolean({ default: false, doc: 'Use TLS (also implied by rediss://)' }),
      connectTimeout: f.duration({ default: '10s', doc: 'Time allowed to connect' }),
      commandTimeout: f.duration({ default: '0', doc: 'Fail a command that gets no answer within this time; 0 waits' }),
      maxRetriesPerRequest: f.int({
        default: 3,
        min: 0,
        doc: 'Reconnect attempts a pending command waits through before it fails',
      }),
      clearBatch: f.int({ default: 500, min: 1, max: 100_000, doc: 'Keys per SCAN page and UNLINK call in clear()' }),
    },
    db: {
      url: f.url({
        doc: 'Database URL (postgres://, mysql://, sqlite:) of the database driver; unset uses the default @beaver-kit/database instance',
      }),
      table: f.string({
        default: 'beaver_cache',
        pattern: /^[A-Za-z_][A-Za-z0-9_]{0,62}$/,
        doc: 'Table that holds the entries (created by the driver)',
      }),
      migrate: f.boolean({ default: true, doc: 'Create the table and its index when missing' }),
      sweepInterval: f.duration({ default: '1m', doc: 'How often expired rows are deleted; 0 disables' }),
      sweepBatch: f.int({ default: 500, min: 1, doc: 'Most expired rows one sweep statement deletes' }),
      readFromReplica: f.boolean({ default: false, doc: 'Send reads to a replica when the database has one' }),
    },
    tiered: {
      tiers: f.list({
        doc: 'Tiers of the tiered driver, top first: memory,redis,database,s3 or registered driver names (default memory,redis)',
      }),
      strategy: f.enum({
        values: ['basic', 'adaptive'],
        default: 'adaptive',
        doc: 'basic: promote on any hit; adaptive: frequency-based admission (TinyLFU) and demotion of cold entries',
      }),
      writes: f.enum({
        values: ['all', 'top'],
        default: 'all',
        doc: 'all: writes go to every tier; top: only the top tier, lower tiers receive demoted entries',
      }),
      topCapacity: f.int({
        default: 0,
        min: 0,
        doc: 'Entries the top tier holds under the strategy; 0 uses BEAVER_CACHE_MEMORY_MAX_ITEMS',
      }),
      grace: f.duration({
        default: '0',
        doc: 'How long an expired entry is kept to be served stale (while it is refreshed, or when the loader fails); per entry with set/getOrSet grace',
      }),
      bus: f.enum({
        values: ['none', 'redis'],
        default: 'none',
        doc: 'Invalidation bus between processes sharing a tier: a write elsewhere evicts the key from this process memory tier',
      }),
      busUrl: f.url({ protocols: ['redis', 'rediss'], doc: 'Redis URL of the bus; default BEAVER_CACHE_REDIS_URL' }),
      busChannel: f.string({
        default: 'beaver:cache:bus',
        minLength: 1,
        doc: 'Pub/sub channel of the bus (the processes of one cache share it)',
      }),
      busKey: f.string({
        secret: true,
        minLength: 16,
        doc: 'Shared secret that signs bus messages (HMAC-SHA256); with it, unsigned or forged messages are dropped and counted',
      }),
    },
    hybrid: {
      store: f.string({
        default: 'redis',
        minLength: 1,
        doc: 'Persistent store behind the hybrid memory: redis, database or a registered driver',
      }),
      mode: f.enum({
        values: ['write-through', 'write-behind'],
        default: 'write-through',
        doc: 'write-through: acknowledged after the store; write-behind: after memory, flushed in batches',
      }),
      queueMax: f.int({
        default: 100_000,
        min: 1,
        doc: 'Most writes waiting for the store; writers then wait (back-pressure)',
      }),
      queueWait: f.duration({
        default: '30s',
        doc: 'How long a writer waits for room in a full queue before CACHE_BACKPRESSURE',
      }),
      flushInterval: f.duration({ default: '100ms', doc: 'How often queued writes are flushed' }),
      batch: f.int({ default: 500, min: 1, doc: 'Most writes per flush round trip' }),
      probeInterval: f.duration({ default: '1s', doc: 'While the store is down, how often it is probed' }),
      closeTimeout: f.duration({
        default: '10s',
        doc: 'How long close() keeps trying to flush queued writes before CACHE_WRITE_BEHIND_PENDING',
      }),
    },
    encryption: {
      keys: f.string({
        secret: true,
        doc: 'Key ring of the encrypted driver: kid1:base64key,kid2:base64key (the first encrypts, all decrypt)',
      }),
      inner: f.string({
        default: 'redis',
        minLength: 1,
        doc: 'Driver that stores the ciphertext of the encrypted driver: redis, database, memory or a registered driver',
      }),
    },
    s3: {
      bucket: f.string({
        minLength: 1,
        doc: 'Bucket of the s3 driver (needed with BEAVER_CACHE_DRIVER=s3 or an s3 tier)',
      }),
      prefix: f.string({ default: '', doc: 'Object key prefix of the s3 driver, e.g. cache/' }),
      region: f.string({ minLength: 1, doc: 'AWS region of the bucket; unset uses the AWS SDK default' }),
      endpoint: f.url({
        protocols: ['http', 'https'],
        doc: 'Endpoint of an S3-compatible store (MinIO, R2, a local server); unset uses AWS',
      }),
      forcePathStyle: f.boolean({
        default: false,
        doc: 'Path-style requests (bucket in the path), which most S3-compatible stores need',
      }),
      accessKeyId: f.string({ minLength: 1, doc: 'Access key id; unset uses the AWS SDK credential chain' }),
      secretAccessKey: f.string({ secret: true, minLength: 1, doc: 'Secret access key (with the access key id)' }),
      checksums: f.enum({
        values: ['when-supported', 'when-required'],
        default: 'when-supported',
        doc: 'Request checksums: when-required for S3-compatible stores that reject the AWS SDK default ones',
      }),
    },
    dynamodb: {
      table: f.string({
        default: 'beaver_cache',
        minLength: 1,
        doc: 'Table of the dynamodb driver (create it with createDynamoDbCacheTable)',
      }),
      region: f.string({ minLength: 1, doc: 'AWS region of the table; unset uses the AWS SDK default' }),
      endpoint: f.url({
        protocols: ['http', 'https'],
        doc: 'DynamoDB endpoint (DynamoDB Local, a VPC endpoint); unset uses AWS',
      }),
      accessKeyId: f.string({ minLength: 1, doc: 'Access key id; unset uses the AWS SDK credential chain' }),
      secretAccessKey: f.string({ secret: true, minLength: 1, doc: 'Secret access key (with the access key id)' }),
    },
    cloudflareKv: {
      accountId: f.string({ minLength: 1, doc: 'Cloudflare account id of the cloudflare-kv driver (REST API)' }),
      namespaceId: f.string({ minLength: 1, doc: 'Workers KV namespace id' }),
      apiToken: f.string({ secret: true, minLength: 1, doc: 'API token with "Workers KV Storage: Edit"' }),
      apiBase: f.url({
        protocols: ['http', 'https'],
        default: 'https://api.cloudflare.com/client/v4',
        doc: 'Base URL of the Cloudflare API',
      }),
    },
  },
  'cache',
)

/** The resolved cache settings (durations in ms, sizes in bytes). */
export type CacheConfig = SchemaConfig<typeof cacheSchema>
/** What explicit options may set: every field of the schema, optional. */
export type CacheSettings = SchemaOptions<typeof cacheSchema>
/** The sections of the settings a driver definition may name as its own. */
export type CacheSection =
  'memory' | 'redis' | 'db' | 'tiered' | 'hybrid' | 'encryption' | 's3' | 'dynamodb' | 'cloudflareKv'
