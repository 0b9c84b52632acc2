export { createLimiter } from './limiter.ts'
export type {
  Decision,
  DecisionSource,
  LimitCallOptions,
  Limiter,
  LimiterOptions,
  LimitSpec,
  MultiDecision,
} from './limiter.ts'
export { limiter, initLimiter, resetLimiter, withPrefix } from './default.ts'
export { RateLimitError, isRateLimitError } from './errors.ts'
export type { RateLimitErrorCode } from './errors.ts'
export { channels } from './channels.ts'
export { ALGORITHMS } from './algorithms.ts'
export type { Algorithm, Mode, Rule } from './algorithms.ts'
export type { RateLimitStore } from './store.ts'
export type { LimitRequest, StoreResult } from './evaluate.ts'
export { MemoryStore } from './stores/memory.ts'
export type { MemoryStoreOptions } from './stores/memory.ts'
export { RedisStore } from './stores/redis.ts'
export type { RedisStoreClient, RedisStoreOptions } from './stores/redis.ts'
export { DatabaseStore } from './stores/database.ts'
export type { DatabaseStoreOptions } from './stores/database.ts'
export { clientIp, ipKey } from './client-ip.ts'
export { rateLimit, rateLimitHeaders } from './http.ts'
export type { RateLimitAnswer, RateLimitMiddlewareOptions } from './http.ts'
export { fastifyRateLimit } from './fastify.ts'
export type { FastifyLikeReply, FastifyLikeRequest } from './fastify.ts'
export { honoRateLimit } from './hono.ts'
export type { HonoLikeContext } from './hono.ts'
