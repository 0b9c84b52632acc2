import { defineSchema, f, type SchemaConfig, type SchemaOptions } from '@beaver-kit/config'

/**
 * The env schema of part 2 of the cache (section `CACHE`): tiers, grace, single-flight
 * leases, the invalidation bus, the hybrid driver and encryption. Driver sections of each
 * tier (`BEAVER_CACHE_MEMORY_*`, `BEAVER_CACHE_REDIS_*`, `BEAVER_CACHE_DB_*`) come from `cacheSchema`.
 */
export const cacheTiersSchema = defineSchema(
  'CACHE',
  {
    tiers: f.list({ doc: 'Tiers of a tiered cache, top first: memory,redis,database or registered driver names' }),
    tierStrategy: f.enum({
      values: ['basic', 'adaptive'],
      default: 'adaptive',
      doc: 'basic: promote on any hit; adaptive: frequency-based admission (TinyLFU) and demotion of cold entries',
    }),
    tierWrites: f.enum({
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
      doc: 'How long an expired entry may still be served while it is refreshed, or when the loader fails',
    }),
    staleWhileRevalidate: f.boolean({
      default: true,
      doc: 'Serve a stale (in-grace) value at once while one background refresh runs',
    }),
    softTimeout: f.duration({
      default: '0',
      doc: 'With a stale value and no stale-while-revalidate, wait this long for the loader before serving stale; 0 waits',
    }),
    hardTimeout: f.duration({
      default: '0',
      doc: 'Longest a getOrSet caller waits for the loader (CACHE_LOADER_TIMEOUT); 0 waits',
    }),
    lease: f.duration({
      default: '10s',
      doc: 'Distributed single-flight: lease a process holds in the shared tier while it loads a key; 0 disables',
    }),
    bus: f.enum({
      values: ['none', 'redis'],
      default: 'none',
      doc: 'Invalidation bus between processes sharing a tier',
    }),
    busUrl: f.url({ protocols: ['redis', 'rediss'], doc: 'Redis URL of the bus; default BEAVER_CACHE_REDIS_URL' }),
    busChannel: f.string({
      default: 'beaver:cache:bus',
      doc: 'Pub/sub channel of the bus (processes of one cache share it)',
    }),
  },
  'cache (tiers, grace, bus)',
)

/** The hybrid driver's settings (section `CACHE`, `BEAVER_CACHE_HYBRID_*`). */
export const cacheHybridSchema = defineSchema(
  'CACHE',
  {
    hybrid: {
      store: f.string({
        default: 'redis',
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
      flushInterval: f.duration({ default: '100ms', doc: 'How often queued writes are flushed' }),
      batch: f.int({ default: 500, min: 1, doc: 'Most writes per flush round trip' }),
      probeInterval: f.duration({ default: '1s', doc: 'While the store is down, how often it is probed' }),
    },
  },
  'cache (hybrid)',
)

/** The encrypted wrapper's settings (section `CACHE`, `BEAVER_CACHE_ENCRYPTION_*`). */
export const cacheEncryptionSchema = defineSchema(
  'CACHE',
  {
    encryption: {
      keys: f.string({
        secret: true,
        doc: 'Key ring of the encrypted wrapper: kid1:base64key,kid2:base64key (first encrypts, all decrypt)',
      }),
      inner: f.string({
        default: 'redis',
        minLength: 1,
        doc: 'Driver that stores the ciphertext (BEAVER_CACHE_DRIVER=encrypted): redis, database, memory or a registered driver',
      }),
    },
  },
  'cache (encryption)',
)

/**
 * The cloud drivers' settings (section `CACHE`): `BEAVER_CACHE_S3_*`, `BEAVER_CACHE_DYNAMODB_*`,
 * `BEAVER_CACHE_CLOUDFLARE_KV_*`. Unset AWS region and credentials fall back to the AWS SDK's
 * own chain (AWS_REGION, AWS_ACCESS_KEY_ID, profiles, instance roles).
 */
export const cacheCloudSchema = defineSchema(
  'CACHE',
  {
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
  'cache (s3, dynamodb, cloudflare-kv)',
)

/** Resolved tier settings. */
export type CacheTiersConfig = SchemaConfig<typeof cacheTiersSchema>
/** Tier settings as options. */
export type CacheTiersConfigOptions = SchemaOptions<typeof cacheTiersSchema>
/** Resolved hybrid settings. */
export type CacheHybridConfig = SchemaConfig<typeof cacheHybridSchema>
/** Resolved encryption settings. */
export type CacheEncryptionConfig = SchemaConfig<typeof cacheEncryptionSchema>
/** Resolved cloud driver settings. */
export type CacheCloudConfig = SchemaConfig<typeof cacheCloudSchema>
