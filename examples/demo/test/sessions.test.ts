import { afterEach, describe, expect, it } from 'vitest'
import { createKrypto, generateKeyRingEntry } from '@beaver-kit/krypto'
import { harness, signUp, type Harness } from './helpers.ts'

const PW = 'a long enough passphrase'
const open: Harness[] = []
afterEach(async () => {
  for (const h of open.splice(0)) await h.close()
})

async function start(): Promise<Harness> {
  // Cheap password hashing: the costs are krypto's business, not what these tests are about.
  const krypto = createKrypto({
    envPrefix: false,
    keys: [generateKeyRingEntry('demo-test')],
    password: { algorithm: 'argon2id', argon2: { memory: '64kb', passes: 1 } },
  })
  const h = await harness({ fetchTitles: false }, { krypto })
  open.push({ ...h, close: async () => (await h.close(), await krypto.close()) })
  return h
}

/** A POST with an optional Cookie header; the status, the JSON body and the cookies set (name=value). */
async function post(h: Harness, path: string, body: unknown, cookie?: string) {
  const res = await fetch(h.app.url + path, {
    method: 'POST',
    headers: cookie ? { cookie } : {},
    body: JSON.stringify(body),
  })
  const setCookies = res.headers.getSetCookie()
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown>,
    setCookies,
    cookie: setCookies.map((c) => c.split(';')[0]).join('; '),
  }
}

describe('Beaver Links: browser sessions (@beaver-kit/session)', () => {
  it('a sign-in sets a secure session cookie that signs the browser in; logout ends it', async () => {
    const h = await start()
    await signUp(h, 'sam@example.com', PW)
    const login = await post(h, '/auth/login', { email: 'sam@example.com', password: PW })
    expect(login.status).toBe(200)
    expect(login.setCookies).toHaveLength(1)
    expect(login.setCookies[0]).toMatch(/^__Host-sid=[^;]+; Path=\/; Max-Age=\d+; HttpOnly; Secure; SameSite=Lax$/)
    const userId = (login.body.user as { id: string }).id

    // The cookie alone (no Bearer token) signs the request in: the link is the user's.
    const created = await post(h, '/links', { url: 'https://example.org/mine' }, login.cookie)
    expect(created.status).toBe(201)
    expect(created.body.ownerId).toBe(userId)
    expect(await h.app.accounts.sessions.listSessions(userId)).toHaveLength(1)

    const out = await post(h, '/auth/logout', {}, login.cookie)
    expect(out.body).toEqual({ signedOut: true })
    expect(out.setCookies[0]).toMatch(/^__Host-sid=; .*Max-Age=0/)
    // The old cookie is worthless now: an anonymous link, and a delete refused.
    expect((await post(h, '/links', { url: 'https://example.org/anon' }, login.cookie)).body.ownerId).toBeNull()
    const del = await fetch(`${h.app.url}/links/${created.body.code as string}`, {
      method: 'DELETE',
      headers: { cookie: login.cookie },
    })
    expect(del.status).toBe(401)
    expect(await h.app.accounts.sessions.listSessions(userId)).toEqual([])
  })

  it('a cookie planted before sign-in is replaced (fixation), and a wrong password sets no cookie', async () => {
    const h = await start()
    await signUp(h, 'fix@example.com', PW)
    const refused = await post(h, '/auth/login', { email: 'fix@example.com', password: `${PW}!` })
    expect(refused.status).toBe(401)
    expect(refused.setCookies).toEqual([])
    const first = await post(h, '/auth/login', { email: 'fix@example.com', password: PW })
    const second = await post(h, '/auth/login', { email: 'fix@example.com', password: PW }, first.cookie)
    expect(second.cookie).not.toBe(first.cookie)
    // The first session's id was regenerated away: only the second signs in.
    expect((await post(h, '/links', { url: 'https://example.org/a' }, first.cookie)).body.ownerId).toBeNull()
    expect((await post(h, '/links', { url: 'https://example.org/b' }, second.cookie)).body.ownerId).toBe(
      (second.body.user as { id: string }).id,
    )
  })
})
