import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
import { answerRequest, PROBLEM_JSON, type RateLimitMiddlewareOptions } from './http.ts'
import type { Limiter } from './limiter.ts'

/** The parts of a Fastify request the hook reads (typed structurally: no fastify import). */
export interface FastifyLikeRequest {
  method: string
  url: string
  headers: IncomingHttpHeaders
  raw: IncomingMessage
}

/** The parts of a Fastify reply the hook writes. */
export interface FastifyLikeReply {
  header(name: string, value: string): unknown
  code(status: number): unknown
  type(contentType: string): unknown
  send(payload: string): unknown
}

/**
 * A Fastify `onRequest` hook over the same core as `rateLimit()`: the `RateLimit` headers on
 * every answer, a 429 with `Retry-After` and problem+json past the limit. The client address
 * is the socket's, walked through `BEAVER_RATELIMIT_TRUSTED_PROXIES` (not Fastify's `trustProxy`).
 * @example
 * app.addHook('onRequest', fastifyRateLimit(createLimiter({ limit: 100, window: '1m' })))
 */
export function fastifyRateLimit<Req extends FastifyLikeRequest, Reply extends FastifyLikeReply>(
  limiter: Limiter,
  options: RateLimitMiddlewareOptions<Req> = {},
): (request: Req, reply: Reply) => Promise<void> {
  return async function rateLimitHook(request, reply) {
    const answer = await answerRequest(limiter, options, request, request.raw.socket.remoteAddress, request.headers)
    if (answer === undefined) return
    for (const [name, value] of Object.entries(answer.headers)) reply.header(name, value)
    if (answer.refusal === undefined) return
    reply.code(429)
    reply.type(PROBLEM_JSON)
    await reply.send(answer.refusal)
  }
}
