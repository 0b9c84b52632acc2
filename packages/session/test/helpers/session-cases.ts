// The session cases every store runs (the memory, Redis and SQL caches, the Redis store, and
// the Redis store on a Cluster): each backend in both modes.
import { describe, expect, it } from 'vitest'
import { generateKeyRingEntry } from '@beaver-kit/krypto'
import { channels, createSessions, type Sessions, type SessionsOptions } from '@beaver-kit/session'

/** Where a backend keeps sessions: a kit cache, or a store of its own. */
export type Backend = Pick<SessionsOptions, 'cache' | 'store'>

export const keys = [generateKeyRingEntry('k1')]

/** What a browser does: keeps the cookies it is given and sends them back. */
export class Jar {
  readonly cookies = new Map<string, string>()
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  }
  take(setCookies: string[]): void {
    for (const line of setCookies) {
      const [pair = '', ...attrs] = line.split('; ')
      const eq = pair.indexOf('=')
      const name = pair.slice(0, eq)
      if (attrs.includes('Max-Age=0')) this.cookies.delete(name)
      else this.cookies.set(name, pair.slice(eq + 1))
    }
  }
}

export function response(): { appendHeader(name: string, value: string | string[]): void; set: string[] } {
  const set: string[] = []
  return {
    set,
    appendHeader(_name, value) {
      set.push(...(Array.isArray(value) ? value : [value]))
    },
  }
}

export async function request<T>(
  s: Sessions,
  jar: Jar,
  fn: (session: Awaited<ReturnType<Sessions['load']>>) => T | Promise<T>,
): Promise<T> {
  const session = await s.load({ headers: { cookie: jar.header() } })
  const out = await fn(session)
  const res = response()
  await s.commit(session, res)
  jar.take(res.set)
  return out
}

/** Every case, in both modes, on the sessions `backend()` gives (a fresh one per call). */
export function describeSessions(name: string, backend: () => Backend): void {
  for (const mode of ['store', 'cookie'] as const) {
    describe(`sessions (${mode} mode) on the ${name}`, () => {
      const make = (extra: Partial<SessionsOptions> = {}): Sessions =>
        createSessions({ envPrefix: false, mode, keys, ...backend(), ...extra })

      it('round-trips data through the cookie, secure by default, and sets nothing for an empty session', async () => {
        const s = make()
        const jar = new Jar()
        const empty = await s.load({ headers: {} })
        const res = response()
        await s.commit(empty, res)
        expect(res.set).toEqual([])
        const set = await request(s, jar, (session) => {
          session.set('cart', [1, 2])
          return 'ok'
        })
        expect(set).toBe('ok')
        expect(s.cookieName).toBe('__Host-sid')
        const line = [...jar.cookies.keys()]
        expect(line[0]).toBe('__Host-sid')
        expect(await request(s, jar, (session) => [session.isNew, session.get('cart')])).toEqual([false, [1, 2]])
      })

      it('sets HttpOnly, Secure, SameSite=Lax and a Max-Age on the cookie', async () => {
        const s = make()
        const session = await s.load({ headers: {} })
        session.set('a', 1)
        const res = response()
        await s.commit(session, res)
        expect(res.set[0]).toMatch(/^__Host-sid=[^;]+; Path=\/; Max-Age=86400; HttpOnly; Secure; SameSite=Lax$/)
      })

      it('treats tampered, foreign-key and truncated cookies as no session, counted, never thrown', async () => {
        const s = make()
        const jar = new Jar()
        await request(s, jar, (session) => session.set('x', 1))
        const good = jar.cookies.get('__Host-sid') as string
        const reasons: string[] = []
        const listen = (m: unknown): void => void reasons.push((m as { reason: string }).reason)
        channels.rejected.subscribe(listen)
        try {
          for (const bad of [good.slice(0, -3) + 'AAA', good.slice(0, 20), 'garbage']) {
            const session = await s.load({ headers: { cookie: `__Host-sid=${bad}` } })
            expect(session.isNew).toBe(true)
            expect(session.get('x')).toBeUndefined()
          }
          const other = createSessions({
            envPrefix: false,
            mode,
            keys: [generateKeyRingEntry('k1')],
            ...backend(),
          })
          expect((await other.load({ headers: { cookie: `__Host-sid=${good}` } })).isNew).toBe(true)
        } finally {
          channels.rejected.unsubscribe(listen)
        }
        expect(reasons).toEqual(['tampered', 'tampered', 'tampered', 'tampered']) // the last: a key it does not hold
        expect(s.stats().rejected.tampered).toBe(3)
      })

      it('login() issues a new id (fixation), keeps the data, and indexes the session for the user', async () => {
        const s = make()
        const jar = new Jar()
        const before = await request(s, jar, (session) => {
          session.set('theme', 'dark')
          return session.id
        })
        const planted = new Map(jar.cookies)
        const after = await request(s, jar, async (session) => {
          await session.login('user-1', { device: 'Firefox', ip: '203.0.113.9' })
          return session.id
        })
        expect(after).not.toBe(before)
        expect(await request(s, jar, (session) => [session.userId, session.get('theme')])).toEqual(['user-1', 'dark'])
        const list = await s.listSessions('user-1')
        expect(list.map((i) => [i.id, i.device, i.ip])).toEqual([[after, 'Firefox', '203.0.113.9']])
        if (mode === 'store') {
          // The id planted before login is worthless now.
          const attacker = await s.load({ headers: { cookie: [...planted].map(([k, v]) => `${k}=${v}`).join('; ') } })
          expect(attacker.userId).toBeUndefined()
        }
      })

      it('revokeAll() logs a user out everywhere except the current session, in both modes', async () => {
        const s = make()
        const phone = new Jar()
        const laptop = new Jar()
        await request(s, phone, (session) => session.login('u2', { device: 'phone' }))
        const keep = await request(s, laptop, async (session) => {
          await session.login('u2', { device: 'laptop' })
          return session.id
        })
        expect((await s.listSessions('u2')).length).toBe(2)
        expect(await s.revokeAll('u2', { except: keep })).toBe(1)
        expect(await request(s, phone, (session) => session.userId)).toBeUndefined()
        if (mode === 'store') expect(await request(s, laptop, (session) => session.userId)).toBe('u2')
        expect((await s.listSessions('u2')).map((i) => i.id)).toEqual([keep])
      })

      it('ends idle and too-old sessions, and rolls the idle timeout when half of it is gone', async () => {
        let now = Date.now()
        const s = make({ ttl: '1h', absolute: '3h', clock: () => now })
        const jar = new Jar()
        await request(s, jar, (session) => session.set('n', 1))
        now += 31 * 60_000
        const rolled = await request(s, jar, (session) => session.get('n'))
        expect(rolled).toBe(1)
        now += 50 * 60_000 // 81 min after creation, 50 after the roll: still alive
        expect(await request(s, jar, (session) => session.get('n'))).toBe(1)
        now += 61 * 60_000 // idle past the hour
        expect(await request(s, jar, (session) => session.isNew)).toBe(true)
        expect(s.stats().rejected.expired + s.stats().rejected.unknown).toBeGreaterThan(0)
      })

      it('renews an active session once less than half the idle timeout is left: a fresh cookie Max-Age', async () => {
        let now = Date.now()
        const s = make({ ttl: '1h', absolute: '1d', clock: () => now })
        const jar = new Jar()
        const visit = async (): Promise<string[]> => {
          const session = await s.load({ headers: { cookie: jar.header() } })
          session.set('n', (session.get<number>('n') ?? 0) + 1)
          const res = response()
          await s.commit(session, res)
          jar.take(res.set)
          return res.set
        }
        await visit()
        now += 20 * 60_000 // 40 min of the idle timeout left: not renewed
        const early = await visit()
        if (mode === 'store') expect(early).toEqual([]) // the id did not change: no cookie to send
        now += 20 * 60_000 // 20 min left since the last renewal (at creation): renewed
        const renewed = await visit()
        expect(renewed[0]).toMatch(/; Max-Age=3600;/)
        now += 55 * 60_000 // 55 min after the renewal: alive, and its cookie has not expired
        expect(await request(s, jar, (session) => session.get('n'))).toBe(3)
      })

      it('destroy() clears the cookie and the stored session', async () => {
        const s = make()
        const jar = new Jar()
        await request(s, jar, (session) => session.set('a', 1))
        await request(s, jar, (session) => session.destroy())
        expect(jar.cookies.size).toBe(0)
      })

      if (mode === 'store') {
        it('two parallel requests that change different keys both keep their change (no lost update)', async () => {
          const s = make()
          const jar = new Jar()
          await request(s, jar, (session) => session.set('base', 0))
          const header = jar.header()
          const a = await s.load({ headers: { cookie: header } })
          const b = await s.load({ headers: { cookie: header } })
          a.set('fromA', 1)
          b.set('fromB', 2)
          await Promise.all([s.commit(a, response()), s.commit(b, response())])
          expect(await request(s, jar, (session) => session.all())).toEqual({ base: 0, fromA: 1, fromB: 2 })
        })

        it('a request that deletes a key and one that sets another both land; a revoked session is not written back', async () => {
          const s = make()
          const jar = new Jar()
          await request(s, jar, async (session) => {
            await session.login('u-merge')
            session.set('keep', 1)
            session.set('drop', 2)
          })
          const header = jar.header()
          const a = await s.load({ headers: { cookie: header } })
          const b = await s.load({ headers: { cookie: header } })
          a.delete('drop')
          b.set('added', 3)
          await Promise.all([s.commit(a, response()), s.commit(b, response())])
          expect(await request(s, jar, (session) => session.all())).toEqual({ keep: 1, added: 3 })

          const late = await s.load({ headers: { cookie: header } })
          expect(await s.revokeAll('u-merge')).toBe(1)
          late.set('after', 4)
          const res = response()
          await s.commit(late, res)
          expect(res.set.some((c) => c.includes('Max-Age=0'))).toBe(true) // the cookie is cleared
          expect(await s.store.get(late.id)).toBeUndefined()
          expect((await s.load({ headers: { cookie: header } })).isNew).toBe(true)
        })
      } else {
        it('splits a large sealed session across cookies and refuses one over the limit', async () => {
          const s = make({ maxCookieBytes: '12kb' })
          const jar = new Jar()
          await request(s, jar, (session) => session.set('blob', 'x'.repeat(6000)))
          expect([...jar.cookies.keys()]).toEqual(['__Host-sid', '__Host-sid.1', '__Host-sid.2'])
          expect(await request(s, jar, (session) => (session.get('blob') as string).length)).toBe(6000)
          const big = await s.load({ headers: { cookie: jar.header() } })
          big.set('blob', 'y'.repeat(20_000))
          await expect(s.commit(big, response())).rejects.toMatchObject({ code: 'SESSION_TOO_LARGE' })
        })
      }
    })
  }
}
