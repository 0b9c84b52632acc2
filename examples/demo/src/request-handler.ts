import type http from 'node:http'
import { isDatabaseError } from '@beaver-kit/database'
import { uuidv7 } from '@beaver-kit/krypto'
import { withLogContext, type Logger } from '@beaver-kit/logger'
import { HttpProblem, sendJson } from './respond.ts'
import { matchRoute } from './routes.ts'

/** Answers one request whose target parsed; returns the status sent. */
export type Route = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => Promise<number>

/**
 * Every request: its request id (the caller's when well-formed, else a UUIDv7) in the log
 * context and the response, the route's errors as JSON problems (an HttpProblem as it is, a
 * database outage as 503, anything else as a logged 500 that says nothing inside), and one
 * access log line with the path only.
 */
export function handleRequests(
  route: Route,
  log: Logger,
  baseUrl: () => string,
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return function handleRequest(req, res) {
    const requestId = headerValue(req.headers['x-request-id']) ?? uuidv7()
    res.setHeader('x-request-id', requestId)
    const started = performance.now()
    void withLogContext({ requestId }, async () => {
      let status: number
      // The path only: a query may hold a capability (the signed delete URL's sig=).
      let path = '(unparsable)'
      try {
        const url = parseTarget(req.url, baseUrl())
        path = url.pathname
        status = await route(req, res, url)
      } catch (err) {
        status = err instanceof HttpProblem ? err.status : isDatabaseOutage(err) ? 503 : 500
        if (status === 500) log.error({ err }, 'request failed')
        if (status === 503) log.warn({ err }, 'request failed: the database is unavailable')
        const message =
          err instanceof HttpProblem
            ? err.message
            : status === 503
              ? 'database unavailable, try again'
              : 'internal error'
        if (!res.headersSent) sendJson(res, status, { error: message }, err instanceof HttpProblem ? err.headers : {})
        else res.destroy()
      }
      const ms = Math.round((performance.now() - started) * 10) / 10
      log.info({ method: req.method, path, status, ms }, 'request')
    })
  }
}

/** A database failure that means it is unreachable or overloaded: 503, try again later. */
function isDatabaseOutage(err: unknown): boolean {
  return isDatabaseError(err, 'DB_CONNECTION', 'DB_TIMEOUT', 'DB_NOT_READY', 'DB_AUTH')
}

/** The route template of a request (`/links/:code`), never its raw path: a bounded metric label and span name. */
export function routeTemplate(req: http.IncomingMessage): string {
  const target = req.url ?? '/'
  const query = target.indexOf('?')
  return matchRoute(query < 0 ? target : target.slice(0, query))?.endpoint.path ?? 'unmatched'
}

/** Probes and scrapes, which come every few seconds and would drown the traces that matter. */
export function isProbe(target: string | undefined): boolean {
  const path = target?.split('?', 1)[0]
  return path === '/livez' || path === '/readyz' || path === '/metrics'
}

/** The request target as a URL; a target no URL parser accepts (`GET http://[`) is a 400, not a crash. */
function parseTarget(target: string | undefined, base: string): URL {
  try {
    return new URL(target ?? '/', base)
  } catch {
    throw new HttpProblem(400, 'the request target is not a valid URL')
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value
  return v && /^[\w.-]{1,128}$/.test(v) ? v : undefined
}
