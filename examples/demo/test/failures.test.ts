import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCache } from '@beaver-kit/cache'
import { createDatabase } from '@beaver-kit/database'
import { createHealth } from '@beaver-kit/health'
import { eventually, requireService, startFaultProxy, uniqueNamespace, type FaultProxy } from '@beaver-kit/testkit'
import { harness, shorten, type Harness } from './helpers.ts'

/** Stops the proxy listening and resets the connections it carries (refuse() alone waits for them). */
async function down(proxy: FaultProxy): Promise<void> {
  const refused = proxy.refuse()
  proxy.resetAll()
  await refused
}

const redisUrl = await requireService('redis')
const postgresUrl = await requireService('postgres')

describe.runIf(redisUrl)('Beaver Links with the cache (Redis) unreachable', () => {
  let proxy: FaultProxy
  let h: Harness
  beforeAll(async () => {
    const target = new URL(redisUrl as string)
    proxy = await startFaultProxy({ target: { host: target.hostname, port: Number(target.port || 6379) } })
    await proxy.refuse() // Redis is down from the start
    const cache = createCache({
      envPrefix: false,
      driver: 'redis',
      namespace: uniqueNamespace('demo'),
      redis: { url: proxy.url(redisUrl as string) },
    })
    h = await harness({ fetchTitles: false, cacheRetry: '200ms' }, { cache })
  })
  afterAll(async () => {
    await h.close()
    await proxy.close()
  })

  it('starts with a warning, reports degraded in /health, and keeps redirecting from the database', async () => {
    expect(h.app.cacheState).toBe('degraded')
    expect(h.lines.find((l) => l.level === 40 && String(l.msg).startsWith('cache unreachable'))).toBeDefined()
    const health = await fetch(`${h.app.url}/health`)
    expect(health.status).toBe(200)
    expect(await health.json()).toMatchObject({
      status: 'degraded',
      database: { status: 'ok' },
      cache: { status: 'unreachable' },
    })
    const { body } = await shorten(h.app, 'https://example.org/down')
    const res = await fetch(`${h.app.url}/${body.code}`, { redirect: 'manual' })
    expect([res.status, res.headers.get('location')]).toEqual([302, 'https://example.org/down'])
    expect(h.lines.filter((l) => l.level === 50)).toEqual([])
  })

  it('uses the cache again once it answers, and never serves a link deleted while it was away', async () => {
    await proxy.accept()
    await eventually(() => expect(h.app.cacheState).toBe('ok'), { timeoutMs: 15_000 })
    expect(h.lines.find((l) => l.msg === 'cache reachable again: redirects use it')).toBeDefined()
    expect(await (await fetch(`${h.app.url}/health`)).json()).toMatchObject({ status: 'ok', cache: { status: 'ok' } })
    const { body } = await shorten(h.app, 'https://example.org/cached-then-deleted')
    for (let i = 0; i < 2; i++)
      expect((await fetch(`${h.app.url}/${body.code}`, { redirect: 'manual' })).status).toBe(302)
    expect(h.deps.cache.namespace('links').stats().hits).toBe(1) // it is in Redis now

    // Redis goes away again; the link is deleted meanwhile (from the database only).
    await down(proxy)
    expect((await fetch(body.deleteUrl as string, { method: 'DELETE' })).status).toBe(200)
    expect(h.app.cacheState).toBe('degraded')
    expect((await fetch(`${h.app.url}/${body.code}`, { redirect: 'manual' })).status).toBe(404)

    // Back again: the stale entry was dropped before the cache is used.
    await proxy.accept()
    await eventually(() => expect(h.app.cacheState).toBe('ok'), { timeoutMs: 15_000 })
    expect((await fetch(`${h.app.url}/${body.code}`, { redirect: 'manual' })).status).toBe(404)
  })
})

describe.runIf(postgresUrl)('Beaver Links with the database unreachable', () => {
  let proxy: FaultProxy
  let h: Harness
  const name = uniqueNamespace('demo_db')
    .replace(/[^a-z0-9_]/gi, '_')
    .toLowerCase()
  let admin: ReturnType<typeof createDatabase>
  beforeAll(async () => {
    admin = createDatabase({ envPrefix: false, url: postgresUrl as string })
    await admin.exec(`CREATE DATABASE ${name}`)
    const target = new URL(postgresUrl as string)
    proxy = await startFaultProxy({ target: { host: target.hostname, port: Number(target.port || 5432) } })
    const url = new URL(proxy.url(postgresUrl as string))
    url.pathname = `/${name}`
    const db = createDatabase({ envPrefix: false, url: url.href, pool: { connectTimeout: '1s', acquireTimeout: '2s' } })
    // Probes that notice at once: checks every 100 ms, down after one failure.
    const health = createHealth({ envPrefix: false, kit: false, interval: '100ms', timeout: '1s', failureThreshold: 1 })
    h = await harness({ fetchTitles: false }, { db, health })
    probes = health
  })
  let probes: ReturnType<typeof createHealth>
  afterAll(async () => {
    await h.close()
    await probes.close()
    await proxy.close()
    await admin.exec(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await admin.close()
  })

  it('answers /health and the requests that need it with 503, never 500', async () => {
    const { body } = await shorten(h.app, 'https://example.org/db')
    expect((await fetch(`${h.app.url}/health`)).status).toBe(200)
    await down(proxy)
    const health = await fetch(`${h.app.url}/health`)
    expect(health.status).toBe(503)
    expect(await health.json()).toEqual({
      status: 'unavailable',
      database: { status: 'unreachable' },
      cache: { status: 'ok' },
    })
    const info = await fetch(`${h.app.url}/links/${body.code}`)
    expect([info.status, await info.json()]).toEqual([503, { error: 'database unavailable, try again' }])
    // A redirect the cache cannot answer needs the database: 503 too, and the cache stays "ok".
    const redirect = await fetch(`${h.app.url}/${body.code}`, { redirect: 'manual' })
    expect(redirect.status).toBe(503)
    expect(h.app.cacheState).toBe('ok')
    expect(h.lines.filter((l) => l.level === 50)).toEqual([])
    await proxy.accept()
    await eventually(async () => expect((await fetch(`${h.app.url}/health`)).status).toBe(200), { timeoutMs: 15_000 })
  })

  it('fails /readyz (503, the database check down) while /livez stays 200, and recovers', async () => {
    // The previous test took the database away and back: the check passes again first.
    await eventually(async () => expect((await fetch(`${h.app.url}/readyz`)).status).toBe(200), { timeoutMs: 15_000 })
    const ready = await fetch(`${h.app.url}/readyz`)
    expect([ready.status, ready.headers.get('content-type')]).toEqual([200, 'application/json; charset=utf-8'])
    expect(await ready.json()).toMatchObject({ probe: 'readiness', ok: true, checks: { database: { status: 'up' } } })
    await down(proxy)
    await eventually(async () => expect((await fetch(`${h.app.url}/readyz`)).status).toBe(503), { timeoutMs: 15_000 })
    const failed = (await (await fetch(`${h.app.url}/readyz`)).json()) as Record<string, unknown>
    expect(failed).toMatchObject({
      probe: 'readiness',
      ok: false,
      checks: { database: { status: 'down', critical: true }, cache: { status: 'up', critical: false } },
    })
    expect((await fetch(`${h.app.url}/livez`)).status).toBe(200)
    await proxy.accept()
    await eventually(async () => expect((await fetch(`${h.app.url}/readyz`)).status).toBe(200), { timeoutMs: 15_000 })
  })
})
