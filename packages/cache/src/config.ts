import { defineSchema, f, type SchemaConfig, type SchemaOptions } from '@beaver-kit/config'

/**
 * The env schema of the cache (section `CACHE`): `BEAVER_CACHE_DRIVER`, `BEAVER_CACHE_REDIS_URL`, ...
 * The single source of the variable names, defaults, validation and the README table.
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
      pattern: /^[^\s]*$/,
      doc: 'Namespace of this cache: every key is stored under it, and clear() only removes it',
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
      mode: f.enum({
        values: ['standalone', 'cluster', 'sentinel'],
        default: 'standalone',
        doc: 'Redis topology: one server, a Cluster (seeded by CLUSTER_NODES or the URL), or Sentinel',
      }),
      clusterNodes: f.list({ doc: 'Cluster seed nodes as host:port, comma-separated (mode cluster)' }),
      sentinels: f.list({ doc: 'Sentinel addresses as host:port, comma-separated (mode sentinel)' }),
      sentinelName: f.string({ default: 'mymaster', doc: 'Name of the master group the sentinels watch' }),
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
        doc: 'Database URL (postgres://, mysql://, sqlite:); unset uses the default @beaver-kit/database instance',
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
  },
  'cache',
)

/** The resolved cache configuration. */
export type CacheConfig = SchemaConfig<typeof cacheSchema>
/** What explicit options may set: every field of the schema, optional. */
export type CacheConfigOptions = SchemaOptions<typeof cacheSchema>

// Part 2 (tiers, hybrid, encryption) declares its own schemas; re-exported so `npm run docs` sees them.
export * from './config-part2.ts'
