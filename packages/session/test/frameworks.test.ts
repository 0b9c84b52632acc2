import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import express from 'express'
import expressSession from 'express-session'
import Fastify from 'fastify'
import { Hono } from 'hono'
import { serve, type ServerType } from '@hono/node-server'
import { afterEach, describe, expect, it } from 'vitest'
import { createCache, type Cache } from '@beaver-kit/cache'
import { generateKeyRingEntry } from '@beaver-kit/krypto'
import { requireService, uniqueNamespace } from '@beaver-kit/testkit'
import { createSessions, expressSessionStore, fastifySessions, honoSessions, type Session } from '@beaver-kit/session'

const redis = await requireService('redis')
const closers: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c()
})

function memoryCache(): Cache {
  const cache = createCache({ envPrefix: false, namespace: uniqueNamespace('sessfw') })
  closers.push(() => cache.close())
  return cache
}

const sessionsOn = (cache: Cache) =>
  createSessions({ envPrefix: false, keys: [generateKeyRingEntry('k')], secure: false, cache })

/** Counts visits through any server: the cookie of the first answer carries the session on. */
async function expectCounting(base: string): Promise<void> {
  const first = await fetch(`${base}/count`)
  expect(await first.text()).toBe('1')
  const set = first.headers.getSetCookie()
  expect(set).toHaveLength(1)
  expect(set[0]).toMatch(/^sid=[^;]+; Path=\/; Max-Age=86400; HttpOnly; SameSite=Lax$/)
  const cookie = (set[0] as string).split(';')[0] as string
  expect(await (await fetch(`${base}/count`, { headers: { cookie } })).text()).toBe('2')
  expect(await (await fetch(`${base}/count`, { headers: { cookie } })).text()).toBe('3')
  expect(await (await fetch(`${base}/count`)).text()).toBe('1') // no cookie: a new session
}

const visit = (session: Session): string => {
  const n = (session.get<number>('n') ?? 0) + 1
  session.set('n', n)
  return String(n)
}

describe('Fastify', () => {
  it('onRequest loads request.session, onSend saves it and sets the cookie', async () => {
    const hooks = fastifySessions(sessionsOn(memoryCache()))
    const app = Fastify()
    closers.push(() => app.close())
    app.decorateRequest('session', undefined)
    app.addHook('onRequest', hooks.onRequest)
    app.addHook('onSend', hooks.onSend)
    app.get('/count', (request) => visit((request as unknown as { session: Session }).session))
    await expectCounting(await app.listen({ port: 0, host: '127.0.0.1' }))
  })
})

describe('Hono on @hono/node-server', () => {
  it("c.get('session') during the request, saved and its cookie appended after the handler", async () => {
    const app = new Hono<{ Variables: { session: Session } }>()
    app.use(honoSessions(sessionsOn(memoryCache())))
    app.get('/count', (c) => c.text(visit(c.get('session'))))
    app.get('/away', (c) => {
      c.get('session').set('left', true)
      return Response.redirect('http://127.0.0.1/elsewhere', 302) // immutable headers
    })
    const server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
    })
    closers.push(() => new Promise((resolve) => server.close(resolve)))
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    await expectCounting(base)
    const away = await fetch(`${base}/away`, { redirect: 'manual' })
    expect(away.status).toBe(302)
    expect(away.headers.getSetCookie()).toHaveLength(1)
  })
})

const caches: Array<[string, () => Cache]> = [['memory', memoryCache]]
if (redis) {
  caches.push([
    'redis',
    () => {
      const cache = createCache({
        envPrefix: false,
        driver: 'redis',
        redis: { url: redis },
        namespace: uniqueNamespace('sessx'),
      })
      closers.push(() => cache.close())
      return cache
    },
  ])
}

for (const [name, makeCache] of caches) {
  describe(`express-session over expressSessionStore() on the ${name} cache`, () => {
    it('real express-session keeps, touches and destroys its sessions in the kit store', async () => {
      const cache = makeCache()
      const store = expressSessionStore(expressSession.Store, { cache })
      const app = express()
      app.use(expressSession({ secret: 'test-secret', resave: false, saveUninitialized: false, rolling: true, store }))
      app.get('/count', (req, res) => {
        const s = req.session as unknown as { n?: number }
        s.n = (s.n ?? 0) + 1
        res.send(String(s.n))
      })
      app.get('/peek', (req, res) => void res.send(String((req.session as unknown as { n?: number }).n ?? 0)))
      app.get('/logout', (req, res) => req.session.destroy(() => void res.send('bye')))
      const server: Server = createServer(app)
      closers.push(() => new Promise((resolve) => server.close(resolve)))
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

      const first = await fetch(`${base}/count`)
      expect(await first.text()).toBe('1')
      const cookie = (first.headers.getSetCookie()[0] as string).split(';')[0] as string
      const sid = decodeURIComponent(cookie.split('=')[1] as string)
        .slice(2)
        .split('.')[0] as string
      expect(await (await fetch(`${base}/count`, { headers: { cookie } })).text()).toBe('2')
      expect(await (await fetch(`${base}/peek`, { headers: { cookie } })).text()).toBe('2') // a touch, no change
      const stored = await new Promise<unknown>((resolve, reject) =>
        store.get(sid, (error, session) => (error ? reject(error as Error) : resolve(session))),
      )
      expect(stored).toMatchObject({ n: 2, cookie: expect.objectContaining({ httpOnly: true }) })
      expect(await (await fetch(`${base}/logout`, { headers: { cookie } })).text()).toBe('bye')
      expect(await (await fetch(`${base}/peek`, { headers: { cookie } })).text()).toBe('0')
    })

    it('passes store failures to express-session callbacks', async () => {
      const broken = makeCache()
      await broken.close()
      const store = expressSessionStore(expressSession.Store, { cache: broken })
      const errors = await Promise.all([
        new Promise((resolve) => store.get('x', (error) => resolve(error))),
        new Promise((resolve) => store.set('x', { cookie: {} } as never, (error) => resolve(error))),
        new Promise((resolve) => store.destroy('x', (error) => resolve(error))),
        new Promise((resolve) => store.touch?.('x', { cookie: {} } as never, (error?: unknown) => resolve(error))),
      ])
      expect(errors.every((e) => e instanceof Error)).toBe(true)
    })
  })
}

it('expressSessionStore() needs a cache or a store', () => {
  expect(() => expressSessionStore(expressSession.Store, {})).toThrow(/needs a cache or a store/)
})
