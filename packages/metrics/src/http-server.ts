import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Gauge, Histogram, HistogramDefinition, MetricDefinition } from './instruments.ts'

/** One finished server request, for frameworks without connect-style middleware (Hono, Fastify hooks). */
export interface HttpRequestRecord {
  method: string
  /** The route template (`/users/:id`), never the raw path; `unmatched` when no route answered. */
  route: string | undefined
  status: number
  durationMs: number
}

export interface HttpServerOptions {
  /** The route template of a request; default Express's `req.baseUrl + req.route.path`, else `unmatched`. */
  route?: (req: IncomingMessage) => string | undefined
}

/** A connect-style middleware (node:http, Express, Connect) that records every request when it ends. */
export type HttpServerMiddleware = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void

export interface HttpServerMetrics {
  /**
   * RED metrics of your HTTP server: `http_server_request_duration_seconds{method, route, status}`
   * (OpenTelemetry's http.server.request.duration) and `http_server_active_requests`.
   */
  httpServer(options?: HttpServerOptions): HttpServerMiddleware
  /** Records one finished request; what `httpServer()` does, for other frameworks. */
  observeHttpRequest(record: HttpRequestRecord): void
}

// OpenTelemetry's rule: a method outside the known set is recorded as _OTHER (methods are attacker-chosen).
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'])

type ExpressRequest = IncomingMessage & { baseUrl?: string; route?: { path?: unknown } }

function expressRoute(req: IncomingMessage): string | undefined {
  const r = req as ExpressRequest
  return typeof r.route?.path === 'string' ? (r.baseUrl ?? '') + r.route.path : undefined
}

export function createHttpServerMetrics(
  histogram: (def: HistogramDefinition<'method' | 'route' | 'status'>) => Histogram<'method' | 'route' | 'status'>,
  gauge: (def: MetricDefinition<'method'>) => Gauge<'method'>,
): HttpServerMetrics {
  let instruments: { duration: Histogram<'method' | 'route' | 'status'>; active: Gauge<'method'> } | undefined
  const get = (): NonNullable<typeof instruments> =>
    (instruments ??= {
      duration: histogram({
        name: 'http_server_request_duration_seconds',
        help: 'Requests served, by method, route template and status',
        labelNames: ['method', 'route', 'status'],
        buckets: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],
      }),
      active: gauge({ name: 'http_server_active_requests', help: 'Requests being served', labelNames: ['method'] }),
    })

  function observeHttpRequest(record: HttpRequestRecord): void {
    const method = METHODS.has(record.method) ? record.method : '_OTHER'
    get().duration.observe(
      { method, route: record.route ?? 'unmatched', status: String(record.status) },
      record.durationMs / 1000,
    )
  }

  function httpServer(options: HttpServerOptions = {}): HttpServerMiddleware {
    const route = options.route ?? expressRoute
    return function httpServerMetrics(req, res, next) {
      const started = performance.now()
      const method = METHODS.has(req.method ?? '') ? (req.method as string) : '_OTHER'
      const { active } = get()
      active.inc({ method })
      let done = false
      const finish = (): void => {
        if (done) return
        done = true
        active.dec({ method })
        // A client that went away before the response ended is recorded with status 499 (nginx's word for it).
        const status = res.writableFinished ? res.statusCode : 499
        observeHttpRequest({ method, route: route(req), status, durationMs: performance.now() - started })
      }
      res.once('finish', finish)
      res.once('close', finish)
      next?.()
    }
  }

  return { httpServer, observeHttpRequest }
}
