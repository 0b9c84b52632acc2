import { answerRequest, PROBLEM_JSON, type RateLimitMiddlewareOptions } from './http.ts'
import type { Limiter } from './limiter.ts'

/** The parts of a Hono context the middleware uses (typed structurally: no hono import). */
export interface HonoLikeContext {
  req: { raw: Request }
  /** On @hono/node-server: `{ incoming, outgoing }`, where the client address is read. */
  env: unknown
  header(name: string, value: string): void
}

/** The client address Hono's Node adapter exposes (`c.env.incoming.socket`); undefined elsewhere. */
function nodeAddress(env: unknown): string | undefined {
  const incoming = (env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming
  return incoming?.socket?.remoteAddress
}

/**
 * Hono middleware over the same core as `rateLimit()`. On @hono/node-server the client
 * address is the socket's (walked through the trusted proxies); on other runtimes pass `key`.
 * @example
 * app.use(honoRateLimit(createLimiter({ limit: 100, window: '1m' })))
 */
export function honoRateLimit<C extends HonoLikeContext>(
  limiter: Limiter,
  options: RateLimitMiddlewareOptions<C> = {},
): (c: C, next: () => Promise<void>) => Promise<Response | undefined> {
  return async function rateLimitMiddleware(c, next) {
    const headers = Object.fromEntries(c.req.raw.headers)
    const answer = await answerRequest(limiter, options, c, nodeAddress(c.env), headers)
    if (answer !== undefined && answer.refusal !== undefined) {
      return new Response(answer.refusal, {
        status: 429,
        headers: { ...answer.headers, 'content-type': PROBLEM_JSON },
      })
    }
    if (answer !== undefined) for (const [name, value] of Object.entries(answer.headers)) c.header(name, value)
    await next()
    return undefined
  }
}
