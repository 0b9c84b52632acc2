import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Decision, Limiter } from './limiter.ts'

/** Options of the HTTP middleware. */
export interface RateLimitMiddlewareOptions {
  /** The key of a request. Default: the client address (`limiter.clientKey`). */
  key?: (req: IncomingMessage) => string | Promise<string>
  /** Units a request costs. Default 1. */
  cost?: number | ((req: IncomingMessage) => number)
  /** The policy name in the `RateLimit` headers. Default `default`. */
  policy?: string
  /** Requests the limit does not apply to (health checks). */
  skip?: (req: IncomingMessage) => boolean
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
  const policy = options.policy ?? 'default'
  return async (req, res, next) => {
    try {
      if (options.skip?.(req)) {
        next?.()
        return false
      }
      const key = options.key ? await options.key(req) : limiter.clientKey(req.socket.remoteAddress, req.headers)
      const cost = typeof options.cost === 'function' ? options.cost(req) : (options.cost ?? 1)
      const d = await limiter.limit(key, { cost })
      for (const [name, value] of Object.entries(rateLimitHeaders(limiter, d, policy))) res.setHeader(name, value)
      if (d.allowed) {
        next?.()
        return false
      }
      const seconds = Math.max(1, Math.ceil(d.retryAfterMs / 1000))
      const body = JSON.stringify({
        type: 'about:blank',
        title: 'Too Many Requests',
        status: 429,
        detail: `Rate limit exceeded; retry in ${seconds} s.`,
      })
      res.statusCode = 429
      res.setHeader('content-type', 'application/problem+json')
      res.setHeader('content-length', Buffer.byteLength(body))
      res.end(body)
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
