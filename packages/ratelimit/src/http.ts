import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import type { Decision, Limiter } from './limiter.ts'

/** Options of the HTTP middleware; `Req` is the framework's request (node:http, Fastify, Hono). */
export interface RateLimitMiddlewareOptions<Req = IncomingMessage> {
  /** The key of a request. Default: the client address (`limiter.clientKey`). */
  key?: (req: Req) => string | Promise<string>
  /** Units a request costs. Default 1. */
  cost?: number | ((req: Req) => number)
  /** The policy name in the `RateLimit` headers. Default `default`. */
  policy?: string
  /** Requests the limit does not apply to (health checks). */
  skip?: (req: Req) => boolean
}

/** The headers of a decision (IETF draft-ietf-httpapi-ratelimit-headers: `RateLimit`, `RateLimit-Policy`). */
export function rateLimitHeaders(limiter: Limiter, d: Decision, policy = 'default'): Record<string, string> {
  const name = JSON.stringify(policy)
  const headers: Record<string, string> = {
    'ratelimit-policy': `${name};q=${limiter.rule.limit};w=${Math.ceil(limiter.rule.windowMs / 1000)}`,
    ratelimit: `${name};r=${d.remaining};t=${Math.ceil(d.resetMs / 1000)}`,
  }
  if (!d.allowed) headers['retry-after'] = String(Math.max(1, Math.ceil(d.retryAfterMs / 1000)))
  return headers
}

/** What every adapter does with a request: the headers to set, and the problem+json body when refused. */
export interface RateLimitAnswer {
  headers: Record<string, string>
  /** The RFC 9457 body of the 429, or undefined when the request may go on. */
  refusal: string | undefined
}

/** The problem+json media type of a refusal. */
export const PROBLEM_JSON = 'application/problem+json'

/**
 * The one core under every adapter: keys and costs the request, asks the limiter, and says
 * what to answer. Undefined when the request is skipped.
 */
export async function answerRequest<Req>(
  limiter: Limiter,
  options: RateLimitMiddlewareOptions<Req>,
  req: Req,
  remoteAddress: string | undefined,
  headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>,
): Promise<RateLimitAnswer | undefined> {
  if (options.skip?.(req)) return undefined
  const key = options.key ? await options.key(req) : limiter.clientKey(remoteAddress, headers)
  const cost = typeof options.cost === 'function' ? options.cost(req) : (options.cost ?? 1)
  const d = await limiter.limit(key, { cost })
  const out = rateLimitHeaders(limiter, d, options.policy ?? 'default')
  if (d.allowed) return { headers: out, refusal: undefined }
  const seconds = Math.max(1, Math.ceil(d.retryAfterMs / 1000))
  const refusal = JSON.stringify({
    type: 'about:blank',
    title: 'Too Many Requests',
    status: 429,
    detail: `Rate limit exceeded; retry in ${seconds} s.`,
  })
  return { headers: out, refusal }
}

/**
 * Middleware for node:http and Express (same signature): sets the rate-limit headers, and
 * answers a refused request with 429, `Retry-After` and an RFC 9457 problem+json body.
 * Resolves true when it answered; calls `next()` (when given) otherwise.
 * @example
 * const limit = rateLimit(createLimiter({ limit: 100, window: '1m' }))
 * http.createServer(async (req, res) => { if (await limit(req, res)) return; ... })
 */
export function rateLimit(
  limiter: Limiter,
  options: RateLimitMiddlewareOptions = {},
): (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => Promise<boolean> {
  return async (req, res, next) => {
    try {
      const answer = await answerRequest(limiter, options, req, req.socket.remoteAddress, req.headers)
      if (answer === undefined || answer.refusal === undefined) {
        if (answer) for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value)
        next?.()
        return false
      }
      for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value)
      res.statusCode = 429
      res.setHeader('content-type', PROBLEM_JSON)
      res.setHeader('content-length', Buffer.byteLength(answer.refusal))
      res.end(answer.refusal)
      return true
    } catch (error) {
      if (next) {
        next(error)
        return true
      }
      throw error
    }
  }
}
