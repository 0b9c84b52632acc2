import type { RequestBodyData } from './body.ts'
import type { HttpResponse } from './response.ts'

/** The request as interceptors see it. Change it by passing a modified copy to `next`. */
export interface HttpRequest {
  method: string
  /** Absolute URL, query included. */
  url: string
  /** Lower-case names. Write any case: what you pass to `next` (a copy or this object changed in place) is lower-cased before it is sent. */
  headers: Record<string, string>
  body: RequestBodyData
  /** The route template the call named (`/users/:id`), if any. */
  route: string | undefined
  /** Attempt number of the call, from 1. */
  attempt: number
  signal: AbortSignal | undefined
  /** Free-form per-call data, passed through `RequestOptions.context`. */
  context: Record<string, unknown>
}

/** Sends a request down the rest of the chain (the next interceptor, then the network). */
export type Next = (request: HttpRequest) => Promise<HttpResponse>

/**
 * A link of the chain. Interceptors run in registration order on the way out (the first one
 * registered sees the request first) and in reverse on the way back (it sees the response
 * last). It may rewrite the request, inspect or replace the response, call `next` again
 * (retry) or return a response without calling it (short-circuit). Runs on every attempt.
 * @example
 * const timing: Interceptor = async (req, next) => {
 *   const started = performance.now()
 *   try { return await next(req) } finally { console.log(req.method, req.url, performance.now() - started) }
 * }
 */
export type Interceptor = (request: HttpRequest, next: Next) => Promise<HttpResponse>

/** Runs `request` through `chain` from `index`, ending in `terminal`. */
export function runChain(
  chain: readonly Interceptor[],
  index: number,
  request: HttpRequest,
  terminal: Next,
): Promise<HttpResponse> {
  if (index === chain.length) return terminal(request)
  return chain[index]!(request, (next) => runChain(chain, index + 1, next, terminal))
}
