import { afterEach, describe, expect, it } from 'vitest'
import dc from 'node:diagnostics_channel'
import { context, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import type { RequestEvent } from '../src/index.ts'
import { rejection, useHarness } from './helpers.ts'

const { server, client, defer } = useHarness()

afterEach(() => {
  context.disable()
})

describe('beaver:http:request', () => {
  it('publishes method, host, route template, status, attempt, duration and outcome per exchange', async () => {
    const ends: RequestEvent[] = []
    const errors: RequestEvent[] = []
    const handlers = {
      start: () => undefined,
      end: () => undefined,
      asyncStart: () => undefined,
      asyncEnd: (m: unknown) => void ends.push({ ...(m as RequestEvent) }),
      error: (m: unknown) => void errors.push({ ...(m as RequestEvent) }),
    }
    const channel = dc.tracingChannel('beaver:http:request')
    channel.subscribe(handlers)
    defer(() => channel.unsubscribe(handlers))
    const s = await server((req, res, n) => (n === 1 ? res.writeHead(503).end() : res.end(req.url)))
    const c = client({ baseUrl: s.url, retry: { baseDelay: 1 } })
    await c.get('/users/:id', { params: { id: 42 }, query: { secret: 'x' } })
    expect(ends.map((e) => [e.method, e.host, e.route, e.status, e.attempt, e.outcome])).toEqual([
      ['GET', s.url, '/users/:id', 503, 1, 'http_error'],
      ['GET', s.url, '/users/:id', 200, 2, 'success'],
    ])
    expect(ends.every((e) => typeof e.durationMs === 'number' && Number.isFinite(e.durationMs))).toBe(true)
    expect(JSON.stringify(ends)).not.toContain('secret')

    const refused = client({ retry: { maxAttempts: 1 } })
    await rejection(refused.get('http://127.0.0.1:1/nothing'))
    expect(errors.at(-1)).toMatchObject({
      outcome: 'network_error',
      errorCode: 'HTTP_NETWORK',
      status: 0,
      route: '/nothing',
    })
  })
})

describe('W3C trace context', () => {
  it('sends traceparent (and tracestate) when an OpenTelemetry span is active, nothing otherwise', async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
    const s = await server((req, res) => res.end(JSON.stringify({ tp: req.headers.traceparent ?? null })))
    const c = client({ baseUrl: s.url })
    await c.ready()
    expect(await c.get('/').json()).toEqual({ tp: null })
    const span = trace.wrapSpanContext({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: 1,
    })
    const inSpan = await context.with(trace.setSpan(context.active(), span), () => c.get('/').json())
    expect(inSpan).toEqual({ tp: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' })
    const off = client({ baseUrl: s.url, propagateTrace: false })
    expect(await context.with(trace.setSpan(context.active(), span), () => off.get('/').json())).toEqual({ tp: null })
  })
})
