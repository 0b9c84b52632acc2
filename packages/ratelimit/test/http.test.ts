import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import express from 'express'
import { afterEach, describe, expect, it } from 'vitest'
import { clientIp, createLimiter, ipKey, rateLimit, type Limiter } from '@beaver-kit/ratelimit'

describe('client addresses', () => {
  const trusted = createLimiter({ envPrefix: false, trustedProxies: ['10.0.0.0/8', '::1'] })

  it('keys IPv4 as is and IPv6 by its /56 (or the configured prefix)', () => {
    expect(ipKey('203.0.113.9')).toBe('ip:203.0.113.9')
    expect(ipKey('2001:db8:aaaa:bb12:1:2:3:4')).toBe('ip:2001:db8:aaaa:bb00:0:0:0:0/56')
    expect(ipKey('2001:db8:aaaa:bbff::9')).toBe(ipKey('2001:db8:aaaa:bb00::1'))
    expect(ipKey('2001:db8:aaaa:bcff::9')).not.toBe(ipKey('2001:db8:aaaa:bb00::1'))
    expect(ipKey('2001:db8::1', 64)).toBe('ip:2001:db8:0:0:0:0:0:0/64')
    expect(ipKey('::1', 128)).toBe('ip:0:0:0:0:0:0:0:1/128')
  })

  it('ignores forwarding headers from an untrusted peer', () => {
    expect(trusted.clientKey('198.51.100.7', { 'x-forwarded-for': '1.2.3.4' })).toBe('ip:198.51.100.7')
    const none = createLimiter({ envPrefix: false })
    expect(none.clientKey('10.0.0.1', { 'x-forwarded-for': '1.2.3.4' })).toBe('ip:10.0.0.1')
  })

  it('walks X-Forwarded-For right to left past trusted proxies only', () => {
    const h = { 'x-forwarded-for': '6.6.6.6, 203.0.113.9, 10.1.1.1' }
    // 6.6.6.6 was written by the client itself: only the hop the first untrusted proxy saw counts.
    expect(trusted.clientKey('10.0.0.2', h)).toBe('ip:203.0.113.9')
    expect(trusted.clientKey('::ffff:10.0.0.2', h)).toBe('ip:203.0.113.9')
  })

  it('stops at a malformed hop instead of letting the client choose its key', () => {
    expect(trusted.clientKey('10.0.0.2', { 'x-forwarded-for': '1.2.3.4, not-an-ip' })).toBe('ip:10.0.0.2')
    expect(clientIp('10.0.0.2', { 'x-forwarded-for': 'garbage' }, undefined)).toBe('10.0.0.2')
  })

  it('reads RFC 7239 Forwarded, quoted IPv6 with ports included', () => {
    const h = { forwarded: 'for="[2001:db8:cafe::17]:4711";proto=https, for=10.2.2.2' }
    expect(trusted.clientKey('::1', h)).toBe(ipKey('2001:db8:cafe::17'))
    expect(trusted.clientKey('::1', { forwarded: 'for=192.0.2.60:1234' })).toBe('ip:192.0.2.60')
  })
})

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

describe('the HTTP middleware', () => {
  const servers: Server[] = []
  const limiters: Limiter[] = []
  afterEach(async () => {
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r))
    for (const l of limiters.splice(0)) await l.close()
  })

  it('node:http: RateLimit headers on every answer, 429 with Retry-After and problem+json past the limit', async () => {
    const l = createLimiter({ envPrefix: false, algorithm: 'fixed-window', limit: 2, window: '1m' })
    limiters.push(l)
    const limit = rateLimit(l, { skip: (req) => req.url === '/health' })
    const server = createServer((req, res) => {
      void limit(req, res).then((answered) => answered || res.end('ok'))
    })
    servers.push(server)
    const base = await listen(server)
    const first = await fetch(`${base}/`)
    expect(first.status).toBe(200)
    expect(first.headers.get('ratelimit-policy')).toBe('"default";q=2;w=60')
    expect(first.headers.get('ratelimit')).toMatch(/^"default";r=1;t=\d+$/)
    expect((await fetch(`${base}/`)).status).toBe(200)
    const refused = await fetch(`${base}/`)
    expect(refused.status).toBe(429)
    expect(refused.headers.get('content-type')).toBe('application/problem+json')
    const retry = Number(refused.headers.get('retry-after'))
    expect(retry).toBeGreaterThanOrEqual(1)
    expect(retry).toBeLessThanOrEqual(60)
    expect(await refused.json()).toMatchObject({ status: 429, title: 'Too Many Requests' })
    expect((await fetch(`${base}/health`)).status).toBe(200)
  })

  it('Express: next() when allowed, a 429 when not, keyed by a custom function and cost', async () => {
    const l = createLimiter({ envPrefix: false, algorithm: 'token-bucket', limit: 3, window: '1m' })
    limiters.push(l)
    const app = express()
    app.use(
      rateLimit(l, {
        key: (req) => String(req.headers['x-api-key'] ?? 'anonymous'),
        cost: (req) => (req.method === 'POST' ? 2 : 1),
      }),
    )
    app.all('/', (_req, res) => void res.send('ok'))
    const server = createServer(app)
    servers.push(server)
    const base = await listen(server)
    const as = (key: string, method = 'GET') => fetch(`${base}/`, { method, headers: { 'x-api-key': key } })
    expect((await as('a', 'POST')).status).toBe(200)
    expect((await as('a', 'POST')).status).toBe(429)
    expect((await as('a')).status).toBe(200)
    expect((await as('a')).status).toBe(429)
    expect((await as('b')).status).toBe(200)
  })
})
