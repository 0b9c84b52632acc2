import { createServer, type RequestListener, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { eventually } from '@beaver-kit/testkit'
import { createMetrics, type Metrics } from '@beaver-kit/metrics'

let m: Metrics
let server: Server | undefined
afterEach(async () => {
  server?.close()
  server = undefined
  await m.close()
})

async function serve(listener: RequestListener): Promise<string> {
  server = createServer(listener).listen(0, '127.0.0.1')
  await new Promise((resolve) => server?.once('listening', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

describe('the /metrics handler', () => {
  it('serves GET and HEAD on its path, 405 for other methods, 404 or next() elsewhere', async () => {
    m = createMetrics({ envPrefix: false, runtime: false, kit: false, path: '/internal/metrics' })
    m.counter({ name: 'x_total', help: 'X' }).inc()
    const base = await serve(m.handler())
    const res = await fetch(`${base}/internal/metrics?x=1`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
    expect(await res.text()).toContain('x_total 1')
    expect((await fetch(`${base}/internal/metrics`, { method: 'HEAD' })).status).toBe(200)
    expect((await fetch(`${base}/internal/metrics`, { method: 'POST' })).status).toBe(405)
    expect((await fetch(`${base}/metrics`)).status).toBe(404)
    const handler = m.handler()
    let passed = 0
    server?.close()
    const app = await serve((req, res) =>
      handler(req, res, () => {
        passed++
        res.end('app')
      }),
    )
    expect(await (await fetch(`${app}/other`)).text()).toBe('app')
    expect(passed).toBe(1)
  })

  it('answers 503 when the exposition cannot be rendered', async () => {
    m = createMetrics({ envPrefix: false, runtime: false, kit: false })
    const base = await serve(m.handler())
    await m.close()
    const res = await fetch(`${base}/metrics`)
    expect(res.status).toBe(503)
    expect(await res.text()).toContain('closed')
  })
})

describe('HTTP server RED metrics', () => {
  it('records method, route template and status, never the raw path, and counts requests in flight', async () => {
    m = createMetrics({ envPrefix: false, runtime: false, kit: false })
    const middleware = m.httpServer({ route: (req) => (req.url?.startsWith('/users/') ? '/users/:id' : undefined) })
    let release: (() => void) | undefined
    const base = await serve((req, res) =>
      middleware(req, res, () => {
        if (req.url === '/slow') release = () => res.end('slow')
        else {
          res.statusCode = req.url?.startsWith('/users/') ? 200 : 404
          res.end()
        }
      }),
    )
    await fetch(`${base}/users/1`)
    await fetch(`${base}/users/2`)
    await fetch(`${base}/nope`, { method: 'PROPFIND' }).catch(() => undefined)
    const slow = fetch(`${base}/slow`)
    await eventually(async () => expect(await m.render()).toMatch(/^http_server_active_requests\{method="GET"\} 1$/m))
    release?.()
    await (await slow).text()
    const text = await m.render()
    expect(text).toMatch(
      /^http_server_request_duration_seconds_count\{method="GET",route="\/users\/:id",status="200"\} 2$/m,
    )
    expect(text).toMatch(
      /^http_server_request_duration_seconds_count\{method="_OTHER",route="unmatched",status="404"\} 1$/m,
    )
    expect(text).not.toContain('/users/1')
    await eventually(async () => expect(await m.render()).toMatch(/^http_server_active_requests\{method="GET"\} 0$/m))
  })

  it('reads the Express route and takes records from other frameworks', async () => {
    m = createMetrics({ envPrefix: false, runtime: false, kit: false, prefix: 'api_' })
    const middleware = m.httpServer()
    const base = await serve((req, res) =>
      middleware(req, res, () => {
        Object.assign(req, { baseUrl: '/v1', route: { path: '/orders/:id' } })
        res.end()
      }),
    )
    await fetch(`${base}/v1/orders/7`)
    m.observeHttpRequest({ method: 'POST', route: '/hono/:x', status: 201, durationMs: 4 })
    const text = await m.render()
    expect(text).toMatch(
      /^api_http_server_request_duration_seconds_count\{method="GET",route="\/v1\/orders\/:id",status="200"\} 1$/m,
    )
    expect(text).toMatch(
      /^api_http_server_request_duration_seconds_count\{method="POST",route="\/hono\/:x",status="201"\} 1$/m,
    )
  })
})
