// The Redis topology settings every package with a Redis store declares the same way
// (`<PREFIX><PKG>_REDIS_MODE`, `_CLUSTER_NODES`, `_SENTINELS`, `_SENTINEL_NAME`,
// `_SENTINEL_PASSWORD`), so the names, defaults, docs, secrecy and the host:port check of each
// address are written once.
import { checkRedisNode } from '@beaver-kit/core'
import { f } from './fields.ts'

type RedisMode = 'standalone' | 'cluster' | 'sentinel'

/** The schema fields of a Redis topology, to spread into a package's `redis` section. */
export function redisTopologyFields() {
  return {
    mode: f.enum<RedisMode, { values: readonly RedisMode[]; default: RedisMode; doc: string }>({
      values: ['standalone', 'cluster', 'sentinel'],
      default: 'standalone',
      doc: 'Redis topology: one server, a Cluster (seeded by CLUSTER_NODES or the URL), or a master found through SENTINELS',
    }),
    clusterNodes: f.list({
      of: checkRedisNode,
      doc: 'Cluster seed nodes as host:port, comma-separated (mode cluster; the URL gives user and password)',
    }),
    sentinels: f.list({
      of: checkRedisNode,
      doc: "Sentinel addresses as host:port, comma-separated (mode sentinel; the URL gives the master's user, password and db)",
    }),
    sentinelName: f.string({
      default: 'mymaster',
      pattern: /^[A-Za-z0-9._-]{1,128}$/,
      doc: 'Name of the master group the sentinels watch (mode sentinel)',
    }),
    sentinelPassword: f.string({
      secret: true,
      minLength: 1,
      doc: "Password the sentinels themselves require (their requirepass; mode sentinel; the master's is in the URL)",
    }),
  }
}
