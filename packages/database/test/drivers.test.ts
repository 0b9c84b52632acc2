import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { postgresDriver } from '../src/drivers/postgres.ts'
import { mysqlDriver } from '../src/drivers/mysql.ts'
import { sqliteDriver } from '../src/drivers/sqlite.ts'
import { libsqlDriver } from '../src/drivers/libsql.ts'
import { splitStatements } from '../src/drivers/script.ts'
import { parseMigrationFile } from '../src/migrations.ts'
import {
  createDatabase,
  defineDatabaseDriver,
  isDatabaseError,
  registerDatabaseDriver,
  sql,
  type DatabaseDriverDefinition,
} from '../src/index.ts'
import { fakeDefinition } from './helpers.ts'
import { requireService, uniqueNamespace } from '@beaver-kit/testkit'

const postgres = await requireService('postgres')

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  peerDependencies: Record<string, string>
  peerDependenciesMeta: Record<string, { optional?: boolean }>
  exports: Record<string, unknown>
}

describe('drivers', () => {
  it('declare only optional peers that package.json lists, and each has a subpath export', () => {
    for (const driver of [postgresDriver, mysqlDriver, sqliteDriver, libsqlDriver]) {
      for (const peer of driver.peers) {
        expect(pkg.peerDependencies[peer], `${driver.name} needs ${peer}`).toBeDefined()
        expect(pkg.peerDependenciesMeta[peer]?.optional).toBe(true)
      }
      expect(pkg.exports[`./${driver.name}`]).toBeDefined()
    }
  })

  it('accepts a third-party definition by object, by registered name and by registered loader, compiling sql for its dialect', async () => {
    const calls: string[] = []
    const fake = fakeDefinition('fake', calls)
    const direct = createDatabase({ env: {}, driver: fake })
    expect(await direct.one('select $1 as ok', [1])).toEqual({ ok: 1 })
    await direct.transaction(async (tx) => void (await tx.query('select 2')))
    expect(calls).toEqual(['select $1 as ok', 'BEGIN', 'select 2', 'COMMIT'])
    await direct.close()

    // By name: the registered definition's dialect decides the placeholders, never the name.
    calls.length = 0
    registerDatabaseDriver('fake-named', fake)
    const named = createDatabase({ env: { BEAVER_DB_DRIVER: 'fake-named' } })
    expect(named.driver).toBe('fake-named')
    expect(named.dialect).toBe('postgres')
    await named.query(sql`select ${1} as ok, ${2} as two`)
    expect(calls).toEqual(['select $1 as ok, $2 as two'])
    await named.close()

    // By loader: the dialect is known once the definition has loaded, and statements wait for it.
    calls.length = 0
    let loads = 0
    registerDatabaseDriver('fake-lazy', async () => (loads++, fake))
    const lazy = createDatabase({ env: {}, driver: 'fake-lazy' })
    expect(loads).toBe(0)
    expect(() => lazy.dialect).toThrow(expect.objectContaining({ code: 'DB_NOT_READY' }))
    await lazy.many(sql`select ${1} as ok`)
    const streamed: unknown[] = []
    for await (const row of lazy.stream(sql`select ${2} as ok`)) streamed.push(row)
    expect(streamed).toEqual([{ ok: 1 }]) // the fake driver's one row, whatever the statement
    expect(calls).toEqual(['select $1 as ok'])
    expect(lazy.dialect).toBe('postgres')
    expect(loads).toBe(1)
    await lazy.close()
  })

  it('refuses a definition without a dialect, registered as an object or through a loader', async () => {
    const { dialect: _dropped, ...noDialect } = fakeDefinition('nodialect', [])
    const bare = noDialect as unknown as DatabaseDriverDefinition
    expect(() => registerDatabaseDriver('nodialect', bare)).toThrow(
      expect.objectContaining({ code: 'DB_CONFIG', message: expect.stringMatching(/"nodialect".*dialect/) }),
    )
    expect(() => defineDatabaseDriver(bare)).toThrow(expect.objectContaining({ code: 'DB_CONFIG' }))
    registerDatabaseDriver('nodialect-lazy', async () => bare)
    const d = createDatabase({ env: {}, driver: 'nodialect-lazy' })
    expect(await d.query('select 1').catch((e: unknown) => e)).toMatchObject({ code: 'DB_CONFIG' })
    await d.close()
    expect(() => registerDatabaseDriver('Bad Name', fakeDefinition('x', []))).toThrow(
      expect.objectContaining({ code: 'DB_DRIVER_NAME_INVALID' }),
    )
    expect(() => createDatabase({ env: {}, driver: 'postgress' })).toThrow(
      expect.objectContaining({
        code: 'DB_DRIVER_UNKNOWN',
        message: expect.stringContaining('did you mean "postgres"'),
      }),
    )
  })

  it('rejects statements once closed, with DB_CLOSED', async () => {
    const d = createDatabase({ env: {}, url: 'sqlite::memory:' })
    await d.close()
    expect(isDatabaseError(await d.query('select 1').catch((e: unknown) => e), 'DB_CLOSED')).toBe(true)
  })
})

describe.runIf(postgres)('a driver registered under a name of its own, on the real PostgreSQL', () => {
  it('runs sql statements with $n placeholders, from a definition and from a loader', async () => {
    registerDatabaseDriver('pg-custom', { ...postgresDriver, name: 'pg-custom' })
    registerDatabaseDriver('pg-loaded', () => import('../src/drivers/postgres.ts').then((m) => m.postgresDriver))
    const table = uniqueNamespace('registered')
    for (const driver of ['pg-custom', 'pg-loaded']) {
      const d = createDatabase({ env: {}, driver, url: postgres as string })
      try {
        expect(d.driver).toBe(driver)
        expect(await d.one(sql`select ${41}::int + ${1}::int as n`)).toEqual({ n: 42 })
        await d.exec(`create table ${table} (id integer primary key, name text)`)
        await d.execute(sql`insert into ${sql.id(table)} (id, name) values (${1}, ${'ada'})`)
        expect(await d.many(sql`select name from ${sql.id(table)} where id = ${1}`)).toEqual([{ name: 'ada' }])
        expect(d.dialect).toBe('postgres')
      } finally {
        await d.exec(`drop table if exists ${table}`)
        await d.close()
      }
    }
  })
})

describe.runIf(postgres)('prepared statements on PostgreSQL', () => {
  it('keeps a statement asked to be prepared on its connection, by a name of its text, and runs it with new values', async () => {
    const d = createDatabase({ env: {}, url: postgres as string, pool: { max: 1 } })
    try {
      const text = 'select $1::int * 2 as n, $2::text as tag'
      const prepared = (): Promise<string[]> =>
        d
          .many<{ statement: string }>('select statement from pg_prepared_statements')
          .then((rows) => rows.map((r) => r.statement))
      expect(await d.one(text, [20, 'a'], { prepare: true })).toEqual({ n: 40, tag: 'a' })
      expect(await d.one(text, [21, 'b'], { prepare: true })).toEqual({ n: 42, tag: 'b' })
      // One connection: the statement is there once, and a statement not asked to be is not.
      expect(await d.one('select $1::int + 1 as n', [1])).toEqual({ n: 2 })
      expect(await prepared()).toEqual([text])
      // In a transaction, with a timeout, and as another text: each its own name.
      await d.transaction(async (tx) => {
        expect(await tx.one(text, [1, 'c'], { prepare: true, timeoutMs: 5000 })).toEqual({ n: 2, tag: 'c' })
        expect(await tx.one('select $1::int as n', [7], { prepare: true })).toEqual({ n: 7 })
      })
      expect((await prepared()).sort()).toEqual(['select $1::int as n', text].sort())
    } finally {
      await d.close()
    }
  })

  it('sends them unnamed with preparedStatements off (behind a pooler that does not keep them)', async () => {
    const d = createDatabase({ env: {}, url: postgres as string, pool: { max: 1 }, preparedStatements: false })
    try {
      expect(await d.one('select $1::int * 2 as n', [21], { prepare: true })).toEqual({ n: 42 })
      expect(await d.many('select statement from pg_prepared_statements')).toEqual([])
    } finally {
      await d.close()
    }
  })
})

describe('SQL scripts and migration files', () => {
  it('splits statements at top-level semicolons only', () => {
    expect(
      splitStatements(
        "create table a (x text default ';');\n-- a; comment\ninsert into a values ('it''s; ok'); /* ; */ select `a;b` from a;",
      ),
    ).toEqual([
      "create table a (x text default ';')",
      "-- a; comment\ninsert into a values ('it''s; ok')",
      '/* ; */ select `a;b` from a',
    ])
  })

  it('reads up and down parts, and treats a file without markers as up only', () => {
    expect(parseMigrationFile('-- migrate:up\ncreate table t (id int);\n-- migrate:down\ndrop table t;\n')).toEqual({
      up: 'create table t (id int);',
      down: 'drop table t;',
    })
    expect(parseMigrationFile('-- up\nselect 1;\r\n-- down\r\n')).toEqual({ up: 'select 1;', down: undefined })
    expect(parseMigrationFile('create table t (id int);')).toEqual({ up: 'create table t (id int);', down: undefined })
  })
})
