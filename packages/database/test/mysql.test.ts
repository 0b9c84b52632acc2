// MySQL/MariaDB binds values on the server (prepared statements): a value is never SQL text,
// whatever the session's sql_mode, and a `?` inside a literal or a comment is not a parameter.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requireService, uniqueNamespace } from '@beaver-kit/testkit'
import { sql, type Database } from '../src/index.ts'
import { STATEMENT_CACHE } from '../src/drivers/mysql.ts'
import { testDatabase } from './helpers.ts'

const url = await requireService('mariadb')

describe.runIf(url)('mysql driver: values bound on the server', () => {
  let db: Database
  const table = uniqueNamespace('bind')

  beforeAll(async () => {
    db = testDatabase(url as string)
    await db.exec(`create table ${table} (id integer primary key, name varchar(100) not null)`)
    await db.execute(`insert into ${table} (id, name) values (1, 'ada'), (2, 'bob'), (3, 'eve')`)
  })

  afterAll(async () => {
    await db.exec(`drop table if exists ${table}`)
    await db.close()
  })

  it('keeps a hostile value a value with NO_BACKSLASH_ESCAPES in the session sql_mode', async () => {
    const hostile = "\\' OR 1=1 -- "
    const rows = await db.session(async (s) => {
      const { mode } = await s.one<{ mode: string }>('select @@session.sql_mode as mode')
      await s.query(`set session sql_mode = concat(@@session.sql_mode, ',NO_BACKSLASH_ESCAPES')`)
      try {
        expect((await s.one<{ mode: string }>('select @@session.sql_mode as mode')).mode).toContain(
          'NO_BACKSLASH_ESCAPES',
        )
        return await s.many(sql`select id from ${sql.id(table)} where name = ${hostile}`)
      } finally {
        await s.query('set session sql_mode = ?', [mode])
      }
    })
    // Interpolated on the client, the value ended the string literal and matched every row.
    expect(rows).toEqual([])
    await db.execute(sql`insert into ${sql.id(table)} (id, name) values (${4}, ${hostile})`)
    expect(await db.many(sql`select id from ${sql.id(table)} where name = ${hostile}`)).toEqual([{ id: 4 }])
    await db.execute(sql`delete from ${sql.id(table)} where id = ${4}`)
  })

  it('does not count a ? inside a double-quoted literal or a comment as a parameter', async () => {
    expect(await db.one('select ? as a, "what?" as q, ? as b', [1, 2])).toEqual({ a: 1, q: 'what?', b: 2 })
    expect(await db.one('select ? as a # is this a ?\n, ? as b', [1, 2])).toEqual({ a: 1, b: 2 })
    expect(await db.one("select ? as a /* ? */, '?' as q, ? as b", [1, 2])).toEqual({ a: 1, q: '?', b: 2 })
  })

  it('binds numbers in LIMIT, bigints, booleans, bytes, dates and JSON', async () => {
    expect(await db.many(sql`select id from ${sql.id(table)} order by id limit ${2}`)).toEqual([{ id: 1 }, { id: 2 }])
    const row = await db.one<Record<string, unknown>>(
      'select ? as big, ? as yes, ? as bytes, ? as at, ? as doc, ? as nothing',
      [
        9007199254740993n,
        true,
        new Uint8Array([0, 1, 255]),
        new Date('2026-01-02T03:04:05.000Z'),
        { a: [1] },
        undefined,
      ],
    )
    expect(String(row.big)).toBe('9007199254740993')
    expect(Number(row.yes)).toBe(1)
    expect(Buffer.from(row.bytes as Uint8Array)).toEqual(Buffer.from([0, 1, 255]))
    expect(new Date(row.at as Date).toISOString()).toBe('2026-01-02T03:04:05.000Z')
    expect(JSON.parse(String(row.doc))).toEqual({ a: [1] })
    expect(row.nothing).toBeNull()
  })

  it('keeps a bounded cache of prepared statements per connection', async () => {
    const one = testDatabase(url as string, { pool: { max: 1 } })
    try {
      // More distinct statements than the cache holds, on one connection: the least recently
      // used are closed on the server as new ones are prepared, and every statement still runs.
      for (let i = 0; i < STATEMENT_CACHE + 20; i++)
        expect(await one.one(`select ? + ${i} as n`, [1])).toEqual({ n: i + 1 })
      const native = await one.native<{ config: { connectionConfig: { maxPreparedStatements: number } } }>()
      expect(native.config.connectionConfig.maxPreparedStatements).toBe(STATEMENT_CACHE)
      const open = await one.session(async (s) => {
        // mysql2 keeps one server statement per cache entry: the session's own connection holds at most the bound.
        const stats = await s.one<{ n: number }>(
          "select variable_value as n from information_schema.session_status where variable_name = 'COM_STMT_CLOSE'",
        )
        return Number(stats.n)
      })
      expect(open).toBeGreaterThanOrEqual(20)
    } finally {
      await one.close()
    }
  })
})
