import dc from 'node:diagnostics_channel'
import { expect, it } from 'vitest'
import { caseKit, codeOf, everyText, rejection, typeTable, UNIQUE_DRIVER_CODE } from './support.ts'
import type { DatabaseCaseContext, Row } from './subject.ts'

/** Queries: rows in and out, types round-tripped, the error taxonomy, bound values never shown, the query diagnostics channel. */
export function queryCases(ctx: DatabaseCaseContext): void {
  const { db, t, p, drop } = caseKit(ctx)

  it('creates, reads, updates and deletes rows', async () => {
    const users = t('users')
    await db().exec(`create table ${users} (id integer primary key, name varchar(100) not null, score integer)`)
    try {
      const ins = await db().execute(
        `insert into ${users} (id, name, score) values (${p(1)}, ${p(2)}, ${p(3)}), (${p(4)}, ${p(5)}, ${p(6)})`,
        [1, 'ada', 10, 2, 'bob', 20],
      )
      expect(ins.affectedRows).toBe(2)
      expect(await db().one(`select name, score from ${users} where id = ${p(1)}`, [1])).toEqual({
        name: 'ada',
        score: 10,
      })
      expect(await db().maybeOne(`select name from ${users} where id = ${p(1)}`, [99])).toBeUndefined()
      expect(codeOf(await rejection(db().one(`select name from ${users} where id = ${p(1)}`, [99])))).toBe(
        'DB_NOT_FOUND',
      )
      expect(codeOf(await rejection(db().maybeOne(`select name from ${users}`)))).toBe('DB_TOO_MANY_ROWS')
      const upd = await db().execute(`update ${users} set score = score + 1 where id = ${p(1)}`, [2])
      expect(upd.affectedRows).toBe(1)
      const all = await db().many<{ id: number; score: number }>(`select id, score from ${users} order by id`)
      expect(all.map((r) => [Number(r.id), r.score])).toEqual([
        [1, 10],
        [2, 21],
      ])
      const res = await db().query(`select id from ${users} order by id`)
      expect(res.rowCount).toBe(2)
      expect(res.affectedRows).toBe(0)
      expect((await db().execute(`delete from ${users} where id = ${p(1)}`, [1])).affectedRows).toBe(1)
      expect(await db().many(`select id from ${users}`)).toHaveLength(1)
    } finally {
      await drop(users)
    }
  })

  it('round-trips bigint, decimal, timestamps, JSON, bytes, null and unicode', async () => {
    const table = t('types')
    await db().exec(typeTable(db().dialect, table))
    try {
      const big = 9007199254740993n
      const dec = '12345678901234567890.123456789'
      const at = new Date('2026-03-04T05:06:07.089Z')
      const doc = { a: [1, 'two', { three: true }], u: 'ünï' }
      const bin = Buffer.from([0, 1, 2, 253, 254, 255])
      const txt = 'héllo wörld 🦫 中文 ñ'
      await db().execute(
        `insert into ${table} (id, big, amount, at, doc, bin, txt, nul) values (${[1, 2, 3, 4, 5, 6, 7, 8].map(p).join(', ')})`,
        [1, big, dec, at, doc, bin, txt, null],
      )
      await db().execute(`insert into ${table} (id, big) values (${p(1)}, ${p(2)})`, [2, 42n])
      const row = await db().one<Row>(`select * from ${table} where id = ${p(1)}`, [1])
      expect(row.big).toBe(big)
      expect(row.amount).toBe(dec)
      expect(new Date(row.at as string | Date).getTime()).toBe(at.getTime())
      expect(typeof row.doc === 'string' ? JSON.parse(row.doc) : row.doc).toEqual(doc)
      expect(Buffer.from(row.bin as Uint8Array).equals(bin)).toBe(true)
      expect(row.txt).toBe(txt)
      expect(row.nul).toBeNull()
      // Integers that fit in a double come back as plain numbers, not bigints or strings.
      expect((await db().one<Row>(`select big from ${table} where id = ${p(1)}`, [2])).big).toBe(42)
    } finally {
      await drop(table)
    }
  })

  it('maps constraint failures to one error taxonomy, driver error kept as cause', async () => {
    const parent = t('parent')
    const child = t('child')
    await db().exec(
      `create table ${parent} (id integer primary key, email varchar(100) not null, age integer, constraint ${parent}_email_key unique (email), constraint ${parent}_age_check check (age >= 0))`,
    )
    await db().exec(
      `create table ${child} (id integer primary key, parent_id integer not null, constraint ${child}_parent_fk foreign key (parent_id) references ${parent} (id))`,
    )
    try {
      await db().execute(`insert into ${parent} (id, email, age) values (${p(1)}, ${p(2)}, ${p(3)})`, [1, 'a@x', 1])
      const unique = (await rejection(
        db().execute(`insert into ${parent} (id, email, age) values (${p(1)}, ${p(2)}, ${p(3)})`, [2, 'a@x', 1]),
      )) as {
        code: string
        constraint?: string
        cause?: unknown
        driverCode?: unknown
        retryable?: boolean
      }
      expect(unique.code).toBe('DB_UNIQUE_VIOLATION')
      expect(unique.cause).toBeInstanceOf(Error)
      expect({ driverCode: unique.driverCode, retryable: unique.retryable }).toEqual({
        driverCode: UNIQUE_DRIVER_CODE[db().dialect],
        retryable: false,
      })
      if (db().dialect !== 'sqlite') expect(unique.constraint).toBe(`${parent}_email_key`)
      const notNull = (await rejection(
        db().execute(`insert into ${parent} (id, email) values (${p(1)}, ${p(2)})`, [3, null]),
      )) as { code: string; column?: string }
      expect(notNull.code).toBe('DB_NOT_NULL')
      expect(notNull.column).toBe('email')
      expect(
        codeOf(
          await rejection(
            db().execute(`insert into ${parent} (id, email, age) values (${p(1)}, ${p(2)}, ${p(3)})`, [4, 'b@x', -1]),
          ),
        ),
      ).toBe('DB_CHECK')
      const fk = (await rejection(
        db().execute(`insert into ${child} (id, parent_id) values (${p(1)}, ${p(2)})`, [1, 999]),
      )) as { code: string; constraint?: string }
      expect(fk.code).toBe('DB_FOREIGN_KEY')
      if (db().dialect !== 'sqlite') expect(fk.constraint).toBe(`${child}_parent_fk`)
      expect(codeOf(await rejection(db().query('select * from table_that_does_not_exist_x')))).toBe('DB_QUERY')
    } finally {
      await drop(child, parent)
    }
  })

  it('never shows a bound value in an error, its cause, its details or a diagnostics event', async () => {
    const table = t('secrets')
    const token = `S3CRET${ctx.namespace().replace(/[^a-z0-9]/gi, '')}`
    // A quote inside, so a scrubber that stops at the first quote would leak the rest.
    const secret = `it's-${token}`
    await db().exec(
      `create table ${table} (id integer primary key, email varchar(200) not null, n integer, constraint ${table}_email_key unique (email))`,
    )
    const errors: unknown[] = []
    const channel = dc.tracingChannel('beaver:database:query')
    const handlers = {
      error: (m: unknown) => void errors.push((m as { error?: unknown }).error),
      start: () => undefined,
      end: () => undefined,
      asyncStart: () => undefined,
      asyncEnd: () => undefined,
    }
    channel.subscribe(handlers)
    try {
      await db().execute(`insert into ${table} (id, email) values (${p(1)}, ${p(2)})`, [1, secret])
      const failures = [
        await rejection(db().execute(`insert into ${table} (id, email) values (${p(1)}, ${p(2)})`, [2, secret])),
      ]
      expect(codeOf(failures[0])).toBe('DB_UNIQUE_VIOLATION')
      if (db().dialect !== 'sqlite') {
        // Servers with strict types echo a value they cannot convert; SQLite stores it as it is.
        const typed = await rejection(
          db().execute(`insert into ${table} (id, email, n) values (${p(1)}, ${p(2)}, ${p(3)})`, [3, 'x', secret]),
        )
        expect(codeOf(typed)).toMatch(/^DB_/)
        failures.push(typed)
      }
      for (const err of failures) expect(everyText(err)).not.toContain(token)
      expect(errors.length).toBeGreaterThanOrEqual(failures.length)
      for (const err of errors) expect(everyText(err)).not.toContain(token)
    } finally {
      channel.unsubscribe(handlers)
      await drop(table)
    }
  })

  it('publishes beaver:database:query with statement, duration and row count, never parameters', async () => {
    const events: Array<Record<string, unknown>> = []
    const errors: Array<Record<string, unknown>> = []
    const onEnd = (message: unknown): void => void events.push(message as Record<string, unknown>)
    const onError = (message: unknown): void => void errors.push(message as Record<string, unknown>)
    const channel = dc.tracingChannel('beaver:database:query')
    const handlers = {
      asyncEnd: onEnd,
      error: onError,
      start: () => undefined,
      end: () => undefined,
      asyncStart: () => undefined,
    }
    channel.subscribe(handlers)
    try {
      await db().query(`select ${p(1)} as secret`, ['s3cr3t-value'])
      await rejection(db().query('select * from no_such_table_for_events'))
    } finally {
      channel.unsubscribe(handlers)
    }
    const ok = events.find((e) => String(e.statement).includes('as secret'))
    expect(ok).toMatchObject({ driver: db().driver, dialect: db().dialect, rowCount: 1 })
    expect(typeof ok?.durationMs).toBe('number')
    expect(JSON.stringify(events, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))).not.toContain(
      's3cr3t-value',
    )
    expect(errors.some((e) => codeOf(e.error) === 'DB_QUERY')).toBe(true)
  })
}
