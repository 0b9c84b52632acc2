import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import { Hono } from 'hono'
import { serve, type ServerType } from '@hono/node-server'
import { afterEach, describe, expect, it } from 'vitest'
import { createLimiter, fastifyRateLimit, honoRateLimit, type Limiter } from '@beaver-kit/ratelimit'

const closers: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c()
})

function limiterOf(limit: number, trustedProxies: string[] = []): Limiter {
  const l = createLimiter({ envPrefix: false, algorithm: 'fixed-window', limit, window: '1m', trustedProxies })
  closers.push(() => l.close())
  return l
}

/** The same three requests against any server: two allowed with headers, the third a problem+json 429. */
async function expectLimitedAtTwo(base: string): Promise<void> {
  const first = await fetch(`${base}/`)
  expect(first.status).toBe(200)
  expect(await first.text()).toBe('ok')
  expect(first.headers.get('ratelimit-policy')).toBe('"default";q=2;w=60')
  expect(first.headers.get('ratelimit')).toMatch(/^"default";r=1;t=\d+$/)
  expect((await fetch(`${base}/`)).status).toBe(200)
  const refused = await fetch(`${base}/`)
  expect(refused.status).toBe(429)
  expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/)
  expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
  expect(refused.headers.get('ratelimit')).toMatch(/^"default";r=0;t=\d+$/)
  expect(await refused.json()).toMatchObject({ status: 429, title: 'Too Many Requests' })
}

describe('Fastify', () => {
  it('an onRequest hook: headers on every answer, 429 problem+json past the limit, skip honoured', async () => {
    const l = limiterOf(2)
    const app = Fastify()
    closers.push(() => app.close())
    app.addHook('onRequest', fastifyRateLimit(l, { skip: (request) => request.url === '/health' }))
    app.get('/', () => 'ok')
    app.get('/health', () => 'up')
    const base = await app.listen({ port: 0, host: '127.0.0.1' })
    await expectLimitedAtTwo(base)
    expect((await fetch(`${base}/health`)).status).toBe(200)
  })

  it('keys by a custom function of the Fastify request, with a cost', async () => {
    const l = limiterOf(3)
    const app = Fastify()
    closers.push(() => app.close())
    app.addHook(
      'onRequest',
      fastifyRateLimit(l, {
        key: (request) => String(request.headers['x-api-key'] ?? 'anonymous'),
        cost: (request) => (request.method === 'POST' ? 2 : 1),
      }),
    )
    app.all('/', () => 'ok')
    const base = await app.listen({ port: 0, host: '127.0.0.1' })
    const as = (key: string, method = 'GET') => fetch(`${base}/`, { method, headers: { 'x-api-key': key } })
    expect((await as('a', 'POST')).status).toBe(200)
    expect((await as('a', 'POST')).status).toBe(429)
    expect((await as('a')).status).toBe(200)
    expect((await as('b')).status).toBe(200)
  })
})

describe('Hono on @hono/node-server', () => {
  async function start(app: Hono): Promise<string> {
    const server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
    })
    closers.push(() => new Promise((resolve) => server.close(resolve)))
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  }

  it('middleware: headers on every answer, 429 problem+json past the limit', async () => {
    const l = limiterOf(2)
    const app = new Hono()
    app.use(honoRateLimit(l))
    app.get('/', (c) => c.text('ok'))
    await expectLimitedAtTwo(await start(app))
  })

  it('keys by the socket address, believing X-Forwarded-For only from a trusted proxy', async () => {
    const viaProxy = new Hono()
    viaProxy.use(honoRateLimit(limiterOf(1, ['127.0.0.1'])))
    viaProxy.get('/', (c) => c.text('ok'))
    const trusted = await start(viaProxy)
    const from = (base: string, ip: string) => fetch(`${base}/`, { headers: { 'x-forwarded-for': ip } })
    expect((await from(trusted, '203.0.113.9')).status).toBe(200)
    expect((await from(trusted, '203.0.113.10')).status).toBe(200)
    expect((await from(trusted, '203.0.113.9')).status).toBe(429)

    const direct = new Hono()
    direct.use(honoRateLimit(limiterOf(1)))
    direct.get('/', (c) => c.text('ok'))
    const untrusted = await start(direct)
    expect((await from(untrusted, '203.0.113.9')).status).toBe(200)
    expect((await from(untrusted, '203.0.113.10')).status).toBe(429) // the header chose nothing
  })
})
