import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { postgresDriver } from '../src/drivers/postgres.ts'
import { mysqlDriver } from '../src/drivers/mysql.ts'
import { sqliteDriver } from '../src/drivers/sqlite.ts'
import { libsqlDriver } from '../src/drivers/libsql.ts'
import { splitStatements } from '../src/drivers/script.ts'
import { parseMigrationFile } from '../src/migrations.ts'
import { createDatabase, defineDatabaseDriver, isDatabaseError, registerDatabaseDriver } from '../src/index.ts'

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

  it('accepts a third-party driver by object or by registered name', async () => {
    const calls: string[] = []
    const fake = defineDatabaseDriver({
      name: 'fake',
      dialect: 'postgres',
      peers: [],
      async create() {
        const conn = {
          query: async (text: string) => (calls.push(text), { rows: [{ ok: 1 }], rowCount: 1, affectedRows: 0 }),
          exec: async () => undefined,
          stream: async function* () {},
          begin: async () => void calls.push('BEGIN'),
          commit: async () => void calls.push('COMMIT'),
          rollback: async () => void calls.push('ROLLBACK'),
          release: () => undefined,
        }
        return {
          dialect: 'postgres' as const,
          native: null,
          query: conn.query,
          acquire: async () => conn,
          classify: () => undefined,
          stats: () => ({ total: 0, idle: 0, waiting: 0, max: 1 }),
          close: async () => undefined,
        }
      },
    })
    const direct = createDatabase({ env: {}, driver: fake })
    expect(await direct.one('select $1 as ok', [1])).toEqual({ ok: 1 })
    await direct.transaction(async (tx) => void (await tx.query('select 2')))
    expect(calls).toEqual(['select $1 as ok', 'BEGIN', 'select 2', 'COMMIT'])
    await direct.close()
    registerDatabaseDriver(fake)
    const named = createDatabase({ env: { BEAVER_DB_DRIVER: 'fake' } })
    expect(named.driver).toBe('fake')
    await named.close()
  })

  it('rejects statements once closed, with DB_CLOSED', async () => {
    const d = createDatabase({ env: {}, url: 'sqlite::memory:' })
    await d.close()
    expect(isDatabaseError(await d.query('select 1').catch((e: unknown) => e), 'DB_CLOSED')).toBe(true)
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
