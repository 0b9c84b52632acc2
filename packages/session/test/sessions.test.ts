import { afterAll, describe, expect, it } from 'vitest'
import { createCache, type Cache } from '@beaver-kit/cache'
import { dropCacheTable } from '@beaver-kit/cache/database'
import { createDatabase, type Database } from '@beaver-kit/database'
import { requireService, uniqueNamespace } from '@beaver-kit/testkit'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSessions, RedisSessionStore } from '@beaver-kit/session'
import { describeSessions, Jar, keys, request, type Backend } from './helpers/session-cases.ts'

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
