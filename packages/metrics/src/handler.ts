import type { IncomingMessage, ServerResponse } from 'node:http'

/** A node:http request listener that Express and Connect also accept as middleware. */
export type MetricsHandler = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void

interface HandlerOptions {
  path: string
  render: () => Promise<string>
  contentType: string
}

/**
 * Serves the exposition on GET/HEAD `path`. Another path goes to `next` when there is one (a
 * middleware stack), else gets 404. A failed render (a cluster worker that did not answer) is
 * a 503 with the reason, never a half-written exposition.
 */
export function createMetricsHandler({ path, render, contentType }: HandlerOptions): MetricsHandler {
  return function metricsHandler(req, res, next) {
    const url = req.url ?? '/'
    const query = url.indexOf('?')
    const pathname = query < 0 ? url : url.slice(0, query)
    if (pathname !== path) {
      if (next) return next()
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found\n')
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res
        .writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' })
        .end('Method not allowed\n')
      return
    }
    render().then(
      (body) => {
        res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' })
        res.end(req.method === 'HEAD' ? undefined : body)
      },
      (error: unknown) => {
        res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '1' })
        res.end(`Metrics unavailable: ${error instanceof Error ? error.message : String(error)}\n`)
      },
    )
  }
}
