import type { LimiterSettings } from '../config.ts'
import type { RateLimitStore } from '../store.ts'
import { DatabaseStore } from './database.ts'
import { MemoryStore } from './memory.ts'
import { RedisStore } from './redis.ts'

type Resolved = Required<Pick<LimiterSettings, 'store' | 'maxKeys'>> & LimiterSettings & { timeout: number }

/** The store a limiter's settings name; nothing connects until first use. */
export function buildStore(v: Resolved): RateLimitStore {
  if (v.store === 'redis') {
    return new RedisStore({
      ...(v.redis?.url ? { url: v.redis.url } : {}),
      ...(v.redis?.password ? { password: v.redis.password } : {}),
      ...(v.redis?.prefix ? { prefix: v.redis.prefix } : {}),
      ...(v.redis?.mode === 'cluster' ? { cluster: { nodes: v.redis.clusterNodes ?? [] } } : {}),
      ...(v.redis?.mode === 'sentinel'
        ? {
            sentinel: {
              nodes: v.redis.sentinels ?? [],
              ...(v.redis.sentinelName ? { name: v.redis.sentinelName } : {}),
              ...(v.redis.sentinelPassword ? { password: v.redis.sentinelPassword } : {}),
            },
          }
        : {}),
      ...(v.redis?.slot ? { slot: v.redis.slot } : {}),
      timeoutMs: v.timeout,
    })
  }
  if (v.store === 'database') {
    return new DatabaseStore({
      ...(v.db?.url ? { url: v.db.url } : {}),
      ...(v.db?.table ? { table: v.db.table } : {}),
    })
  }
  return new MemoryStore({ maxKeys: v.maxKeys })
}
