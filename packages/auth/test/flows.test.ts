import { createServer, type Server } from 'node:http'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import express from 'express'
import { afterEach, describe, expect, it } from 'vitest'
import { createJwt, generateKeyRingEntry, type Krypto } from '@beaver-kit/krypto'
import { createLimiter } from '@beaver-kit/ratelimit'
import {
  auth,
  createAuth,
  createMemoryAuthStore,
  isAuthError,
  resetAuth,
  sendAuthError,
  AuthError,
  type AuthEvent,
  type AuthOptions,
  type AuthMiddleware,
} from '@beaver-kit/auth'
import { cheapKrypto } from './suite.ts'

const PW = 'correct horse battery staple'
const open: Array<{ close(): Promise<void> }> = []
afterEach(async () => {
  for (const o of open.splice(0)) await o.close()
  await resetAuth()
})

function make(options: AuthOptions = {}, krypto: Krypto = cheapKrypto()) {
  const events: AuthEvent[] = []
  const a = createAuth({
    envPrefix: false,
    krypto,
    limiter: false,
    onEvent: (e) => void events.push(e),
    roles: { admin: { inherits: ['editor'], permissions: ['user:*'] }, editor: { permissions: ['link:*'] } },
    ...options,
  })
  open.push(a, krypto)
  return { a, events, krypto }
}

async function code(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'resolved',
    (e: unknown) => (isAuthError(e) ? e.code : String(e)),
  )
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  open.push({ close: () => new Promise((r) => server.close(() => r())) })
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`
}

describe('access tokens', () => {
  it('refuses tampered, expired, wrongly typed, foreign-audience and alg-none tokens with one code', async () => {
    let t = Date.UTC(2026, 11, 6)
    const now = () => t
    const { a, krypto } = make(
      { issuer: 'me', audience: 'api', now },
      cheapKrypto('64kb', [generateKeyRingEntry('k')], now),
    )
    await a.register({ email: 'ann@example.com', password: PW })
    const { accessToken } = await a.login({ email: 'ann@example.com', password: PW })
    const [h, p, s] = accessToken.split('.') as [string, string, string]
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>
    const forged = Buffer.from(JSON.stringify({ ...claims, roles: ['admin'] })).toString('base64url')
    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')
    const same = (claims: Record<string, unknown>, typ = 'at+jwt') =>
      krypto.jwt.sign({ roles: [], sid: 'f', ...claims }, { subject: 'u', header: { typ } })
    const bad = [
      same({ iss: 'me', aud: 'api' }, 'JWT'),
      same({ iss: 'other', aud: 'api' }),
      same({ iss: 'me', aud: 'other' }),
      same({ iss: 'me', aud: 'api', roles: [1] }),
      same({ iss: 'me', aud: 'api', sid: undefined }),
      `${h}.${forged}.${s}`,
      `${none}.${p}.`,
      'x'.repeat(5000),
      'not.a.token',
      createJwt({ keys: [Buffer.alloc(32, 1)] }).sign({ sub: 'u', roles: [], sid: 'f' }, { header: { typ: 'at+jwt' } }),
    ]
    for (const token of bad)
      expect(() => a.verifyAccessToken(token)).toThrow(expect.objectContaining({ code: 'AUTH_TOKEN_INVALID' }))
    expect(a.verifyAccessToken(accessToken).roles).toEqual([])
    expect(a.verifyAccessToken(same({ iss: 'me', aud: ['x', 'api'] }, 'application/AT+JWT')).userId).toBe('u')
    t += 16 * 60_000
    expect(() => a.verifyAccessToken(accessToken)).toThrow(expect.objectContaining({ code: 'AUTH_TOKEN_INVALID' }))
    expect(await code(a.authenticate({ headers: { authorization: `Bearer ${accessToken}` } }))).toBe(
      'AUTH_TOKEN_INVALID',
    )
  })

  it('signs with the first key of the ring and still verifies tokens of the previous key (rotation by kid)', async () => {
    const old = generateKeyRingEntry('2026-11')
    const fresh = generateKeyRingEntry('2026-12')
    const store = createMemoryAuthStore()
    const before = make({ storeInstance: store }, cheapKrypto('64kb', [old]))
    await before.a.register({ email: 'ann@example.com', password: PW })
    const oldToken = (await before.a.login({ email: 'ann@example.com', password: PW })).accessToken
    const after = make({ storeInstance: store }, cheapKrypto('64kb', [fresh, old]))
    const newToken = (await after.a.login({ email: 'ann@example.com', password: PW })).accessToken
    const kid = (t: string) =>
      (JSON.parse(Buffer.from(t.split('.')[0] as string, 'base64url').toString()) as { kid: string }).kid
    expect(kid(oldToken)).toBe('2026-11')
    expect(kid(newToken)).toBe('2026-12')
    expect(after.a.verifyAccessToken(oldToken).userId).toBe(after.a.verifyAccessToken(newToken).userId)
    expect(() => before.a.verifyAccessToken(newToken)).toThrow(expect.objectContaining({ code: 'AUTH_TOKEN_INVALID' }))
    expect(after.a.jwks()).toEqual({ keys: [] })
  })
})

describe('login protection', () => {
  it('verifies a password hash for an unknown account and for a delayed one, as for a known one', async () => {
    const base = cheapKrypto()
    let verifications = 0
    const passwords = {
      ...base.passwords,
      algorithm: base.passwords.algorithm,
      verifyAndUpgrade: (h: string, p: string) => (verifications++, base.passwords.verifyAndUpgrade(h, p)),
    }
    const { a } = make({ lockout: { threshold: 1 } }, { ...base, passwords, close: base.close } as Krypto)
    await a.register({ email: 'ann@example.com', password: PW })
    await code(a.login({ email: 'nobody@example.com', password: PW }))
    expect(verifications).toBe(1)
    await code(a.login({ email: 'ann@example.com', password: 'wrong password here' }))
    expect(await code(a.login({ email: 'ann@example.com', password: PW }))).toBe('AUTH_INVALID_CREDENTIALS')
    expect(verifications).toBe(3)
    expect(await code(a.login({ email: 'not an email', password: 42 as unknown as string }))).toBe(
      'AUTH_INVALID_CREDENTIALS',
    )
    expect(await code(a.login({ email: 'ann@example.com', password: 'x'.repeat(5000) }))).toBe(
      'AUTH_INVALID_CREDENTIALS',
    )
  })

  it('rate-limits logins per client IP through @beaver-kit/ratelimit', async () => {
    const limiter = createLimiter({ envPrefix: false, limit: 2, window: '1m' })
    open.push(limiter)
    const { a, events } = make({ limiter })
    await a.register({ email: 'ann@example.com', password: PW })
    await a.login({ email: 'ann@example.com', password: PW }, { ip: '198.51.100.1' })
    await a.login({ email: 'ann@example.com', password: PW }, { ip: '198.51.100.1' })
    const err = await a
      .login({ email: 'ann@example.com', password: PW }, { ip: '198.51.100.1' })
      .catch((e: AuthError) => e)
    expect(err).toMatchObject({ code: 'AUTH_RATE_LIMITED' })
    expect((err as AuthError).details.retryAfterMs).toBeGreaterThan(0)
    await a.login({ email: 'ann@example.com', password: PW }, { ip: '198.51.100.2' })
    expect(events.some((e) => e.reason === 'rate-limited' && e.ip === '198.51.100.1')).toBe(true)
  })

  it('limits requests per API key when BEAVER_AUTH_API_KEY_RATE_LIMIT is set', async () => {
    const { a, events } = make({ apiKey: { rateLimit: 2 } })
    const user = await a.register({ email: 'ann@example.com', password: PW })
    const one = await a.createApiKey(user.id, { name: 'one' })
    const two = await a.createApiKey(user.id, { name: 'two' })
    await a.verifyApiKey(one.key)
    await a.verifyApiKey(one.key)
    const err = await a.verifyApiKey(one.key).catch((e: AuthError) => e)
    expect(err).toMatchObject({ code: 'AUTH_RATE_LIMITED' })
    expect((err as AuthError).details.retryAfterMs).toBeGreaterThan(0)
    await a.verifyApiKey(two.key)
    expect(events.some((e) => e.type === 'auth.apiKeyUse' && e.reason === 'rate-limited' && e.target === one.id)).toBe(
      true,
    )
    const { a: unlimited } = make({ apiKey: { rateLimit: 2 }, apiKeyLimiter: false })
    const u = await unlimited.register({ email: 'bob@example.com', password: PW })
    const k = await unlimited.createApiKey(u.id, { name: 'k' })
    for (let i = 0; i < 4; i++) await unlimited.verifyApiKey(k.key)
  })

  it('builds its own memory limiter from BEAVER_AUTH_RATE_LIMIT_* by default', async () => {
    const krypto = cheapKrypto()
    const a = createAuth({ envPrefix: false, krypto, rateLimit: { limit: 1, window: '1m' } })
    open.push(a, krypto)
    await a.register({ email: 'ann@example.com', password: PW })
    await a.login({ email: 'ann@example.com', password: PW }, { ip: '192.0.2.1' })
    expect(await code(a.login({ email: 'ann@example.com', password: PW }, { ip: '192.0.2.1' }))).toBe(
      'AUTH_RATE_LIMITED',
    )
  })
})

describe('middleware', () => {
  async function setup() {
    const { a, events } = make()
    const admin = await a.register({ email: 'admin@example.com', password: PW })
    await a.setRoles(admin.id, ['admin'])
    await a.register({ email: 'user@example.com', password: PW })
    const adminToken = (await a.login({ email: 'admin@example.com', password: PW })).accessToken
    const userToken = (await a.login({ email: 'user@example.com', password: PW })).accessToken
    return { a, events, adminToken, userToken }
  }

  it('guards node:http handlers with requireRole, requirePermission and requireAuth', async () => {
    const { a, adminToken, userToken, events } = await setup()
    const guards: Record<string, AuthMiddleware> = {
      '/admin': a.requireRole('admin'),
      '/links': a.requirePermission('link:delete'),
      '/me': a.requireAuth(),
    }
    const url = await listen(
      createServer((req, res) => {
        const guard = guards[req.url ?? ''] as AuthMiddleware
        void guard(req, res).then((ok) => {
          if (ok) res.end(JSON.stringify((req as { auth?: unknown }).auth))
        })
      }),
    )
    const get = async (path: string, token?: string) => {
      const res = await fetch(url + path, token ? { headers: { authorization: `Bearer ${token}` } } : {})
      return {
        status: res.status,
        body: (await res.json()) as Record<string, unknown>,
        www: res.headers.get('www-authenticate'),
      }
    }
    expect(await get('/admin')).toMatchObject({ status: 401, body: { error: 'AUTH_UNAUTHENTICATED' }, www: 'Bearer' })
    expect(await get('/admin', userToken)).toMatchObject({ status: 403, body: { error: 'AUTH_FORBIDDEN' } })
    expect(await get('/admin', adminToken)).toMatchObject({ status: 200, body: { roles: ['admin'] } })
    expect((await get('/links', adminToken)).status).toBe(200)
    expect((await get('/links', userToken)).status).toBe(403)
    expect((await get('/me', userToken)).status).toBe(200)
    expect((await get('/me', 'garbage')).body).toMatchObject({ error: 'AUTH_TOKEN_INVALID' })
    expect(events.filter((e) => e.type === 'auth.accessDenied')).toHaveLength(2)
  })

  it('works as Express middleware and passes non-auth errors to next', async () => {
    const { a, adminToken, userToken } = await setup()
    const app = express()
    app.get('/links/:id', a.requirePermission('link:delete'), (req, res) => {
      res.json({ user: (req as { auth?: { userId: string } }).auth?.userId })
    })
    const url = await listen(createServer(app))
    expect((await fetch(`${url}/links/1`, { headers: { authorization: `Bearer ${adminToken}` } })).status).toBe(200)
    expect((await fetch(`${url}/links/1`, { headers: { authorization: `bearer ${userToken}` } })).status).toBe(403)
    const broken = make({
      sessions: {
        load: async () => {
          throw new Error('session store down')
        },
        revokeAll: async () => 0,
      },
    }).a
    const failing = express()
    failing.get('/', broken.requireAuth(), (_req, res) => void res.end('no'))
    failing.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(503).end(err.message)
    })
    const url2 = await listen(createServer(failing))
    const res = await fetch(url2)
    expect([res.status, await res.text()]).toEqual([503, 'session store down'])
    await expect(
      broken.requireAuth()({ headers: {} }, { statusCode: 0, setHeader: () => 0, end: () => 0 }),
    ).rejects.toThrow('session store down')
  })

  it('maps every error code to a status in sendAuthError', () => {
    const sent: Array<[number, Record<string, string>]> = []
    for (const c of ['AUTH_RATE_LIMITED', 'AUTH_PASSWORD_REJECTED', 'AUTH_EMAIL_TAKEN', 'AUTH_CLOSED'] as const) {
      const headers: Record<string, string> = {}
      const res = { statusCode: 0, setHeader: (n: string, v: string) => void (headers[n] = v), end: () => undefined }
      sendAuthError(res, new AuthError(c, 'x', { details: c === 'AUTH_RATE_LIMITED' ? { retryAfterMs: 1500 } : {} }))
      sent.push([res.statusCode, headers])
    }
    expect(sent.map(([s]) => s)).toEqual([429, 400, 409, 500])
    expect(sent[0]?.[1]['retry-after']).toBe('2')
    const done = { statusCode: 0, headersSent: true, setHeader: () => 0, end: () => 0 }
    sendAuthError(done, new AuthError('AUTH_FORBIDDEN', 'x'))
    expect(done.statusCode).toBe(0)
  })
})

describe('server sessions', () => {
  it('authenticates from the session when no bearer token is presented, and password changes end other sessions', async () => {
    const revoked: Array<[string, unknown]> = []
    let sessionUser: string | undefined
    const sessions = {
      load: async () => ({ id: 's1', userId: sessionUser }),
      revokeAll: async (userId: string, o?: unknown) => (revoked.push([userId, o]), 1),
    }
    const { a } = make({ sessions })
    const user = await a.register({ email: 'ann@example.com', password: PW })
    expect(await a.authenticate({ headers: { cookie: 'sid=x' } })).toBeUndefined()
    sessionUser = user.id
    expect(await a.authenticate({ headers: { cookie: 'sid=x' } })).toMatchObject({
      userId: user.id,
      via: 'session',
      sessionId: 's1',
    })
    sessionUser = 'deleted-user'
    expect(await a.authenticate({ headers: {} })).toBeUndefined()
    await a.changePassword({
      userId: user.id,
      currentPassword: PW,
      newPassword: 'a brand new passphrase',
      keepSessionId: 's1',
    })
    await a.logoutAll(user.id)
    expect(revoked).toEqual([
      [user.id, { except: 's1' }],
      [user.id, undefined],
    ])
  })
})

describe('events, configuration and lifecycle', () => {
  it('publishes every event on beaver:auth:event without secrets, and a failing sink fails the flow', async () => {
    const seen: AuthEvent[] = []
    const listener = (m: unknown) => void seen.push(m as AuthEvent)
    subscribe('beaver:auth:event', listener)
    try {
      const { a } = make()
      await a.register({ email: 'ann@example.com', password: PW }, { ip: '192.0.2.9', userAgent: 'test' })
      const pair = await a.login({ email: 'ann@example.com', password: PW })
      expect(seen.map((e) => e.type)).toEqual(['auth.register', 'auth.login'])
      expect(seen[0]).toMatchObject({ outcome: 'success', ip: '192.0.2.9', userAgent: 'test' })
      expect(JSON.stringify(seen)).not.toContain(PW)
      expect(JSON.stringify(seen)).not.toContain(pair.refreshToken)
    } finally {
      unsubscribe('beaver:auth:event', listener)
    }
    const failing = make({
      onEvent: () => {
        throw new Error('audit down')
      },
    }).a
    await expect(failing.register({ email: 'bob@example.com', password: PW })).rejects.toThrow('audit down')
  })

  it('names every out-of-range setting, refuses cyclic or dangling roles, and needs deliver for mail flows', async () => {
    const err = (() => {
      try {
        createAuth({
          envPrefix: false,
          krypto: cheapKrypto(),
          accessTtl: '2d',
          password: { minLength: 20, maxLength: 16 },
        })
      } catch (e) {
        return e as AuthError
      }
    })()
    expect(err?.code).toBe('AUTH_OPTIONS_INVALID')
    expect(err?.message).toMatch(/AUTH_ACCESS_TTL is 172800000 ms; expected 10000-86400000 ms/)
    expect(err?.message).toMatch(/AUTH_PASSWORD_MAX_LENGTH \(16\) is below AUTH_PASSWORD_MIN_LENGTH \(20\)/)
    expect(() =>
      createAuth({
        env: { BEAVER_AUTH_LOCKOUT_BASE_DELAY: '1h', BEAVER_AUTH_LOCKOUT_MAX_DELAY: '1m' },
        krypto: cheapKrypto(),
      }),
    ).toThrow(/BEAVER_AUTH_LOCKOUT_MAX_DELAY is below BEAVER_AUTH_LOCKOUT_BASE_DELAY/)
    expect(() => make({ roles: { a: { inherits: ['b'] }, b: { inherits: ['a'] } } })).toThrow(/cycle: a → b → a/)
    expect(() => make({ roles: { a: { inherits: ['ghost'] } } })).toThrow(
      expect.objectContaining({ code: 'AUTH_ROLE_UNKNOWN' }),
    )
    const { a } = make()
    const user = await a.register({ email: 'ann@example.com', password: PW })
    expect(await code(a.requestPasswordReset('ann@example.com'))).toBe('AUTH_OPTIONS_INVALID')
    expect(await code(a.sendVerification(user.id))).toBe('AUTH_OPTIONS_INVALID')
    expect(await code(a.sendVerification('nobody'))).toBe('AUTH_USER_NOT_FOUND')
    expect(await code(a.setRoles('nobody', ['admin']))).toBe('AUTH_USER_NOT_FOUND')
    expect(await code(a.createApiKey('nobody', { name: 'x' }))).toBe('AUTH_USER_NOT_FOUND')
    expect(await code(a.createApiKey(user.id, { name: 'x', scopes: ['s'.repeat(101)] }))).toBe('AUTH_OPTIONS_INVALID')
    expect(await code(a.register({ email: 'not-an-email', password: PW }))).toBe('AUTH_EMAIL_INVALID')
    expect(await code(a.register({ email: 'b@example.com', password: 7 as unknown as string }))).toBe(
      'AUTH_PASSWORD_REJECTED',
    )
    expect(await a.getUser('nobody')).toBeUndefined()
    expect(await code(a.verifyEmail('ev_unknown'))).toBe('AUTH_TOKEN_INVALID')
    expect(await code(a.resetPassword('bogus', PW))).toBe('AUTH_TOKEN_INVALID')
  })

  it('uses a random key outside production, refuses to start without one in production, and describes no secret', async () => {
    await using dev = createAuth({ env: {} })
    expect(dev.describe().state).toMatchObject({
      store: 'memory',
      keys: expect.stringMatching(/^ephemeral/),
      signingKid: 'ephemeral',
    })
    await dev.ready()
    expect(() => createAuth({ env: { NODE_ENV: 'production' } })).toThrow(/set BEAVER_KRYPTO_KEYS/)
    const key = generateKeyRingEntry('prod')
    await using prod = createAuth({ env: { NODE_ENV: 'production', BEAVER_KRYPTO_KEYS: key } })
    expect(prod.describe().state).toMatchObject({ keys: 'configured', signingKid: 'prod' })
    expect(JSON.stringify(prod.describe())).not.toContain(key.split(':')[1])
  })

  it('refuses calls once closed, closes once, and the default instance is shut down by resetAuth', async () => {
    const { a } = make()
    await a.close()
    await a.close()
    expect(await code(a.login({ email: 'a@example.com', password: PW }))).toBe('AUTH_CLOSED')
    expect(await code(a.ready())).toBe('AUTH_CLOSED')
    expect(() => a.verifyAccessToken('x')).toThrow(expect.objectContaining({ code: 'AUTH_CLOSED' }))
    expect(auth().store).toBe('memory')
    await resetAuth()
  })

  it('refuses a bad table prefix for the database store', () => {
    expect(() =>
      createAuth({ envPrefix: false, krypto: cheapKrypto(), store: 'database', db: { table: 'Bad-Name' } }),
    ).toThrow()
  })
})
