import { afterEach, describe, expect, it } from 'vitest'
import { sql } from '@beaver-kit/database'
import { createKrypto, generateKeyRingEntry } from '@beaver-kit/krypto'
import { signInAt } from '@beaver-kit/testkit/oauth-servers'
import { harness, mailedToken, shorten, signUp, type Harness } from './helpers.ts'

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
  const h = await harness({ fetchTitles: false, admins: ['boss@example.com'] }, { krypto })
  open.push({ ...h, close: async () => (await h.close(), await krypto.close()) })
  return h
}

async function post(h: Harness, path: string, body: unknown, token?: string) {
  const res = await fetch(h.app.url + path, {
    method: 'POST',
    headers: token ? { authorization: `Bearer ${token}` } : {},
    body: JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

async function account(h: Harness, email: string): Promise<string> {
  await signUp(h, email, PW)
  const login = await post(h, '/auth/login', { email, password: PW })
  expect(login.status).toBe(200)
  return login.body.accessToken as string
}

async function del(h: Harness, code: string, token?: string): Promise<number> {
  const res = await fetch(`${h.app.url}/links/${code}`, {
    method: 'DELETE',
    headers: token ? { authorization: `Bearer ${token}` } : {},
  })
  await res.body?.cancel()
  return res.status
}

async function verify(h: Harness, token?: string) {
  const res = await fetch(
    `${h.app.url}/admin/audit/verify`,
    token ? { headers: { authorization: `Bearer ${token}` } } : {},
  )
  return { status: res.status, body: (await res.json()) as { ok?: boolean; streams?: Array<Record<string, unknown>> } }
}

describe('accounts, link ownership and the audit trail', () => {
  it('links belong to their owner; only the owner or an admin deletes; every create and delete is in a verified trail', async () => {
    const h = await start()
    const ann = await account(h, 'ann@example.com')
    const bob = await account(h, 'bob@example.com')
    const boss = await account(h, 'boss@example.com')
    expect((await post(h, '/auth/login', { email: 'ann@example.com', password: 'wrong password!!' })).status).toBe(401)

    const a1 = (await shorten(h.app, 'https://example.com/a1', { authorization: `Bearer ${ann}` })).body
    const a2 = (await shorten(h.app, 'https://example.com/a2', { authorization: `Bearer ${ann}` })).body
    const anon = (await shorten(h.app, 'https://example.com/anon')).body
    const shown = (await (await fetch(`${h.app.url}/links/${a1.code}`)).json()) as { ownerId: string }
    expect(shown.ownerId).toMatch(/\S/)
    expect((await shorten(h.app, 'https://example.com/x', { authorization: 'Bearer forged' })).status).toBe(401)

    expect(await del(h, a1.code as string)).toBe(401) // nobody signed in, no signed URL
    expect(await del(h, a1.code as string, bob)).toBe(403) // not bob's
    expect(await del(h, a1.code as string, ann)).toBe(200) // the owner
    expect(await del(h, a2.code as string, boss)).toBe(200) // an admin
    expect(await del(h, anon.code as string, bob)).toBe(403) // no owner: admins or the signed URL only
    expect(await del(h, 'missing1', ann)).toBe(404)
    const signed = await fetch(anon.deleteUrl as string, { method: 'DELETE' })
    expect(signed.status).toBe(200)

    const links = await h.app.accounts.audit.query({ stream: 'links', order: 'asc' })
    expect(links.records.map((r) => [r.action, r.target])).toEqual([
      ['link.create', `link:${a1.code}`],
      ['link.create', `link:${a2.code}`],
      ['link.create', `link:${anon.code}`],
      ['link.delete', `link:${a1.code}`],
      ['link.delete', `link:${a2.code}`],
      ['link.delete', `link:${anon.code}`],
    ])
    expect(links.records[5]?.actor).toBe('signed-url')

    expect((await verify(h)).status).toBe(401)
    expect((await verify(h, ann)).status).toBe(403)
    const good = await verify(h, boss)
    expect(good.status).toBe(200)
    expect(good.body.ok).toBe(true)
    expect(good.body.streams?.map((s) => s.stream).sort()).toEqual(['auth', 'links'])

    // Someone with database access rewrites history: the admin endpoint finds the record.
    await h.deps.db.execute(
      sql`UPDATE demo_audit_events SET actor = ${'user:someone-else'} WHERE stream = 'links' AND seq = 1`,
    )
    const bad = await verify(h, boss)
    expect(bad.body.ok).toBe(false)
    expect(bad.body.streams?.find((s) => s.stream === 'links')).toMatchObject({
      ok: false,
      problem: expect.objectContaining({ seq: 1 }),
    })
  })

  it('signs in through the local OpenID Provider and creates the account of its verified e-mail', async () => {
    const h = await start()
    const start302 = await fetch(`${h.app.url}/auth/oidc`, { redirect: 'manual' })
    expect(start302.status).toBe(302)
    const cookie = (start302.headers.get('set-cookie') ?? '').split(';')[0] as string
    const callback = await signInAt(
      start302.headers.get('location') as string,
      `${h.app.url}/auth/oidc/callback`,
      'olga',
    )
    const res = await fetch(callback, { headers: { cookie } })
    const pair = (await res.json()) as { accessToken: string; user: { email: string; roles: string[] } }
    expect(res.status).toBe(200)
    expect(pair.user).toMatchObject({ email: 'olga@example.test', roles: ['member'] })
    const mine = await shorten(h.app, 'https://example.com/olga', { authorization: `Bearer ${pair.accessToken}` })
    expect(mine.status).toBe(201)
    expect(await del(h, mine.body.code as string, pair.accessToken)).toBe(200)
    // The same callback again: the state is single use.
    const replay = await fetch(callback, { headers: { cookie } })
    expect(replay.status).toBe(400)
    await replay.body?.cancel()
    const logins = await h.app.accounts.audit.query({ stream: 'auth', action: 'auth.login' })
    expect(logins.records[0]?.metadata).toMatchObject({ reason: 'via:oidc:local' })
  })

  it('signs up without telling whether an address has an account: the same answer, the owner told by mail', async () => {
    const h = await start()
    await signUp(h, 'ann@example.com', PW)
    const register = async (email: string, password: string) => {
      const res = await fetch(`${h.app.url}/auth/register`, {
        method: 'POST',
        body: JSON.stringify({ email, password }),
      })
      return { status: res.status, body: await res.text() }
    }
    const taken = await register('ann@example.com', 'another long passphrase')
    const fresh = await register('newbie@example.com', PW)
    expect(taken.status).toBe(202)
    expect(fresh).toEqual(taken)
    // Nothing exists for the new address until its link is followed: no sign-in, no squatting.
    expect((await post(h, '/auth/login', { email: 'newbie@example.com', password: PW })).status).toBe(401)

    // The taken address's owner is told by mail, with a password link; the caller's password changed nothing.
    const reset = await mailedToken(h, 'ann@example.com', '/auth/reset')
    expect(
      (await post(h, '/auth/login', { email: 'ann@example.com', password: 'another long passphrase' })).status,
    ).toBe(401)

    // The new address's link: GET only shows a button (a mail scanner following it creates nothing) ...
    const token = await mailedToken(h, 'newbie@example.com', '/auth/register/complete')
    const page = await fetch(`${h.app.url}/auth/register/complete?token=${encodeURIComponent(token)}`)
    expect(page.status).toBe(200)
    expect(page.headers.get('referrer-policy')).toBe('no-referrer')
    expect(await page.text()).toContain('<form method="post" action="/auth/register/complete">')
    expect((await post(h, '/auth/login', { email: 'newbie@example.com', password: PW })).status).toBe(401)
    // ... the page's form (url-encoded) creates the account, which then signs in.
    const form = await fetch(`${h.app.url}/auth/register/complete`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }).toString(),
    })
    expect(form.status).toBe(201)
    expect(await form.json()).toMatchObject({ email: 'newbie@example.com', roles: ['member'] })
    expect((await post(h, '/auth/login', { email: 'newbie@example.com', password: PW })).status).toBe(200)
    // A link works once; a forged one never.
    expect((await post(h, '/auth/register/complete', { token })).status).toBe(401)
    const at = token.length >> 1
    const forged = token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1)
    expect((await post(h, '/auth/register/complete', { token: forged })).status).toBe(401)

    // The owner of the taken address uses the mailed link to set a new password.
    expect((await post(h, '/auth/reset', { token: reset, password: 'a brand new passphrase' })).body).toEqual({
      reset: true,
    })
    expect(
      (await post(h, '/auth/login', { email: 'ann@example.com', password: 'a brand new passphrase' })).status,
    ).toBe(200)
    expect((await post(h, '/auth/reset', { token: reset, password: 'yet another passphrase' })).status).toBe(401)

    // Every step is in the auth trail, the taken address as a failure the caller never saw.
    const signUps = await h.app.accounts.audit.query({ stream: 'auth', action: 'auth.register', order: 'asc' })
    expect(signUps.records.map((r) => [r.outcome, (r.metadata as { reason?: string } | null)?.reason])).toContainEqual([
      'failure',
      'email-taken',
    ])
  })

  it('refuses bad account requests plainly', async () => {
    const h = await start()
    expect((await post(h, '/auth/register', { email: 'x@example.com' })).status).toBe(400)
    expect((await post(h, '/auth/register', { email: 'x@example.com', password: 'short' })).status).toBe(400)
    expect((await post(h, '/auth/login', { email: 1 })).status).toBe(400)
    expect((await post(h, '/auth/register/complete', {})).status).toBe(400)
    expect((await post(h, '/auth/reset', { token: 'pr_x' })).status).toBe(400)
    const noToken = await fetch(`${h.app.url}/auth/register/complete`)
    expect(noToken.status).toBe(400)
    await noToken.body?.cancel()
    const early = await fetch(`${h.app.url}/auth/oidc/callback?code=x&state=y`)
    expect(early.status).toBe(400)
    await early.body?.cancel()
  })
})
