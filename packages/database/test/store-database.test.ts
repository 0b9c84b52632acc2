// openStoreDatabase: how the queue, scheduler and rate-limit stores pick, check and migrate the
// database their tables live in.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { eventually, requireService, startFaultProxy, uniqueNamespace } from '@beaver-kit/testkit'
import { db, initDatabase, openStoreDatabase, resetDatabase, type Migration } from '../src/index.ts'
import { testDatabase } from './helpers.ts'

const postgres = await requireService('postgres')
const dir = await mkdtemp(join(tmpdir(), 'beaver-store-db-'))
afterAll(async () => {
  await resetDatabase()
  await rm(dir, { recursive: true, force: true })
})

const createNotes = (table: string): Migration[] => [
  { id: '0001_notes', up: `create table ${table} (id integer primary key, body text)` },
]

describe('openStoreDatabase', () => {
  it('opens one from a URL, owned, with the migrations for its dialect applied once', async () => {
    const url = `sqlite:${join(dir, 'own.db')}`
    const asked: string[] = []
    const migrations = (dialect: string) => (asked.push(dialect), { migrations: createNotes('notes'), table: 'm' })
    const first = await openStoreDatabase({ url, migrations })
    expect(first.owned).toBe(true)
    expect(first.database.dialect).toBe('sqlite')
    await first.database.execute('insert into notes (id, body) values (1, ?)', ['kept'])
    await first.database.close()
    const again = await openStoreDatabase({
      url,
      migrations,
      dialect: { expected: 'sqlite', mismatch: () => new Error() },
    })
    expect(asked).toEqual(['sqlite', 'sqlite'])
    expect(await again.database.many('select body from notes')).toEqual([{ body: 'kept' }])
    expect(await again.database.many('select id from m')).toEqual([{ id: '0001_notes' }])
    await again.database.close()
  })

  it('uses the caller’s database as it is and leaves it to the caller', async () => {
    const mine = testDatabase(`sqlite:${join(dir, 'mine.db')}`)
    try {
      const opened = await openStoreDatabase({ database: mine, url: 'sqlite::memory:' })
      expect(opened).toEqual({ database: mine, owned: false })
      expect(await mine.one('select 1 as x')).toEqual({ x: 1 })
    } finally {
      await mine.close()
    }
  })

  it('falls back to the default db()', async () => {
    initDatabase({ url: `sqlite:${join(dir, 'default.db')}`, envPrefix: false })
    const opened = await openStoreDatabase({})
    expect(opened.database).toBe(db())
    expect(opened.owned).toBe(false)
  })

  it('refuses a database of another dialect with the store’s own error, before migrating', async () => {
    const url = `sqlite:${join(dir, 'other.db')}`
    const refusal = new Error('the store speaks postgres')
    const seen: string[] = []
    const error = await openStoreDatabase({
      url,
      dialect: { expected: 'postgres', mismatch: (actual) => (seen.push(actual), refusal) },
      migrations: () => ({ migrations: createNotes('never'), table: 'm' }),
    }).catch((e: unknown) => e)
    expect(error).toBe(refusal)
    expect(seen).toEqual(['sqlite'])
    const check = testDatabase(url)
    try {
      expect(await check.many(`select name from sqlite_master where name in ('never', 'm')`)).toEqual([])
    } finally {
      await check.close()
    }
  })

  it.runIf(postgres)('closes the database it opened when its migration fails', async () => {
    const table = `${uniqueNamespace('storedb')}_migrations`
    const target = new URL(postgres as string)
    const proxy = await startFaultProxy({ target: { host: target.hostname, port: Number(target.port || 5432) } })
    try {
      const error = await openStoreDatabase({
        url: proxy.url(postgres as string),
        migrations: () => ({ migrations: [{ id: '0001_broken', up: 'create table (' }], table }),
      }).catch((e: unknown) => e)
      expect((error as { code?: string }).code).toMatch(/^DB_/)
      expect(proxy.connections).toBeGreaterThan(0)
      // Its pool's connections are closed, not left idle.
      await eventually(() => expect(proxy.openConnections).toBe(0), { timeoutMs: 5000 })
    } finally {
      await proxy.close()
      const cleanup = testDatabase(postgres as string)
      await cleanup.exec(`drop table if exists ${table}`).finally(() => cleanup.close())
    }
  })
})
