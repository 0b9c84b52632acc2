import { isStreamBody, type Call } from './call.ts'
import { HttpRequestError } from './errors.ts'
import type { Hop } from './exchange.ts'
import { withoutHeaders } from './headers.ts'
import type { ClientSettings } from './options.ts'
import type { HttpResponse } from './response.ts'
import { safeUrl } from './url.ts'

const REDIRECTS = new Set([301, 302, 303, 307, 308])
/** Credentials are for the origin they were given to. */
const CREDENTIALS = new Set(['authorization', 'cookie', 'proxy-authorization'])
const BODY_HEADERS = new Set(['content-type', 'content-length'])

/**
 * Sends `hop` and follows redirects as the call's policy says: every hop is a new exchange
 * (so the egress guard, the breaker and the bulkhead see each one).
 */
export async function followRedirects(
  call: Call,
  first: Hop,
  settings: ClientSettings,
  exchange: (call: Call, hop: Hop) => Promise<HttpResponse>,
): Promise<HttpResponse> {
  let hop = first
  for (let hops = 0; ; hops++) {
    const response = await exchange(call, hop)
    const next = nextHop(call, hop, response, hops, settings)
    if (next === undefined) return response
    hop = next
  }
}

/**
 * The hop a redirect response asks for, or undefined when the response is the answer.
 * Refuses (HTTP_REDIRECT) what would be unsafe to follow: other schemes, https to http
 * (unless `redirectDowngrade`), more than `maxRedirects`, and a stream body that was already
 * sent. 303, and 301/302 after POST, become GET without a body; credentials (any case) stay
 * with their origin.
 */
export function nextHop(
  call: Call,
  hop: Hop,
  response: HttpResponse,
  hops: number,
  settings: ClientSettings,
): Hop | undefined {
  if (call.redirect === 'manual' || !REDIRECTS.has(response.status)) return undefined
  const location = response.header('location')
  if (location === undefined) return undefined
  const { method } = hop
  const from = safeUrl(hop.origin, hop.path)
  const refuse = (why: string): HttpRequestError =>
    new HttpRequestError('HTTP_REDIRECT', `${method} ${from} answered ${response.status}: ${why}`, {
      details: { method, url: from, status: response.status, attempts: call.attempt },
    })
  if (call.redirect === 'error') throw refuse(`a redirect to ${location}, and redirect is 'error'.`)
  if (hops >= call.maxRedirects)
    throw refuse(`more than ${call.maxRedirects} redirects. Raise maxRedirects or fix the loop.`)
  let next: URL
  try {
    next = new URL(location, hop.origin + hop.path)
  } catch {
    throw refuse(`its Location is not a URL, so it is not followed.`)
  }
  if (next.protocol !== 'http:' && next.protocol !== 'https:') {
    throw refuse(`a redirect to a ${next.protocol} URL, which is not followed.`)
  }
  if (next.protocol === 'http:' && hop.origin.startsWith('https:') && !settings.redirectDowngrade) {
    throw refuse(
      `a redirect from https to plain http (${next.origin}), which is refused so that nothing falls back to clear text. Set redirectDowngrade (BEAVER_HTTP_REDIRECT_DOWNGRADE) to follow it.`,
    )
  }
  response.body?.destroy()
  const switchToGet =
    response.status === 303
      ? method !== 'HEAD'
      : (response.status === 301 || response.status === 302) && method === 'POST'
  if (!switchToGet && isStreamBody(hop.body)) {
    throw refuse(
      `a redirect that needs the body sent again, but a stream body cannot be (it was read once). Send bytes, or call ${next.origin} directly.`,
    )
  }
  const crossOrigin = next.origin !== hop.origin
  let headers = crossOrigin ? withoutHeaders(hop.headers, CREDENTIALS) : hop.headers
  if (switchToGet) headers = withoutHeaders(headers, BODY_HEADERS)
  return {
    method: switchToGet ? 'GET' : method,
    origin: next.origin,
    path: next.pathname + next.search,
    headers,
    body: switchToGet ? null : hop.body,
  }
}
