import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { sql as ksql } from 'kysely'
import { requireService, uniqueNamespace } from '@beaver-kit/testkit'
import { isDatabaseError, type Database } from '../src/index.ts'
import { createKysely } from '../src/kysely.ts'
import { testDatabase } from './helpers.ts'

const targets: Array<[string, string | undefined]> = [
  ['sqlite', 'sqlite::memory:'],
  ['postgres', await requireService('postgres')],
  ['mariadb', await requireService('mariadb')],
  ['libsql', 'libsql::memory:'],
]

for (const [name, url] of targets) {
  describe.runIf(url)(`kysely on the kit: ${name}`, () => {
    const db: Database = testDatabase(url as string)
    const table = uniqueNamespace('kysely')
    interface DB {
      [table: string]: { id: number; title: string; done: number }
    }
    const k = createKysely<DB>(db)
    afterAll(async () => {
      await db.exec(`drop table if exists ${table}`)
      await k.destroy()
      await db.close()
    })

    it('builds typed queries on the same pool, with transactions and the kit error codes', async () => {
      await k.schema
        .createTable(table)
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('title', 'varchar(100)', (c) => c.notNull().unique())
        .addColumn('done', 'integer', (c) => c.notNull().defaultTo(0))
        .execute()
      await k.insertInto(table).values({ id: 1, title: 'write tests', done: 0 }).execute()
      await k.transaction().execute(async (trx) => {
        await trx.insertInto(table).values({ id: 2, title: 'ship', done: 1 }).execute()
        await trx.updateTable(table).set({ done: 1 }).where('id', '=', 1).execute()
      })
      await expect(
        k.transaction().execute(async (trx) => {
          await trx.insertInto(table).values({ id: 3, title: 'rolled back', done: 0 }).execute()
          throw new Error('abort')
        }),
      ).rejects.toThrow('abort')
      const trx = await k.startTransaction().execute()
      const sp = await trx.savepoint('before_bad').execute()
      await sp.insertInto(table).values({ id: 5, title: 'undone by savepoint', done: 0 }).execute()
      await sp.rollbackToSavepoint('before_bad').execute()
      await trx.commit().execute()
      const rows = await k.selectFrom(table).select(['id', 'title', 'done']).orderBy('id').execute()
      expect(rows.map((r) => [Number(r.id), r.title, Number(r.done)])).toEqual([
        [1, 'write tests', 1],
        [2, 'ship', 1],
      ])
      // The kit sees Kysely's writes (same database) and Kysely errors carry kit codes.
      expect(await db.many(`select id from ${table}`)).toHaveLength(2)
      const err = await k
        .insertInto(table)
        .values({ id: 4, title: 'ship', done: 0 })
        .execute()
        .catch((e: unknown) => e)
      expect(isDatabaseError(err, 'DB_UNIQUE_VIOLATION')).toBe(true)
      const n = await ksql<{ n: number }>`select count(*) as n from ${ksql.table(table)}`.execute(k)
      expect(Number(n.rows[0]?.n)).toBe(2)
    })
  })
}

describe('the kysely subpath without kysely installed', () => {
  it('fails with CORE_PEER_MISSING and the npm install line, not ERR_MODULE_NOT_FOUND', () => {
    const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))
    const run = (hide: boolean) =>
      spawnSync(
        process.execPath,
        [
          '--conditions=@beaver-kit/source',
          '--no-warnings',
          ...(hide ? ['--import', fixture('without-kysely.mjs')] : []),
          fixture('import-kysely-subpath.ts'),
        ],
        { encoding: 'utf8' },
      )
    const hidden = run(true)
    expect(hidden.stderr).toBe('')
    const result = JSON.parse(hidden.stdout) as { code?: string; message?: string }
    expect(result.code).toBe('CORE_PEER_MISSING')
    expect(result.message).toContain('npm install kysely')
    // The same script loads the subpath when kysely is there: the failure above is the missing peer.
    expect(JSON.parse(run(false).stdout)).toEqual({ loaded: true })
  })
})
