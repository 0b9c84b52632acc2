import { importPeer } from '@beaver-kit/core'
import {
  createRedisTokenBucket,
  createTokenBucket,
  type RedisEvalClient,
  type SendRateLimiter,
} from '@beaver-kit/delivery'
import type { MailConfig } from './config.ts'

/** The mailer's pacing, and what closing it takes (a Redis connection). */
export interface BuiltLimiter {
  readonly limiter: SendRateLimiter | undefined
  close(): Promise<void>
}

interface RedisClient extends RedisEvalClient {
  quit(): Promise<unknown>
}

/**
 * The send rate from BEAVER_MAIL_RATE_LIMIT_*: one token bucket for every connection of this
 * process, or in Redis for every process sending through the same account.
 */
export async function buildRateLimiter(config: MailConfig): Promise<BuiltLimiter> {
  const { perSecond, burst, redisUrl, key } = config.rateLimit
  if (perSecond === undefined || perSecond === 0) return { limiter: undefined, close: async () => {} }
  if (redisUrl === undefined) return { limiter: createTokenBucket({ perSecond, burst }), close: async () => {} }
  const { Redis } = await importPeer(
    'ioredis',
    () => import('ioredis'),
    'the shared mail rate limit (BEAVER_MAIL_RATE_LIMIT_REDIS_URL)',
  )
  const client = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 3 }) as unknown as RedisClient
  return {
    limiter: createRedisTokenBucket({ client, key, perSecond, burst }),
    close: async () => {
      await client.quit()
    },
  }
}
