import { defineSchema, f, redisTopologyFields, type SchemaOptions } from '@beaver-kit/config'
import { ALGORITHMS } from './algorithms.ts'

const NAME = /^[A-Za-z0-9_-]{1,64}$/

/** Every BEAVER_RATELIMIT_* setting: the one source of names, defaults, validation and the README table. */
export const limiterSchema = defineSchema(
  'RATELIMIT',
  {
    store: f.enum({
      values: ['memory', 'redis', 'database'],
      default: 'memory',
      doc: 'Where counters live: memory (this process), redis, or database (PostgreSQL, MariaDB, SQLite)',
    }),
    algorithm: f.enum({
      values: ALGORITHMS,
      default: 'sliding-window',
      doc: 'fixed-window, sliding-window (weighted counter), sliding-log (exact), token-bucket or gcra',
    }),
    limit: f.int({ default: 60, min: 1, max: 1_000_000_000, doc: 'Units allowed per window' }),
    window: f.duration({
      default: '1m',
      doc: 'The window the limit is counted over (the refill period of the buckets)',
    }),
    burst: f.int({
      min: 1,
      max: 1_000_000_000,
      doc: 'Bucket size of token-bucket and gcra: how many units may go at once (default: the limit)',
    }),
    namespace: f.string({
      default: 'default',
      pattern: NAME,
      doc: 'Scope of every key (letters, digits, _ and -): two namespaces never share a counter',
    }),
    failPolicy: f.enum({
      values: ['open', 'closed'],
      default: 'open',
      doc: 'While the store is away: open (decide from an in-memory limiter) or closed (refuse)',
    }),
    shadow: f.boolean({ default: false, doc: 'Evaluate and report, never refuse (try a limit on live traffic)' }),
    timeout: f.duration({ default: '500ms', doc: 'Longest a store call may take before it counts as a failure' }),
    maxKeys: f.int({
      default: 100_000,
      min: 100,
      doc: 'Most keys the memory store (and the insurance limiter) keeps; least recently used go first',
    }),
    trustedProxies: f.list({
      default: [],
      doc: 'Addresses or CIDRs of proxies whose X-Forwarded-For / Forwarded the middleware believes',
    }),
    ipv6Subnet: f.int({
      default: 56,
      min: 1,
      max: 128,
      doc: 'IPv6 clients are keyed by this prefix, so one host cannot rotate through its /64',
    }),
    redis: {
      url: f.url({ protocols: ['redis', 'rediss'], default: 'redis://127.0.0.1:6379', doc: 'Redis URL' }),
      password: f.string({ secret: true, doc: 'Redis password (overrides the URL)' }),
      prefix: f.string({ default: 'rl', pattern: NAME, doc: 'First segment of every Redis key' }),
      ...redisTopologyFields(),
      slot: f.enum({
        values: ['key', 'namespace'],
        default: 'key',
        doc: 'What shares a Cluster slot: each key (keys spread; a limitAll() across slots is refused) or each namespace (any limitAll() is atomic)',
      }),
    },
    db: {
      url: f.url({
        protocols: ['postgres', 'postgresql', 'mysql', 'mariadb', 'sqlite', 'file'],
        doc: 'Database of the database store (default: the default db() of @beaver-kit/database)',
      }),
      table: f.string({
        default: 'beaver_ratelimit',
        pattern: /^[a-z_][a-z0-9_]{0,40}$/,
        doc: 'Table of the database store',
      }),
    },
  },
  'ratelimit',
)

export type LimiterSettings = SchemaOptions<typeof limiterSchema>
