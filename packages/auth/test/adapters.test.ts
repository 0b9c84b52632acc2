import { afterAll, describe, expect, it } from 'vitest'
import Fastify from 'fastify'
import { Hono } from 'hono'
import { serve } from '@hono/node-server'
import type { AddressInfo } from 'node:net'
import { createAuth, type AuthEvent } from '@beaver-kit/auth'
import * as fastifyGuards from '@beaver-kit/auth/fastify'
import * as honoGuards from '@beaver-kit/auth/hono'
import { cheapKrypto } from './suite.ts'

const PW = 'correct horse battery staple'
const krypto = cheapKrypto()
const events: AuthEvent[] = []
const auth = createAuth({
  envPrefix: false,
  krypto,
  limiter: false,
  onEvent: (e) => void events.push(e),
  roles: {
    admin: { inherits: ['member'], permissions: ['link:*'] },
    member: { permissions: ['link:read', { permission: 'link:delete', when: (s) => ({ ownerId: s.userId }) }] },
  },
})
const closers: Array<() => Promise<unknown>> = []
afterAll(async () => {
  for (const close of closers.reverse()) await close()
  await auth.close()
  await krypto.close()
})

async function tokens() {
  const admin = await auth.register({ email: `admin-${events.length}@example.com`, password: PW })
  await auth.setRoles(admin.id, ['admin'])
  const member = await auth.register({ email: `member-${events.length}@example.com`, password: PW })
  await auth.setRoles(member.id, ['member'])
  const login = async (email: string) => (await auth.login({ email, password: PW })).accessToken
  return { admin: await login(admin.email), member: await login(member.email), memberId: member.id }
}

async function probe(base: string, path: string, token?: string) {
  const res = await fetch(base + path, token ? { headers: { authorization: `Bearer ${token}` } } : {})
  const text = await res.text()
  return {
    status: res.status,
    body: JSON.parse(text) as Record<string, unknown>,
    www: res.headers.get('www-authenticate'),
  }
}

/** The same checks against each framework: 401 without a token, 403 without the role or unconditional permission. */
async function checkGuards(base: string) {
  const t = await tokens()
  expect(await probe(base, '/me')).toMatchObject({
    status: 401,
    body: { error: 'AUTH_UNAUTHENTICATED' },
    www: 'Bearer',
  })
  expect(await probe(base, '/me', 'not-a-token')).toMatchObject({ status: 401, body: { error: 'AUTH_TOKEN_INVALID' } })
  expect(await probe(base, '/me', t.member)).toMatchObject({ status: 200, body: { userId: t.memberId } })
  expect((await probe(base, '/admin', t.member)).status).toBe(403)
  expect((await probe(base, '/admin', t.admin)).status).toBe(200)
  // A conditional grant does not pass a route-level permission check: the handler checks the resource.
  expect(await probe(base, '/links', t.member)).toMatchObject({ status: 403, body: { error: 'AUTH_FORBIDDEN' } })
  expect((await probe(base, '/links', t.admin)).status).toBe(200)
  expect((await probe(base, '/read', t.member)).status).toBe(200)
  // No Bearer token: the failing instance asks its session store, which throws.
  expect((await probe(base, '/boom')).status).toBe(500)
}

describe('Fastify preHandler guards', () => {
  it('answer 401/403 as JSON, set request.auth, and pass other errors to Fastify', async () => {
    const app = Fastify()
    closers.push(() => app.close())
    app.get('/me', { preHandler: fastifyGuards.requireAuth(auth) }, (request) => request.auth)
    app.get('/admin', { preHandler: fastifyGuards.requireRole(auth, 'admin') }, () => ({ ok: true }))
    app.get('/links', { preHandler: fastifyGuards.requirePermission(auth, 'link:delete') }, () => ({ ok: true }))
    app.get('/read', { preHandler: fastifyGuards.requirePermission(auth, 'link:read') }, () => ({ ok: true }))
    app.get('/boom', { preHandler: fastifyGuards.requireAuth(failing) }, () => ({ ok: true }))
    const base = await app.listen({ port: 0, host: '127.0.0.1' })
    const before = events.filter((e) => e.type === 'auth.accessDenied').length
    await checkGuards(base)
    const denied = events.filter((e) => e.type === 'auth.accessDenied').slice(before)
    expect(denied.map((e) => e.ip)).toEqual(['127.0.0.1', '127.0.0.1'])
  })
})

describe('Hono middleware guards', () => {
  it('answer 401/403 as JSON, set c.get("auth"), and pass other errors to onError', async () => {
    const app = new Hono()
    app.get('/me', honoGuards.requireAuth(auth), (c) => c.json(c.get('auth')))
    app.get('/admin', honoGuards.requireRole(auth, 'admin'), (c) => c.json({ ok: true }))
    app.get('/links', honoGuards.requirePermission(auth, 'link:delete'), (c) => c.json({ ok: true }))
    app.get('/read', honoGuards.requirePermission(auth, 'link:read'), (c) => c.json({ ok: true }))
    app.get('/boom', honoGuards.requireAuth(failing), (c) => c.json({ ok: true }))
    app.onError((err, c) => c.json({ error: err.message }, 500))
    const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
    })
    closers.push(() => new Promise((resolve) => server.close(resolve)))
    const before = events.filter((e) => e.type === 'auth.accessDenied').length
    await checkGuards(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
    const denied = events.filter((e) => e.type === 'auth.accessDenied').slice(before)
    expect(denied.map((e) => e.ip)).toEqual(['127.0.0.1', '127.0.0.1'])
  })
})

/** An instance whose session store is down: its guards fail with a plain error, not a refusal. */
const failing = createAuth({
  envPrefix: false,
  krypto,
  limiter: false,
  sessions: {
    load: async () => {
      throw new Error('session store down')
    },
    revokeAll: async () => 0,
  },
})
closers.push(() => failing.close())

describe('sign-in proven elsewhere', () => {
  it('signIn() starts a family for an account found by e-mail, and says how in the audit event', async () => {
    const user = await auth.register({ email: 'Social@Example.com', password: PW })
    expect((await auth.findUserByEmail(' social@example.COM '))?.id).toBe(user.id)
    expect(await auth.findUserByEmail('not an address')).toBeUndefined()
    const pair = await auth.signIn(user.id, { method: 'oidc:local' }, { ip: '203.0.113.7' })
    expect(auth.verifyAccessToken(pair.accessToken).userId).toBe(user.id)
    expect((await auth.refresh(pair.refreshToken)).accessToken).toBeTruthy()
    expect(events.at(-2)).toMatchObject({ type: 'auth.login', reason: 'via:oidc:local', ip: '203.0.113.7' })
    await expect(auth.signIn('nobody', { method: 'oidc:local' })).rejects.toMatchObject({ code: 'AUTH_USER_NOT_FOUND' })
  })
})
