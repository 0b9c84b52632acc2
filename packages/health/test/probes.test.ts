import { createServer, type RequestListener, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import dc from 'node:diagnostics_channel'
import { afterEach, describe, expect, it } from 'vitest'
import { cache, resetCache } from '@beaver-kit/cache'
import { createDatabase } from '@beaver-kit/database'
import { createMetrics } from '@beaver-kit/metrics'
import { eventually } from '@beaver-kit/testkit'
import {
  createHealth,
  databaseCheck,
  diskCheck,
  httpCheck,
  memoryCheck,
  redisCheck,
  type Health,
  type HealthOptions,
} from '@beaver-kit/health'

let h: Health
let server: Server | undefined
const make = (options: HealthOptions = {}): Health => (h = createHealth({ envPrefix: false, kit: false, ...options }))
afterEach(async () => {
  await h?.close()
  server?.close()
  server = undefined
})

async function serve(listener: RequestListener): Promise<string> {
  server = createServer(listener).listen(0, '127.0.0.1')
  await new Promise((resolve) => server?.once('listening', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

describe('probes over cached background checks', () => {
  it('answers from the cache: a probe never runs a check, the interval does', async () => {
    make({ interval: '20ms' })
    let calls = 0
    h.register('dep', () => {
      calls++
    })
    expect(h.probe('readiness')).toMatchObject({ ok: false, status: 'down', checks: { dep: { status: 'pending' } } })
    const before = calls
    for (let i = 0; i < 100; i++) h.probe('readiness')
    expect(calls).toBe(before)
    h.start()
    await eventually(() => calls >= 3)
    expect(h.probe('readiness')).toMatchObject({
      ok: true,
      status: 'up',
      checks: { dep: { status: 'up', critical: true } },
    })
  })

  it('degrades on a non-critical failure (200) and fails on a critical one (503), over HTTP', async () => {
    make({ interval: '1h', failureThreshold: 1 })
    let cacheUp = true
    h.register('db', () => undefined)
    h.register(
      'cache',
      () => {
        if (!cacheUp) throw new Error('ECONNREFUSED 10.0.0.5:6379')
      },
      { critical: false },
    )
    const base = await serve(h.handler())
    await h.checkNow()
    expect((await fetch(`${base}/readyz`)).status).toBe(200)
    cacheUp = false
    await h.checkNow()
    const res = await fetch(`${base}/readyz`)
    expect(res.status).toBe(200)
    const body = (await res.json()) as { status: string; checks: Record<string, { status: string; error?: string }> }
    expect(body.status).toBe('degraded')
    expect(body.checks.cache?.status).toBe('down')
    // Not verbose: no error text (it names hosts).
    expect(JSON.stringify(body)).not.toContain('10.0.0.5')
    h.register('critical', () => Promise.reject(new Error('gone')))
    await h.checkNow()
    expect((await fetch(`${base}/readyz`)).status).toBe(503)
    expect((await fetch(`${base}/livez`)).status).toBe(200)
    expect((await fetch(`${base}/readyz`, { method: 'POST' })).status).toBe(405)
    expect((await fetch(`${base}/other`)).status).toBe(404)
  })

  it('goes down after failureThreshold consecutive failures once it has passed, at once before', async () => {
    make({ interval: '1h', failureThreshold: 3, verbose: true })
    let fail = true
    h.register('flaky', () => {
      if (fail) throw new Error('nope')
    })
    await h.checkNow()
    expect(h.states().flaky).toMatchObject({ status: 'down', failures: 1 })
    fail = false
    await h.checkNow()
    expect(h.states().flaky).toMatchObject({ status: 'up', failures: 0 })
    fail = true
    await h.checkNow()
    await h.checkNow()
    expect(h.states().flaky).toMatchObject({ status: 'up', failures: 2 })
    await h.checkNow()
    expect(h.states().flaky).toMatchObject({ status: 'down', failures: 3, error: 'nope' })
    expect(h.probe('readiness').checks.flaky).toMatchObject({ error: 'nope', failures: 3 })
  })

  it('times a check out and aborts its signal', async () => {
    make({ interval: '1h', timeout: '50ms', verbose: true })
    let aborted: unknown
    h.register(
      'slow',
      (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject((aborted = signal.reason)))),
    )
    await h.checkNow()
    expect(h.states().slow).toMatchObject({ status: 'down', error: expect.stringContaining('within 50 ms') })
    expect(aborted).toMatchObject({ code: 'HEALTH_CHECK_TIMEOUT' })
  })

  it('keeps liveness apart, reports startup once, and fails readiness while draining', async () => {
    make({ interval: '1h' })
    let up = false
    h.register('db', () => {
      if (!up) throw new Error('starting')
    })
    h.register('memory', memoryCheck(), { probe: 'liveness' })
    await h.checkNow()
    expect(h.probe('startup')).toMatchObject({ ok: false, status: 'starting' })
    expect(h.probe('liveness')).toMatchObject({ ok: true, checks: { memory: { status: 'up' } } })
    up = true
    await h.checkNow()
    expect(h.probe('startup')).toMatchObject({ ok: true })
    up = false
    await h.checkNow()
    await h.checkNow()
    await h.checkNow()
    expect(h.probe('readiness').ok).toBe(false)
    expect(h.probe('startup').ok).toBe(true)
    up = true
    await h.checkNow()
    h.drain()
    expect(h.probe('readiness')).toMatchObject({ ok: false, status: 'draining' })
    expect(h.probe('liveness').ok).toBe(true)
  })

  it('publishes every result, which metrics turns into beaver_health_check_status', async () => {
    await using m = createMetrics({ envPrefix: false, runtime: false })
    make({ interval: '1h' })
    const seen: unknown[] = []
    const listener = (e: unknown): void => void seen.push(e)
    dc.subscribe('beaver:health:check', listener)
    try {
      h.register('api', () => ({ status: 'degraded', detail: 'slow' }))
      await h.checkNow()
      expect(seen).toEqual([expect.objectContaining({ check: 'api', status: 'degraded', critical: true })])
      expect(await m.render()).toMatch(/^beaver_health_check_status\{check="api",status="degraded"\} 1$/m)
    } finally {
      dc.unsubscribe('beaver:health:check', listener)
    }
  })
})

describe('kit instances and checkers', () => {
  it('checks every kit default instance as it is created and forgets it when closed', async () => {
    make({ kit: true, interval: '1h' })
    await cache().set('k', 1)
    expect(Object.keys(h.states())).toContain('cache')
    await h.checkNow()
    expect(h.states().cache?.status).toBe('up')
    await resetCache()
    expect(Object.keys(h.states())).not.toContain('cache')
  })

  it('checks a database, Redis, an HTTP dependency, the disk and the memory', async () => {
    make({ interval: '1h', verbose: true, failureThreshold: 1 })
    await using db = createDatabase({ envPrefix: false, url: 'sqlite::memory:' })
    let status = 200
    const base = await serve((_req, res) => {
      res.statusCode = status
      res.end()
    })
    h.register('db', databaseCheck(db))
    h.register('redis', redisCheck({ ping: async () => 'PONG' }))
    h.register('redis-bad', redisCheck({ ping: async () => 'LOADING' }), { critical: false })
    h.register('api', httpCheck(`${base}/health?token=secret`))
    h.register('disk', diskCheck({ minFree: 1, warnFree: 2 }))
    h.register('disk-full', diskCheck({ minFree: '1000000gb' }), { critical: false })
    h.register('memory', memoryCheck({ maxRss: '100gb' }))
    h.register('memory-tight', memoryCheck({ maxHeapUsed: 1 }), { critical: false })
    await h.checkNow()
    const s = h.states()
    expect(s.db?.status).toBe('up')
    expect(s.redis?.status).toBe('up')
    expect(s['redis-bad']).toMatchObject({ status: 'down', error: expect.stringContaining('LOADING') })
    expect(s.api?.status).toBe('up')
    expect(s.disk).toMatchObject({ status: 'up', detail: expect.stringContaining('MiB free') })
    expect(s['disk-full']?.status).toBe('down')
    expect(s.memory?.status).toBe('up')
    expect(s['memory-tight']?.status).toBe('down')
    status = 503
    await h.checkNow()
    expect(h.states().api).toMatchObject({ status: 'down', error: `GET ${base} answered 503` })
  })
})
