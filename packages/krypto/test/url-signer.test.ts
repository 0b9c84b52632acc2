import { describe, expect, it } from 'vitest'
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

async function reason(s: UrlSigner, url: string | URL, method?: string): Promise<string | undefined> {
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

  it('a URL both tampered with and expired reports tampered, never expired', async () => {
    const url = signer().sign('/files/1?v=1', { expiresIn: '1m' })
    const late = signer({}, T0 + 3_600_000)
    expect(await reason(late, url)).toBe('KRYPTO_URL_EXPIRED')
    expect(await reason(late, url.replace('v=1', 'v=2'))).toBe('KRYPTO_URL_TAMPERED')
    expect(await reason(late, url.replace('/files/1', '/files/2'))).toBe('KRYPTO_URL_TAMPERED')
  })

  it('refuses to sign a URL that names a host without a scheme instead of dropping the host', async () => {
    const s = signer()
    for (const url of ['//evil.example/x', '/\\evil.example/x', '\\\\evil.example/x', '//evil.example']) {
      expect(() => s.sign(url), url).toThrow(
        expect.objectContaining({
          code: 'KRYPTO_INVALID_ARGUMENT',
          message: expect.stringContaining('names a host without a scheme'),
        }),
      )
    }
    const signed = s.sign('/x')
    expect(await reason(s, `//evil.example${signed}`)).toBe('KRYPTO_URL_TAMPERED')
    expect(s.sign('https://evil.example/x')).toMatch(/^https:\/\/evil\.example\/x\?/)
  })

  it('a URL object is judged exactly like its href string', async () => {
    const s = signer()
    const signed = s.sign('https://a.example/x/y?q=1')
    const spellings = [
      signed,
      signed.replace('https://a.example', 'HTTPS://A.EXAMPLE'),
      signed.replace('/x/y', '/x/./y'),
      signed.replace('/x/y', '/x/z/../y'),
      signed.replace('a.example', 'a.example:443'),
      signed.replace('/x/y', '/x%2Fy'),
      signed.replace('q=1', 'q=2'),
      `${signed}&extra=1`,
    ]
    for (const spelled of spellings) {
      const object = new URL(spelled)
      expect(await reason(s, object), spelled).toBe(await reason(s, object.href))
    }
    // The string as received is checked in its exact form; its normalized object is what it means.
    expect(await reason(s, spellings[2] as string)).toBe('KRYPTO_URL_TAMPERED')
    expect(await reason(s, new URL(spellings[2] as string))).toBeUndefined()
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

describe('configuration and instance surface', () => {
  it('reads URLSIGNER_* with a prefix, falls back to KRYPTO_KEYS, and renames parameters', async () => {
    const env = { T1_KRYPTO_KEYS: K1, T1_URLSIGNER_PARAMS_SIGNATURE: 'signature', T1_URLSIGNER_DEFAULT_TTL: '5m' }
    const s = createUrlSigner({ envPrefix: 'T1_', env, now: () => T0 })
    const url = s.sign('/x')
    expect(url).toMatch(/&kid=u1&signature=[\w-]{43}$/)
    expect(s.remainingValidity(url)).toBe(5 * 60_000)
    expect(s.describe().state).toMatchObject({ keysFrom: 'T1_KRYPTO_KEYS', currentKid: 'u1' })
    expect(await reason(createUrlSigner({ keys: K1, envPrefix: 'T1_', env, now: () => T0 }), url)).toBeUndefined()
  })

  it('reports a bad variable as one ConfigError naming it, with the secret masked', () => {
    const env = { T2_URLSIGNER_KEYS: 'no-colon-here' }
    let caught: unknown
    try {
      createUrlSigner({ envPrefix: 'T2_', env })
    } catch (err) {
      caught = err
    }
    expect(caught).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('T2_URLSIGNER_KEYS') })
    expect((caught as Error).message).not.toContain('no-colon-here')
  })

  it('ready() fails fast without keys, describe() masks keys given as options, close is idempotent', async () => {
    await expect(createUrlSigner({ envPrefix: false }).ready()).rejects.toMatchObject({ code: 'KRYPTO_KEYS_MISSING' })
    const s = signer()
    await s.ready()
    const d = s.describe()
    expect(d.package).toBe('urlsigner')
    expect(d.settings.find((e) => e.path === 'keys')).toMatchObject({ value: '****', source: 'option' })
    expect(JSON.stringify(d)).not.toContain(K1.split(':')[1] as string)
    await s.close()
    await s.close()
    await s[Symbol.asyncDispose]()
    await expect(s.ready()).rejects.toMatchObject({ code: 'KRYPTO_CLOSED' })
  })

  it('the url-signer subpath has the signer and no second default instance or withPrefix', () => {
    expect(Object.keys(subpath).sort()).toEqual([
      'KryptoError',
      'createMemoryNonceStore',
      'createUrlSigner',
      'isKryptoError',
      'urlSignerSchema',
    ])
  })
})
