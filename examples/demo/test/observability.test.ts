// /metrics, /livez and /readyz on the app as it runs, and spans for each request.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHealth } from '@beaver-kit/health'
import { createMetrics, type Metrics } from '@beaver-kit/metrics'
import { createTracing, type ReadableSpan, type SpanExporter, type Tracing } from '@beaver-kit/tracing'
import { eventually } from '@beaver-kit/testkit'
import { harness, shorten, type Harness } from './helpers.ts'

/** The value of one series in `/metrics`, by its exact name and label text; 0 when absent. */
async function sample(app: Harness['app'], series: string): Promise<number> {
  const text = await (await fetch(`${app.url}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? 0 : Number(line.slice(series.length + 1))
}

describe('Beaver Links observability', () => {
  let h: Harness
  let metrics: Metrics
  let tracing: Tracing
  const spans: ReadableSpan[] = []
  const exporter: SpanExporter = {
    export: (batch, done) => {
      spans.push(...batch)
      done({ code: 0 })
    },
    shutdown: async () => undefined,
  }
  beforeAll(async () => {
    metrics = createMetrics({ envPrefix: false, runtime: false })
    tracing = createTracing({ envPrefix: false, exporter })
    h = await harness({ fetchTitles: false }, { metrics, tracing })
  })
  afterAll(async () => {
    await h.close()
    await Promise.all([metrics.close(), tracing.close()])
  })

  it('serves Prometheus text on /metrics, with requests counted by route template, not path', async () => {
    const res = await fetch(`${h.app.url}/metrics`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
    expect(await res.text()).toContain('# TYPE http_server_request_duration_seconds histogram')
    const series = 'http_server_request_duration_seconds_count{method="GET",route="/links/:code",status="404"}'
    const before = await sample(h.app, series)
    expect((await fetch(`${h.app.url}/links/nope1234`)).status).toBe(404)
    expect((await fetch(`${h.app.url}/links/nope5678`)).status).toBe(404)
    await eventually(async () => expect(await sample(h.app, series)).toBe(before + 2))
    const text = await (await fetch(`${h.app.url}/metrics`)).text()
    expect(text).not.toContain('nope1234') // the raw path is never a label
    expect((await fetch(`${h.app.url}/metrics`, { method: 'POST' })).status).toBe(405)
  })

  it('moves the kit metrics (cache reads, database statements) as links are used', async () => {
    const statements = 'beaver_database_queries_total{driver="sqlite",dialect="sqlite",outcome="ok"}'
    const statementsBefore = await sample(h.app, statements)
    const { body } = await shorten(h.app, 'https://example.org/metered')
    const miss = 'beaver_cache_requests_total{driver="memory",namespace="cache:links",result="miss"}'
    const hit = 'beaver_cache_requests_total{driver="memory",namespace="cache:links",result="hit"}'
    const [misses, hits] = [await sample(h.app, miss), await sample(h.app, hit)]
    for (let i = 0; i < 2; i++)
      expect((await fetch(`${h.app.url}/${body.code}`, { redirect: 'manual' })).status).toBe(302)
    expect(await sample(h.app, miss)).toBe(misses + 1)
    expect(await sample(h.app, hit)).toBe(hits + 1)
    // The INSERT of the link, at least (counted by the database itself, so exact at any rate).
    expect(await sample(h.app, statements)).toBeGreaterThan(statementsBefore)
  })

  it('answers /livez and /readyz with the probe reports of @beaver-kit/health', async () => {
    const live = await fetch(`${h.app.url}/livez`)
    expect([live.status, live.headers.get('content-type')]).toEqual([200, 'application/json; charset=utf-8'])
    expect(await live.json()).toMatchObject({ probe: 'liveness', ok: true })
    const ready = await fetch(`${h.app.url}/readyz`)
    expect(ready.status).toBe(200)
    expect(await ready.json()).toMatchObject({
      probe: 'readiness',
      ok: true,
      status: 'up',
      checks: { database: { status: 'up', critical: true }, cache: { status: 'up', critical: false } },
    })
    expect((await fetch(`${h.app.url}/readyz`, { method: 'HEAD' })).status).toBe(200)
  })

  it('traces each request as a SERVER span named by its route, with the kit operations inside it', async () => {
    const { body } = await shorten(h.app, 'https://example.org/traced')
    await fetch(`${h.app.url}/links/${body.code}`)
    await fetch(`${h.app.url}/readyz`) // probes are not traced
    await tracing.flush()
    await eventually(() => expect(spans.some((s) => s.name === 'GET /links/:code')).toBe(true))
    const server = spans.find((s) => s.name === 'GET /links/:code') as ReadableSpan
    const children = spans.filter((s) => s.parentSpanContext?.spanId === server.spanContext().spanId)
    expect(children.map((s) => s.name)).toContain('SELECT')
    expect(spans.some((s) => s.name.includes('/readyz'))).toBe(false)
  })
})

describe('Beaver Links readiness with a failing database', () => {
  it('answers /readyz 503 when the database check fails, /livez still 200', async () => {
    const health = createHealth({ envPrefix: false, kit: false, interval: '50ms', failureThreshold: 1 })
    const h = await harness({ fetchTitles: false }, { health })
    try {
      expect((await fetch(`${h.app.url}/readyz`)).status).toBe(200)
      // The database goes away under the app (closed: every ping now fails).
      await h.deps.db.close()
      await eventually(async () => expect((await fetch(`${h.app.url}/readyz`)).status).toBe(503))
      expect(await (await fetch(`${h.app.url}/readyz`)).json()).toMatchObject({
        ok: false,
        checks: { database: { status: 'down' } },
      })
      expect((await fetch(`${h.app.url}/livez`)).status).toBe(200)
    } finally {
      await h.close().catch(() => undefined)
      await health.close()
    }
  })
})
