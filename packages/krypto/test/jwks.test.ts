import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { channels, createJwt, createRemoteJwks, generateKeyPair, type RemoteJwks } from '../src/index.ts'

// A local issuer: serves whatever JWKS the test sets, counts requests, can fail on demand.
let server: Server
let base: string
let jwksBody: unknown = { keys: [] }
let status = 200
let hits = 0
let bodyOverride: string | undefined
const stalled = new Set<ServerResponse>()

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    hits++
    if (req.url === '/stall-headers') {
      stalled.add(res)
      return
    }
    if (req.url === '/stall-body') {
      // Headers and half a document, then nothing: the time limit must cover the body.
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' })
      res.write('{"keys":[')
      stalled.add(res)
      return
    }
    if (req.url !== '/jwks.json') {
      res.writeHead(404).end()
      return
    }
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(bodyOverride ?? JSON.stringify(jwksBody))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  for (const res of stalled) res.destroy()
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

function issuer(kid: string) {
  const { privateKey } = generateKeyPair('ES256')
  const jwt = createJwt({ keys: [{ key: privateKey, alg: 'ES256', kid }], issuer: 'https://issuer.test' })
  return { jwt, jwk: jwt.jwks().keys[0] }
}

function fresh(now: { t: number }, extra: Parameters<typeof createRemoteJwks>[1] = {}): RemoteJwks {
  hits = 0
  status = 200
  bodyOverride = undefined
  // The local issuer speaks plain HTTP, which needs the explicit opt-in.
  return createRemoteJwks(`${base}/jwks.json`, {
    cacheTtl: '10m',
    cooldown: '30s',
    allowHttp: true,
    now: () => now.t,
    ...extra,
  })
}

describe('remote JWKS', () => {
  it('fetches once, serves from cache, and verifies through verifyAsync', async () => {
    const a = issuer('a')
    jwksBody = { keys: [a.jwk] }
    const now = { t: 1_000_000 }
    const remote = fresh(now)
    const verifier = createJwt({ jwks: remote, issuer: 'https://issuer.test' })
    const token = a.jwt.sign({ sub: 'u1' })
    expect((await verifier.verifyAsync(token)).sub).toBe('u1')
    expect((await verifier.verifyAsync(token)).sub).toBe('u1')
    expect(hits).toBe(1)
    expect(() => verifier.verify(token)).toThrow(expect.objectContaining({ code: 'KRYPTO_KEY_NOT_FOUND' }))
    now.t += 10 * 60_000
    await verifier.verifyAsync(token)
    expect(hits).toBe(2)
    remote.close()
  })

  it('refetches on an unknown kid (rotation at the issuer), at most once per cooldown', async () => {
    const a = issuer('a')
    const b = issuer('b')
    jwksBody = { keys: [a.jwk] }
    const now = { t: 5_000_000 }
    const remote = fresh(now)
    const verifier = createJwt({ jwks: remote })
    await verifier.verifyAsync(a.jwt.sign({}))
    jwksBody = { keys: [b.jwk, a.jwk] }
    // Within the cooldown since the first fetch: no refetch, the kid is unknown.
    await expect(verifier.verifyAsync(b.jwt.sign({}))).rejects.toMatchObject({ code: 'KRYPTO_KEY_NOT_FOUND' })
    expect(hits).toBe(1)
    now.t += 30_000
    expect((await verifier.verifyAsync(b.jwt.sign({ sub: 'b' }))).sub).toBe('b')
    expect(hits).toBe(2)
    // A flood of forged kids right after costs no further request.
    const forged = issuer('forged')
    for (let i = 0; i < 20; i++)
      await expect(verifier.verifyAsync(forged.jwt.sign({}))).rejects.toMatchObject({ code: 'KRYPTO_KEY_NOT_FOUND' })
    expect(hits).toBe(2)
    remote.close()
  })

  it('deduplicates concurrent fetches', async () => {
    const a = issuer('a')
    jwksBody = { keys: [a.jwk] }
    const remote = fresh({ t: 0 })
    const verifier = createJwt({ jwks: remote })
    const token = a.jwt.sign({})
    await Promise.all(Array.from({ length: 10 }, () => verifier.verifyAsync(token)))
    expect(hits).toBe(1)
    remote.close()
  })

  it('keeps serving the cached keys when a refresh fails, and fails clearly without any', async () => {
    const a = issuer('a')
    jwksBody = { keys: [a.jwk] }
    const now = { t: 0 }
    const remote = fresh(now)
    const verifier = createJwt({ jwks: remote })
    const token = a.jwt.sign({})
    await verifier.verifyAsync(token)
    status = 503
    now.t += 11 * 60_000
    await expect(verifier.verifyAsync(token)).resolves.toMatchObject({ iss: 'https://issuer.test' })
    expect(hits).toBe(2)
    // A failing issuer is not asked again before the cooldown, however many tokens arrive.
    for (let i = 0; i < 5; i++) await verifier.verifyAsync(token)
    expect(hits).toBe(2)
    now.t += 30_000
    status = 200
    await verifier.verifyAsync(token)
    expect(hits).toBe(3)
    expect(remote.fetchedAt).toBe(now.t)
    const cold = fresh({ t: 0 })
    status = 503
    await expect(createJwt({ jwks: cold }).verifyAsync(token)).rejects.toMatchObject({
      code: 'KRYPTO_JWKS_FETCH_FAILED',
    })
    remote.close()
    cold.close()
  })

  it('refuses bad documents, oversize bodies, symmetric keys and private members', async () => {
    const a = issuer('a')
    const token = a.jwt.sign({})
    const check = async (body: string, extra = {}) => {
      const r = fresh({ t: 0 }, extra)
      bodyOverride = body
      try {
        return await createJwt({ jwks: r }).verifyAsync(token)
      } finally {
        r.close()
      }
    }
    await expect(check('not json')).rejects.toMatchObject({ code: 'KRYPTO_JWKS_FETCH_FAILED' })
    await expect(check('{"nokeys":1}')).rejects.toMatchObject({ code: 'KRYPTO_JWKS_FETCH_FAILED' })
    await expect(check(JSON.stringify({ keys: [a.jwk] }), { maxBytes: 20 })).rejects.toMatchObject({
      code: 'KRYPTO_JWKS_FETCH_FAILED',
    })
    await expect(check(JSON.stringify({ keys: [{ kty: 'oct', k: 'AAAA', kid: 'a' }] }))).rejects.toMatchObject({
      code: 'KRYPTO_KEY_NOT_FOUND',
    })
    await expect(check(JSON.stringify({ keys: [{ ...a.jwk, use: 'enc' }] }))).rejects.toMatchObject({
      code: 'KRYPTO_KEY_NOT_FOUND',
    })
    const r = fresh({ t: 0 })
    bodyOverride = JSON.stringify({ keys: [{ ...a.jwk, d: 'secret-member' }] })
    await r.refresh()
    expect(r.keys[0]).not.toHaveProperty('d')
    r.close()
  })

  it('a failing issuer is asked at most once per cooldown before its first success too', async () => {
    const a = issuer('a')
    const now = { t: 0 }
    const remote = fresh(now)
    status = 503
    const verifier = createJwt({ jwks: remote })
    const token = a.jwt.sign({})
    for (let i = 0; i < 5; i++)
      await expect(verifier.verifyAsync(token)).rejects.toMatchObject({ code: 'KRYPTO_JWKS_FETCH_FAILED' })
    expect(hits).toBe(1)
    now.t += 29_999
    await expect(verifier.verifyAsync(token)).rejects.toMatchObject({ code: 'KRYPTO_JWKS_FETCH_FAILED' })
    expect(hits).toBe(1)
    now.t += 1
    status = 200
    jwksBody = { keys: [a.jwk] }
    await expect(verifier.verifyAsync(token)).resolves.toMatchObject({ iss: 'https://issuer.test' })
    expect(hits).toBe(2)
    remote.close()
  })

  it('publishes beaver:krypto:jwksStale when a refresh fails and the old keys keep serving', async () => {
    const a = issuer('a')
    jwksBody = { keys: [a.jwk] }
    const now = { t: 0 }
    const remote = fresh(now)
    const verifier = createJwt({ jwks: remote })
    await verifier.verifyAsync(a.jwt.sign({}))
    const fetchedAt = remote.fetchedAt
    const events: { url: string; error: { code?: string }; fetchedAt: number }[] = []
    const listen = (message: unknown): void => {
      events.push(message as (typeof events)[number])
    }
    subscribe('beaver:krypto:jwksStale', listen)
    try {
      status = 500
      now.t += 10 * 60_000
      await expect(verifier.verifyAsync(a.jwt.sign({ sub: 's' }))).resolves.toMatchObject({ sub: 's' })
      expect(events).toEqual([
        { url: `${base}/jwks.json`, error: expect.objectContaining({ code: 'KRYPTO_JWKS_FETCH_FAILED' }), fetchedAt },
      ])
      expect(channels.jwksStale.name).toBe('beaver:krypto:jwksStale')
    } finally {
      unsubscribe('beaver:krypto:jwksStale', listen)
      remote.close()
    }
  })

  it('a fetch that exceeds the timeout, at the headers or mid-body, is KRYPTO_JWKS_FETCH_FAILED naming the limit', async () => {
    for (const path of ['/stall-headers', '/stall-body']) {
      const remote = createRemoteJwks(`${base}${path}`, { timeout: 150, allowHttp: true })
      const err = await remote.refresh().then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(err, path).toMatchObject({
        code: 'KRYPTO_JWKS_FETCH_FAILED',
        message: `The JWKS at ${base}${path} did not arrive within 150 ms`,
        details: { url: `${base}${path}`, timeoutMs: 150 },
      })
      expect((err as Error).name).toBe('KryptoError')
      remote.close()
    }
  })

  it('http:// needs allowHttp, and an https issuer that redirects to http:// is refused', async () => {
    expect(() => createRemoteJwks(`${base}/jwks.json`)).toThrow(/is http:\/\/: keys fetched in clear text/)
    expect(() => createRemoteJwks('https://issuer.test/jwks.json')).not.toThrow()
    const downgraded = (async () => {
      const res = new Response(JSON.stringify({ keys: [] }), { status: 200 })
      Object.defineProperty(res, 'url', { value: 'http://issuer.test/jwks.json' })
      return res
    }) as typeof fetch
    const remote = createRemoteJwks('https://issuer.test/jwks.json', { fetch: downgraded })
    await expect(remote.refresh()).rejects.toMatchObject({
      code: 'KRYPTO_JWKS_FETCH_FAILED',
      message: expect.stringContaining('redirected to http://'),
    })
    remote.close()
  })

  it('close aborts and later lookups say KRYPTO_CLOSED', async () => {
    const remote = fresh({ t: 0 })
    remote.close()
    remote.close()
    await expect(remote.refresh()).rejects.toMatchObject({ code: 'KRYPTO_CLOSED' })
    expect(() => createRemoteJwks('ftp://x/jwks')).toThrow(expect.objectContaining({ code: 'KRYPTO_INVALID_ARGUMENT' }))
  })
})
