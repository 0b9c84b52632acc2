import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { describeCacheDriver } from '@beaver-kit/testkit/cache'
import { eventually, requireService, startFaultProxy, uniqueNamespace } from '@beaver-kit/testkit'
import { createDatabase, sql, type Database } from '@beaver-kit/database'
import { createCache, isCacheError } from '@beaver-kit/cache'
import { DatabaseStore, dropCacheTable } from '@beaver-kit/cache/database'

const postgres = await requireService('postgres')
const mariadb = await requireService('mariadb')
const sqliteDir = mkdtempSync(join(tmpdir(), 'beaver-cache-sqlite-'))

const targets: Array<{ name: string; url: string | undefined }> = [
  { name: 'postgres', url: postgres },
  { name: 'mariadb', url: mariadb },
  { name: 'sqlite', url: `sqlite:${join(sqliteDir, 'cache.db')}` },
]

const cleanups: Array<() => Promise<void>> = []
afterAll(async () => {
  for (const c of cleanups) await c()
  rmSync(sqliteDir, { recursive: true, force: true })
})

for (const target of targets) {
  describe.runIf(target.url)(`database driver on ${target.name}`, () => {
    // One table per run and dialect; every test has its own namespace in it.
    const table = uniqueNamespace('cache_tbl')
    let database: Database | undefined
    const shared = (): Database => (database ??= createDatabase({ url: target.url as string, envPrefix: false }))
    cleanups.push(async () => {
      if (!database) return
      await dropCacheTable(database, table)
      await database.close()
    })
    describeCacheDriver(
      target.name,
      (ns) =>
        createCache({
          envPrefix: false,
          driver: 'database',
          db: { database: shared(), table, sweepInterval: 0 },
          namespace: ns,
        }),
      { shared: true, increment: true, query: true },
    )
  })
}

const cleanup: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c()
})

for (const [name, url] of [
  ['postgres', postgres],
  ['mariadb', mariadb],
] as const) {
  describe.runIf(url)(`database driver on ${name}`, () => {
    function database(target = url as string): Database {
      const db = createDatabase({ url: target, envPrefix: false })
      cleanup.push(() => db.close())
      return db
    }

    it('creates its table by migration, keeps rows readable, and sweeps expired rows in bounded batches', async () => {
      const db = database()
      const table = uniqueNamespace('cache_tbl')
      cleanup.push(() => dropCacheTable(db, table))
      const store = new DatabaseStore(db, sql, false, { table, sweepInterval: 0, sweepBatch: 10 })
      const c = createCache({
        envPrefix: false,
        driver: 'database',
        db: { database: db, table, sweepInterval: 0 },
        namespace: 'audit',
      })
      cleanup.push(() => c.close())
      await c.set('user:1', { name: 'Ada' }, { ttl: '1h' })
      const row = await db.one<{ namespace: string; key: string; value: Uint8Array; expires_at: unknown }>(
        sql`SELECT ${sql.id('namespace')} AS ${sql.id('namespace')}, ${sql.id('key')} AS ${sql.id('key')}, ${sql.id('value')} AS ${sql.id('value')}, ${sql.id('expires_at')} AS ${sql.id('expires_at')} FROM ${sql.id(table)}`,
      )
      expect(row.namespace).toBe('audit')
      expect(row.key).toBe('user:1')
      expect(Buffer.from(row.value).toString('utf8')).toBe('{"name":"Ada"}')
      expect(Number(row.expires_at)).toBeGreaterThan(Date.now())
      await c.setMany(Array.from({ length: 35 }, (_, i) => ({ key: `old:${i}`, value: i, ttl: 1 })))
      await eventually(async () => expect(await c.get('old:34')).toBeUndefined())
      expect(await store.sweep(2)).toBe(20)
      expect(await store.sweep()).toBe(15)
      expect(await c.get('user:1')).toEqual({ name: 'Ada' })
      await store.close()
    })

    it('reuses a database passed in and never closes it', async () => {
      const db = database()
      const table = uniqueNamespace('cache_tbl')
      cleanup.push(() => dropCacheTable(db, table))
      const c = createCache({ envPrefix: false, driver: 'database', db: { database: db, table, sweepInterval: 0 } })
      await c.set('k', 1)
      await c.close()
      expect(await db.one<{ n: number }>('select 1 as n')).toEqual({ n: 1 })
    })

    it('reads from the replica only with readFromReplica, and always writes to the primary', async () => {
      const target = new URL(url as string)
      const replica = await startFaultProxy({ target: { host: target.hostname, port: Number(target.port) } })
      cleanup.push(() => replica.close())
      const db = createDatabase({ url: url as string, envPrefix: false, replicaUrls: [replica.url(url as string)] })
      cleanup.push(() => db.close())
      const table = uniqueNamespace('cache_tbl')
      cleanup.push(() => dropCacheTable(db, table))
      const make = (readFromReplica: boolean) => {
        const c = createCache({
          envPrefix: false,
          driver: 'database',
          namespace: uniqueNamespace('rr'),
          db: { database: db, table, sweepInterval: 0, readFromReplica },
        })
        cleanup.push(() => c.close())
        return c
      }
      const onReplica = async (fn: () => Promise<unknown>): Promise<boolean> => {
        const before = replica.bytesFromClients
        await fn()
        return replica.bytesFromClients > before
      }
      const primaryOnly = make(false)
      expect(await onReplica(() => primaryOnly.set('k', 1))).toBe(false)
      expect(await onReplica(async () => expect(await primaryOnly.get('k')).toBe(1))).toBe(false)
      const fromReplica = make(true)
      expect(await onReplica(() => fromReplica.set('k', 2))).toBe(false)
      expect(await onReplica(async () => expect(await fromReplica.get('k')).toBe(2))).toBe(true)
      expect(
        await onReplica(async () => expect(await fromReplica.getMany(['k', 'none'])).toEqual([2, undefined])),
      ).toBe(true)
    })

    it('holds keys up to its 512-character column and refuses longer ones with CACHE_KEY_INVALID', async () => {
      const db = database()
      const table = uniqueNamespace('cache_tbl')
      cleanup.push(() => dropCacheTable(db, table))
      const c = createCache({ envPrefix: false, driver: 'database', db: { database: db, table, sweepInterval: 0 } })
      cleanup.push(() => c.close())
      const longest = `${'é'.repeat(500)}${'🦫'.repeat(6)}`
      expect(longest.length).toBe(512)
      await c.set(longest, 'fits')
      expect(await c.get(longest)).toBe('fits')
      // Distinct from the same text one character shorter (nothing truncated).
      expect(await c.get(longest.slice(0, 510))).toBeUndefined()
      let caught: unknown
      await c.set(`${longest}x`, 'too long').catch((err: unknown) => (caught = err))
      expect(isCacheError(caught, 'CACHE_KEY_INVALID')).toBe(true)
      expect((caught as { details?: unknown }).details).toMatchObject({ length: 513, max: 512 })
    })

    it('survives a database restart (connections reset, refused, then accepted again)', async () => {
      const target = new URL(url as string)
      const proxy = await startFaultProxy({ target: { host: target.hostname, port: Number(target.port) } })
      cleanup.push(() => proxy.close())
      const db = database(proxy.url(url as string))
      const table = uniqueNamespace('cache_tbl')
      const direct = database()
      cleanup.push(() => dropCacheTable(direct, table))
      const c = createCache({
        envPrefix: false,
        driver: 'database',
        db: { database: db, table, sweepInterval: 0 },
        namespace: 'restart',
      })
      cleanup.push(() => c.close())
      await c.set('before', 'ok')
      proxy.resetAll()
      await proxy.refuse()
      let err: unknown
      try {
        await c.get('before')
      } catch (e) {
        err = e
      }
      expect(isCacheError(err, 'CACHE_CONNECTION'), String(err)).toBe(true)
      await proxy.accept()
      await eventually(async () => expect(await c.get('before')).toBe('ok'), { timeoutMs: 15_000, intervalMs: 100 })
      await c.set('after', 'ok')
      expect(await c.getMany(['before', 'after'])).toEqual(['ok', 'ok'])
    })
  })
}
