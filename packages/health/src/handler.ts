import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ProbeName, ProbeReport } from './report.ts'

/** A node:http request listener that Express and Connect also accept as middleware. */
export type HealthHandler = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void

/**
 * Answers the three probes from cached results (a probe never runs a check): 200 when the probe
 * passes (including `degraded`), 503 otherwise, with a JSON body. Other paths go to `next` or get 404.
 */
export function createHealthHandler(
  paths: Record<ProbeName, string>,
  probe: (name: ProbeName) => ProbeReport,
): HealthHandler {
  const byPath = new Map(Object.entries(paths).map(([name, path]) => [path, name as ProbeName]))
  return function healthHandler(req, res, next) {
    const url = req.url ?? '/'
    const query = url.indexOf('?')
    const name = byPath.get(query < 0 ? url : url.slice(0, query))
    if (name === undefined) {
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
    const report = probe(name)
    res.writeHead(report.ok ? 200 : 503, {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
    })
    res.end(req.method === 'HEAD' ? undefined : JSON.stringify(report))
  }
}
