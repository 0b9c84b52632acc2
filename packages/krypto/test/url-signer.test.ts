import { afterEach, describe, expect, it } from 'vitest'
import {
  createMemoryNonceStore,
  createUrlSigner,
  generateKeyRingEntry,
  createJwt,
  isKryptoError,
  type UrlSigner,
} from '../src/index.ts'
import * as subpath from '../src/url-signer-entry.ts'

const T0 = 1_800_000_000_000
const K1 = generateKeyRingEntry('u1')
const K2 = generateKeyRingEntry('u2')

function signer(extra: Parameters<typeof createUrlSigner>[0] = {}, t = T0): UrlSigner {
  return createUrlSigner({ keys: K1, envPrefix: false, now: () => t, ...extra })
}

async function reason(s: UrlSigner, url: string, method?: string): Promise<string | undefined> {
  const r = await s.check(url, method === undefined ? {} : { method })
  return r.ok ? undefined : r.reason
}

describe('signing and verification', () => {
  it('signs a relative URL, keeps it relative, and verifies with the expiry and key id', async () => {
    const s = signer()
    const url = s.sign('/files/42/download?name=report.pdf', { expiresIn: '10m' })
    expect(url).toMatch(/^\/files\/42\/download\?name=report\.pdf&exp=\d+&kid=u1&sig=[\w-]{43}$/)
    const info = await s.verify(url)
    expect(info).toMatchObject({ kid: 'u1', remainingMs: 600_000, method: undefined, nonce: undefined })
    expect(info.expiresAt.getTime()).toBe(T0 + 600_000)
    expect(s.remainingValidity(url)).toBe(600_000)
    expect(s.isExpired(url)).toBe(false)
  })

  it('uses the default lifetime of 30 minutes', async () => {
    const s = signer()
    expect((await s.verify(s.sign('/a'))).remainingMs).toBe(30 * 60_000)
  })

  it('reports expiry precisely, with the clock skew', async () => {
    const url = signer().sign('/a', { expiresIn: '1m' })
    expect(await reason(signer({}, T0 + 60_000 + 4_999), url)).toBeUndefined()
    expect(await reason(signer({}, T0 + 65_000), url)).toBe('KRYPTO_URL_EXPIRED')
    expect(signer({}, T0 + 65_000).isExpired(url)).toBe(true)
  })

  it('binds the method', async () => {
    const s = signer()
    const url = s.sign('https://links.example/admin/links/7', { method: 'delete' })
    expect(await reason(s, url, 'DELETE')).toBeUndefined()
    expect(await reason(s, url, 'GET')).toBe('KRYPTO_URL_WRONG_METHOD')
    expect(await reason(s, url)).toBe('KRYPTO_URL_WRONG_METHOD')
    expect(await reason(s, url.replace('method=DELETE', 'method=GET'), 'GET')).toBe('KRYPTO_URL_TAMPERED')
  })

  it('binds every parameter by default, only the chosen ones when asked', async () => {
    const s = signer()
    const all = s.sign('/dl?id=1&size=big')
    expect(await reason(s, all.replace('size=big', 'size=small'))).toBe('KRYPTO_URL_TAMPERED')
    expect(await reason(s, `${all}&extra=1`)).toBe('KRYPTO_URL_TAMPERED')
    expect(await reason(s, all.replace('id=1&', ''))).toBe('KRYPTO_URL_TAMPERED')
    const some = s.sign('/dl?id=1&utm=mail', { params: ['id'] })
    expect(await reason(s, some.replace('utm=mail', 'utm=web'))).toBeUndefined()
    expect(await reason(s, `${some}&page=2`)).toBeUndefined()
    expect(await reason(s, some.replace('id=1', 'id=2'))).toBe('KRYPTO_URL_TAMPERED')
    expect(await reason(s, some.replace('sp=id', 'sp=utm'))).toBe('KRYPTO_URL_TAMPERED')
    expect(await reason(s, some.replace('/dl', '/dl2'))).toBe('KRYPTO_URL_TAMPERED')
    // Parameter order does not matter: proxies may reorder.
    const reordered = all.replace('?id=1&size=big', '?size=big&id=1')
    expect(await reason(s, reordered)).toBeUndefined()
  })

  it('rejects every single-byte change of a signed URL', async () => {
    const s = signer({ bindOrigin: true })
    const urls = [
      s.sign('/files/9?name=a%20b.pdf&v=2', { method: 'GET', payload: { user: 7 }, oneTime: true }),
      s.sign('https://links.example:8443/x/y?q=1', { params: ['q'] }),
    ]
    for (const url of urls) {
      for (let i = 0; i < url.length; i++) {
        for (const bit of [1, 2, 4, 8, 16, 32, 64]) {
          const flipped = url.slice(0, i) + String.fromCharCode(url.charCodeAt(i) ^ bit) + url.slice(i + 1)
          if (flipped === url) continue
          const r = await s.check(flipped, { method: 'GET', nonceStore: { consume: () => true } })
          expect(r.ok, `byte ${i} ("${url[i]}") bit ${bit}: ${flipped}`).toBe(false)
        }
      }
    }
  })

  it('without bindOrigin the host may change (behind proxies), with it it may not', async () => {
    const loose = signer()
    const strict = signer({ bindOrigin: true })
    const a = loose.sign('https://a.example/x')
    const b = strict.sign('https://a.example/x')
    expect(await reason(loose, a.replace('a.example', 'b.example'))).toBeUndefined()
    expect(await reason(strict, b.replace('a.example', 'b.example'))).toBe('KRYPTO_URL_TAMPERED')
  })

  it('refuses unsigned URLs, repeated signer parameters and URLs that already use them', async () => {
    const s = signer()
    expect(await reason(s, '/files/1')).toBe('KRYPTO_URL_UNSIGNED')
    const url = s.sign('/a')
    expect(await reason(s, `${url}&exp=9999999999`)).toBe('KRYPTO_URL_TAMPERED')
    expect(() => s.sign('/a?sig=1')).toThrow(expect.objectContaining({ code: 'KRYPTO_INVALID_ARGUMENT' }))
  })

  it('carries a signed JSON payload', async () => {
    const s = signer()
    const url = s.sign('/unsubscribe', { payload: { list: 'news', user: 42 } })
    expect((await s.verify<{ list: string; user: number }>(url)).payload).toEqual({ list: 'news', user: 42 })
  })
})

describe('one-time URLs', () => {
  it('accepts a nonce once, and needs a store to verify one', async () => {
    const store = createMemoryNonceStore({ now: () => T0 })
    const s = signer({ nonceStore: store })
    const url = s.sign('/reset', { oneTime: true })
    expect(new URL(url, 'http://x').searchParams.get('nonce')).toMatch(/^[\w-]{22}$/)
    expect(await reason(s, url)).toBeUndefined()
    expect(await reason(s, url)).toBe('KRYPTO_URL_REPLAYED')
    expect(store.size).toBe(1)
    expect(await reason(signer(), s.sign('/reset', { oneTime: true }))).toBe('KRYPTO_INVALID_ARGUMENT')
  })
  it('the memory store forgets expired nonces when full', () => {
    let t = T0
    const store = createMemoryNonceStore({ now: () => t, maxEntries: 2 })
    expect(store.consume('a', T0 + 10)).toBe(true)
    expect(store.consume('b', T0 + 10)).toBe(true)
    expect(() => store.consume('c', T0 + 10)).toThrow(expect.objectContaining({ code: 'KRYPTO_INVALID_ARGUMENT' }))
    t = T0 + 11
    expect(store.consume('c', T0 + 100)).toBe(true)
    expect(store.consume('c', T0 + 100)).toBe(false)
  })
})

describe('keys', () => {
  it('rotation: URLs signed with the previous key verify while it stays in the ring', async () => {
    const old = signer().sign('/a')
    const rotated = createUrlSigner({ keys: `${K2},${K1}`, envPrefix: false, now: () => T0 })
    expect(await reason(rotated, old)).toBeUndefined()
    expect(rotated.sign('/a')).toContain('kid=u2')
    expect(await reason(createUrlSigner({ keys: K2, envPrefix: false, now: () => T0 }), old)).toBe(
      'KRYPTO_URL_TAMPERED',
    )
  })

  it('throws KRYPTO_KEYS_MISSING without keys, only when used', () => {
    const s = createUrlSigner({ envPrefix: false })
    expect(() => s.sign('/a')).toThrow(expect.objectContaining({ code: 'KRYPTO_KEYS_MISSING' }))
  })

  it('a URL signature is never a valid JWT signature of the same master key (purpose binding)', async () => {
    const s = signer()
    const url = new URL(s.sign('/a'), 'http://x')
    const jwt = createJwt({ keys: [{ key: Buffer.from(K1.split(':')[1] as string, 'base64'), kid: 'u1' }] })
    const forged = `${Buffer.from('{"alg":"HS256","kid":"u1"}').toString('base64url')}.${Buffer.from('{}').toString('base64url')}.${url.searchParams.get('sig')}`
    let code: string | undefined
    try {
      jwt.verify(forged)
    } catch (err) {
      code = isKryptoError(err) ? err.code : undefined
    }
    expect(code).toBe('KRYPTO_JWT_BAD_SIGNATURE')
  })
})

describe('configuration and default instance', () => {
  const saved = { ...process.env }
  afterEach(async () => {
    process.env = { ...saved }
    await subpath.resetUrlSigner()
  })

  it('reads URLSIGNER_* with a prefix, falls back to KRYPTO_KEYS, and renames parameters', async () => {
    process.env.T1_KRYPTO_KEYS = K1
    process.env.T1_URLSIGNER_PARAMS_SIGNATURE = 'signature'
    process.env.T1_URLSIGNER_DEFAULT_TTL = '5m'
    const s = subpath.withPrefix('T1_')
    const url = s.sign('/x')
    expect(url).toContain('&signature=')
    expect(s.remainingValidity(url)).toBeGreaterThan(4 * 60_000)
    expect(await reason(createUrlSigner({ keys: K1, envPrefix: 'T1_' }), url)).toBeUndefined()
  })

  it('reports a bad variable as one ConfigError naming it, with the secret masked', () => {
    process.env.T2_URLSIGNER_KEYS = 'no-colon-here'
    expect(() => createUrlSigner({ envPrefix: 'T2_' })).toThrow(/T2_URLSIGNER_KEYS/)
    try {
      createUrlSigner({ envPrefix: 'T2_' })
    } catch (err) {
      expect((err as Error).message).not.toContain('no-colon-here')
    }
  })

  it('default accessors: init once, reset, close is idempotent', async () => {
    const s = subpath.initUrlSigner({ keys: K1, envPrefix: false })
    expect(subpath.urlSigner()).toBe(s)
    expect(() => subpath.initUrlSigner({ keys: K1, envPrefix: false })).toThrow(
      expect.objectContaining({ code: 'CORE_ALREADY_INITIALIZED' }),
    )
    await s.close()
    await s.close()
    await s[Symbol.asyncDispose]()
    await subpath.resetUrlSigner()
    process.env.BEAVER_URLSIGNER_KEYS = K2
    expect(subpath.urlSigner()).not.toBe(s)
    expect(subpath.urlSigner().sign('/a')).toContain('kid=u2')
  })
})
