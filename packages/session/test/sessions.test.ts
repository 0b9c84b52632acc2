import { afterAll, describe, expect, it } from 'vitest'
import { createCache, type Cache } from '@beaver-kit/cache'
import { dropCacheTable } from '@beaver-kit/cache/database'
import { createDatabase, type Database } from '@beaver-kit/database'
import { requireService, uniqueNamespace } from '@beaver-kit/testkit'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSessions, RedisSessionStore, type Sessions, type SessionsOptions } from '@beaver-kit/session'
import { describeSessions, Jar, keys, request, response, type Backend } from './helpers/session-cases.ts'

const redis = await requireService('redis')
const pg = await requireService('postgres')
const maria = await requireService('mariadb')
const dir = mkdtempSync(join(tmpdir(), 'beaver-session-'))
const cleanups: Array<() => Promise<void>> = []
afterAll(async () => {
  for (const c of cleanups.reverse()) await c()
  rmSync(dir, { recursive: true, force: true })
})

const fromCache = (makeCache: () => Cache) => (): Backend => {
  const cache = makeCache()
  cleanups.push(() => cache.close())
  return { cache }
}
const backends: Array<[string, () => Backend]> = [
  ['memory cache', fromCache(() => createCache({ envPrefix: false, namespace: uniqueNamespace('sess') }))],
]
if (redis) {
  backends.push([
    'redis cache',
    fromCache(() =>
      createCache({ envPrefix: false, driver: 'redis', redis: { url: redis }, namespace: uniqueNamespace('sess') }),
    ),
  ])
  backends.push([
    'redis store',
    () => {
      const store = new RedisSessionStore({ url: redis, prefix: uniqueNamespace('sess') })
      cleanups.push(() => store.close())
      return { store }
    },
  ])
}
for (const [name, url] of [
  ['sqlite', `sqlite:${join(dir, 'sessions.db')}`],
  ['postgres', pg],
  ['mariadb', maria],
] as const) {
  if (!url) continue
  let db: Database | undefined
  const table = uniqueNamespace('sess_tbl').replace(/[^a-z0-9_]/gi, '_')
  const shared = (): Database => (db ??= createDatabase({ url, envPrefix: false }))
  cleanups.push(async () => {
    if (!db) return
    await dropCacheTable(db, table)
    await db.close()
  })
  backends.push([
    `${name} cache`,
    fromCache(() =>
      createCache({
        envPrefix: false,
        driver: 'database',
        db: { database: shared(), table, sweepInterval: 0 },
        namespace: uniqueNamespace('sess'),
      }),
    ),
  ])
}

for (const [name, backend] of backends) describeSessions(name, backend)

describe('cookie compression (cookie mode)', () => {
  const make = (extra: Partial<SessionsOptions> = {}): Sessions => {
    const cache = createCache({ envPrefix: false, namespace: uniqueNamespace('sesszip') })
    cleanups.push(() => cache.close())
    return createSessions({ envPrefix: false, mode: 'cookie', keys, cache, ...extra })
  }

  it('deflates a session before sealing it: 20 kB of text fits one cookie, and reads back', async () => {
    const text = 'lorem ipsum dolor sit amet '.repeat(800)
    const jar = new Jar()
    const zipped = make({ compress: true, maxCookieBytes: '32kb' })
    await request(zipped, jar, (session) => session.set('notes', text))
    expect([...jar.cookies.keys()]).toEqual(['__Host-sid'])
    expect((jar.cookies.get('__Host-sid') as string).length).toBeLessThan(1000)
    expect(await request(zipped, jar, (session) => session.get('notes'))).toBe(text)
    // A reader with compression off still opens a deflated cookie; what it writes takes eight.
    const plain = make({ compress: false, maxCookieBytes: '32kb' })
    expect(await request(plain, jar, (session) => session.get('notes'))).toBe(text)
    await request(plain, jar, (session) => session.set('notes', `${text}.`))
    expect(jar.cookies.size).toBe(8)
    expect(await request(zipped, jar, (session) => session.get('notes'))).toBe(`${text}.`)
  })

  it('refuses to inflate past BEAVER_SESSION_MAX_DATA_BYTES: the cookie is no session, counted, never thrown', async () => {
    const jar = new Jar()
    const writer = make({ compress: true, maxDataBytes: '2mb' })
    await request(writer, jar, (session) => session.set('zeros', '0'.repeat(1_500_000)))
    expect((jar.cookies.get('__Host-sid') as string).length).toBeLessThan(3800) // 1.5 MB deflates to about 2 kB
    const reader = make({ compress: true, maxDataBytes: '64kb' })
    const session = await reader.load({ headers: { cookie: jar.header() } })
    expect(session.isNew).toBe(true)
    expect(reader.stats().rejected.tampered).toBe(1)
    expect(await request(writer, jar, (s) => (s.get('zeros') as string).length)).toBe(1_500_000)
  })

  it('refuses to write a session whose JSON is over the bound, however well it compresses', async () => {
    const s = make({ compress: true, maxDataBytes: '64kb' })
    const session = await s.load({ headers: {} })
    session.set('zeros', '0'.repeat(100_000))
    await expect(s.commit(session, response())).rejects.toMatchObject({
      code: 'SESSION_TOO_LARGE',
      message: expect.stringContaining('SESSION_MAX_DATA_BYTES'),
    })
  })
})

describe('configuration', () => {
  it.runIf(redis)(
    'BEAVER_SESSION_STORE=redis keeps sessions on BEAVER_SESSION_REDIS_URL, and close() ends it',
    async () => {
      const namespace = uniqueNamespace('sessenv')
      const s = createSessions({
        env: {
          BEAVER_SESSION_STORE: 'redis',
          BEAVER_SESSION_REDIS_URL: redis as string,
          BEAVER_SESSION_NAMESPACE: namespace,
        },
        keys,
      })
      await s.ready()
      const jar = new Jar()
      const id = await request(s, jar, (session) => (session.set('n', 1), session.id))
      expect(s.store).toBeInstanceOf(RedisSessionStore)
      expect(await request(s, jar, (session) => session.get('n'))).toBe(1)
      const reader = new RedisSessionStore({ url: redis as string, prefix: namespace })
      cleanups.push(() => reader.close())
      expect((await reader.get(id))?.data).toEqual({ n: 1 })
      await s.close()
      await expect(s.load({ headers: {} })).rejects.toMatchObject({ code: 'SESSION_CLOSED' })
    },
  )

  it('refuses to run without keys in production, naming the variable', () => {
    expect(() => createSessions({ env: { NODE_ENV: 'production' } })).toThrow(
      expect.objectContaining({
        code: 'SESSION_KEYS_MISSING',
        message: expect.stringContaining('BEAVER_SESSION_KEYS'),
      }),
    )
  })

  it('names bad values and keeps the keys out of describe()', () => {
    expect(() => createSessions({ env: { BEAVER_SESSION_SAME_SITE: 'loose' } })).toThrow(/BEAVER_SESSION_SAME_SITE/)
    expect(() => createSessions({ envPrefix: false, sameSite: 'none', secure: false })).toThrow(/needs secure cookies/)
    const s = createSessions({ envPrefix: false, keys })
    expect(JSON.stringify(s.describe())).not.toContain((keys[0] as string).split(':')[1])
    expect(createSessions({ envPrefix: false, secure: false }).cookieName).toBe('sid')
  })
})
