import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import dc from 'node:diagnostics_channel'
import { expect, it } from 'vitest'
import { defineConformanceSuite, type ConformanceContext } from './conformance.ts'
import { eventually } from './eventually.ts'

type Row = Record<string, unknown>
type Dialect = 'postgres' | 'mysql' | 'sqlite'

interface CallOptions {
  signal?: AbortSignal
  timeoutMs?: number
}

interface Result<T> {
  rows: T[]
  rowCount: number
  affectedRows: number
  insertId?: number | bigint | undefined
}

/** What the suite needs of a database handle (the shape of `@beaver-kit/database`'s Database). */
export interface DatabaseUnderTest {
  readonly dialect: Dialect
  readonly driver: string
  query<T = Row>(text: string, params?: readonly unknown[], options?: CallOptions): Promise<Result<T>>
  one<T = Row>(text: string, params?: readonly unknown[], options?: CallOptions): Promise<T>
  maybeOne<T = Row>(text: string, params?: readonly unknown[], options?: CallOptions): Promise<T | undefined>
  many<T = Row>(text: string, params?: readonly unknown[], options?: CallOptions): Promise<T[]>
  execute(
    text: string,
    params?: readonly unknown[],
    options?: CallOptions,
  ): Promise<{ affectedRows: number; insertId?: number | bigint | undefined }>
  exec(script: string): Promise<void>
  stream<T = Row>(
    text: string,
    params?: readonly unknown[],
    options?: CallOptions & { batchSize?: number },
  ): AsyncIterable<T>
  transaction<T>(
    fn: (tx: TransactionUnderTest) => Promise<T>,
    options?: {
      isolation?: 'read committed' | 'repeatable read' | 'serializable'
      readOnly?: boolean
      retries?: number
      onRetry?: (info: { attempt: number; error: unknown }) => void
    },
  ): Promise<T>
  migrator(options: { dir: string; table: string }): {
    up(options?: { dryRun?: boolean; to?: string }): Promise<{ steps: Array<{ id: string }> }>
    down(options?: { steps?: number; dryRun?: boolean }): Promise<{ steps: Array<{ id: string }> }>
    status(): Promise<Array<{ id: string; state: string }>>
  }
  stats(): { total: number; idle: number; waiting: number; idleErrors: number }
  ping(): Promise<number>
  close(): Promise<void>
}

export type TransactionUnderTest = Pick<
  DatabaseUnderTest,
  'query' | 'one' | 'maybeOne' | 'many' | 'execute' | 'exec' | 'transaction'
>

/** How each driver runs the suite. */
export interface DatabaseSuiteOptions {
  /** A handle on the same database as the subject with other pool settings (pool exhaustion). */
  create(
    namespace: string,
    overrides: { pool?: { max?: number; acquireTimeout?: number }; busyTimeout?: number },
  ): DatabaseUnderTest
  /**
   * Concurrency model: `rows` (row locks, real deadlocks: PostgreSQL, MySQL) or `database`
   * (one writer at a time, contention surfaces as BUSY: SQLite, libSQL).
   */
  locking: 'rows' | 'database'
  /** Whether a running statement can be interrupted (server drivers); SQLite statements run synchronously. */
  interruptible: boolean
  /** A statement that takes about `seconds` on the server, for timeouts and mid-query faults. */
  sleepSql?: (seconds: number) => string
  /**
   * A query answering `n`: how many statements containing `marker` run on the server, the
   * asking one excluded (pg_stat_activity, processlist): proves a cancel stopped a statement.
   */
  runningSql?: (marker: string) => string
  /** Runs `migrator.up()` on `dir` in a separate process; resolves with its exit code and output. */
  migrateInChild(
    namespace: string,
    dir: string,
    table: string,
  ): Promise<{ code: number | null; stdout: string; stderr: string }>
}

type Ctx = ConformanceContext<DatabaseUnderTest, DatabaseSuiteOptions>

function ph(dialect: Dialect, n: number): string {
  return dialect === 'postgres' ? `$${n}` : '?'
}

function codeOf(err: unknown): string | undefined {
  return (err as { code?: string } | null)?.code
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p
  } catch (err) {
    return err
  }
  throw new Error('expected the promise to reject, and it resolved')
}

/** Column types per dialect for the type round-trip table. */
function typeTable(dialect: Dialect, table: string): string {
  switch (dialect) {
    case 'postgres':
      return `create table ${table} (id int primary key, big bigint, amount numeric(30,9), at timestamptz, doc jsonb, bin bytea, txt text, nul text)`
    case 'mysql':
      return `create table ${table} (id int primary key, big bigint, amount decimal(30,9), at datetime(3), doc json, bin blob, txt text, nul text) character set utf8mb4`
    default:
      return `create table ${table} (id integer primary key, big integer, amount text, at text, doc text, bin blob, txt text, nul text)`
  }
}

/** Every text an error carries: message, stack, string fields, details, and the same for its causes. */
function everyText(err: unknown, depth = 0): string {
  if (typeof err !== 'object' || err === null || depth > 5) return String(err)
  const parts: string[] = []
  for (const key of Object.getOwnPropertyNames(err)) {
    const value = (err as Record<string, unknown>)[key]
    if (key === 'cause') parts.push(everyText(value, depth + 1))
    else if (typeof value === 'string') parts.push(value)
    else if (typeof value === 'object' && value !== null)
      parts.push(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)))
  }
  return parts.join('\n')
}

/** The server's own code for a unique violation, kept as `driverCode`. */
const UNIQUE_DRIVER_CODE: Record<Dialect, unknown> = { postgres: '23505', mysql: 1062, sqlite: 2067 }

/** What a write in a read-only transaction fails with, per dialect: the kit's code and the server's own. */
const READ_ONLY_REFUSAL: Record<Dialect, { code: string; driverCode: unknown; retryable: boolean }> = {
  postgres: { code: 'DB_QUERY', driverCode: '25006', retryable: false },
  mysql: { code: 'DB_QUERY', driverCode: 1792, retryable: false },
  sqlite: { code: 'DB_QUERY', driverCode: 8, retryable: false },
}

function barrier(parties: number): () => Promise<void> {
  let arrived = 0
  let open!: () => void
  const opened = new Promise<void>((resolve) => (open = resolve))
  return async () => {
    if (++arrived >= parties) open()
    await opened
  }
}

/**
 * The database conformance suite: every driver runs all of it against a real server (or file).
 * @example describeDatabaseDriver('postgres', (ns) => createDatabase({ url }), { locking: 'rows', ... })
 */
export const describeDatabaseDriver = defineConformanceSuite<DatabaseUnderTest, DatabaseSuiteOptions>(
  'database',
  (ctx: Ctx) => {
    const db = (): DatabaseUnderTest => ctx.subject()
    const t = (suffix: string): string => `${ctx.namespace()}_${suffix}`
    const p = (n: number): string => ph(db().dialect, n)

    async function drop(...tables: string[]): Promise<void> {
      for (const table of tables) await db().exec(`drop table if exists ${table}`)
    }

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

    it('commits, rolls back on throw, and turns nested transactions into savepoints', async () => {
      const table = t('tx')
      await db().exec(`create table ${table} (id integer primary key, v varchar(20))`)
      try {
        const ins = (q: TransactionUnderTest, id: number): Promise<unknown> =>
          q.execute(`insert into ${table} (id, v) values (${p(1)}, ${p(2)})`, [id, `v${id}`])
        expect(await db().transaction(async (tx) => (await ins(tx, 1), 'done'))).toBe('done')
        const boom = new Error('boom')
        expect(await rejection(db().transaction(async (tx) => (await ins(tx, 2), Promise.reject(boom))))).toBe(boom)
        await db().transaction(async (tx) => {
          await ins(tx, 3)
          await expect(tx.transaction(async (inner) => (await ins(inner, 4), Promise.reject(boom)))).rejects.toBe(boom)
          await tx.transaction(async (inner) => {
            await ins(inner, 5)
            await inner.transaction(async (deeper) => void (await ins(deeper, 6)))
          })
        })
        const ids = (await db().many<{ id: number }>(`select id from ${table} order by id`)).map((r) => Number(r.id))
        expect(ids).toEqual([1, 3, 5, 6])
        // A statement on a finished transaction is a bug the kit reports, not a silent autocommit.
        let leaked: TransactionUnderTest | undefined
        await db().transaction(async (tx) => void (leaked = tx))
        expect(codeOf(await rejection((leaked as TransactionUnderTest).query('select 1')))).toBe('DB_CLOSED')
      } finally {
        await drop(table)
      }
    })

    it('refuses writes in a read-only transaction with the exact code, and leaves the row alone', async () => {
      const table = t('ro')
      await db().exec(`create table ${table} (id integer primary key, v integer)`)
      try {
        await db().execute(`insert into ${table} (id, v) values (1, 1)`)
        const err = (await rejection(
          db().transaction((tx) => tx.execute(`update ${table} set v = 2 where id = 1`), { readOnly: true }),
        )) as { code?: string; driverCode?: unknown; retryable?: boolean }
        expect({ code: err.code, driverCode: err.driverCode, retryable: err.retryable }).toEqual(
          READ_ONLY_REFUSAL[db().dialect],
        )
        expect((await db().one<{ v: number }>(`select v from ${table} where id = 1`)).v).toBe(1)
      } finally {
        await drop(table)
      }
    })

    /**
     * Two transactions read row 1, then both write it. Under `isolation` the second writer
     * either fails (serializable: a serialization failure or, where reads take shared locks, a
     * deadlock) or succeeds on the committed value (read committed: both increments land).
     */
    async function lostUpdateRace(
      table: string,
      isolation: 'read committed' | 'serializable',
      retries: number,
    ): Promise<{ outcomes: Array<string | undefined>; retried: string[]; runs: number }> {
      const bothRead = barrier(2)
      const retried: string[] = []
      let runs = 0
      let firstAttempts = 0
      const bump = () =>
        db().transaction(
          async (tx) => {
            runs++
            const v = (await tx.one<{ v: number }>(`select v from ${table} where id = 1`)).v
            // Only the first attempts meet at the barrier; a retry runs alone.
            if (firstAttempts++ < 2) await bothRead()
            await tx.execute(`update ${table} set v = v + 1 where id = 1 and v >= ${p(1)}`, [v])
          },
          { isolation, retries, onRetry: ({ error }) => void retried.push(codeOf(error) ?? 'unknown') },
        )
      const settled = await Promise.allSettled([bump(), bump()])
      return {
        outcomes: settled.map((r) => (r.status === 'fulfilled' ? 'ok' : codeOf(r.reason))).sort(),
        retried,
        runs,
      }
    }

    ctx.itIf(
      ctx.options.locking === 'rows',
      'one writer at a time: every transaction is serializable, no row conflicts',
    )(
      'honours isolation levels: a real serializable conflict, retried on request; read committed lets both land',
      async () => {
        const table = t('iso')
        await db().exec(`create table ${table} (id integer primary key, v integer)`)
        try {
          await db().execute(`insert into ${table} (id, v) values (1, 0)`)
          const conflict = db().dialect === 'postgres' ? 'DB_SERIALIZATION' : 'DB_DEADLOCK'
          const strict = await lostUpdateRace(table, 'serializable', 0)
          expect(strict.outcomes).toEqual([conflict, 'ok'].sort())
          expect((await db().one<{ v: number }>(`select v from ${table} where id = 1`)).v).toBe(1)
          // The same conflict with { retries }: the loser runs again from the start and both land.
          const retried = await lostUpdateRace(table, 'serializable', 3)
          expect(retried.outcomes).toEqual(['ok', 'ok'])
          expect(retried.retried.length).toBeGreaterThanOrEqual(1)
          expect(new Set(retried.retried)).toEqual(new Set([conflict]))
          expect(retried.runs).toBe(2 + retried.retried.length)
          expect((await db().one<{ v: number }>(`select v from ${table} where id = 1`)).v).toBe(3)
          // Read committed: the second writer waits, then updates the committed row; no failure.
          const loose = await lostUpdateRace(table, 'read committed', 0)
          expect(loose.outcomes).toEqual(['ok', 'ok'])
          expect((await db().one<{ v: number }>(`select v from ${table} where id = 1`)).v).toBe(5)
          // Read committed sees a concurrent commit between two reads; repeatable read does not.
          const reads = (isolation: 'read committed' | 'repeatable read', next: number) =>
            db().transaction(
              async (tx) => {
                const before = (await tx.one<{ v: number }>(`select v from ${table} where id = 1`)).v
                await db().execute(`update ${table} set v = ${p(1)} where id = 1`, [next])
                const after = (await tx.one<{ v: number }>(`select v from ${table} where id = 1`)).v
                return [before, after]
              },
              { isolation },
            )
          expect(await reads('read committed', 10)).toEqual([5, 10])
          expect(await reads('repeatable read', 20)).toEqual([10, 10])
          expect((await db().one<{ v: number }>(`select v from ${table} where id = 1`)).v).toBe(20)
        } finally {
          await drop(table)
        }
      },
    )

    it('retries two transactions forced into a deadlock (or lock contention) to success', async () => {
      const table = t('dead')
      await db().exec(`create table ${table} (id integer primary key, v integer)`)
      try {
        await db().execute(`insert into ${table} (id, v) values (1, 0), (2, 0)`)
        const retried: string[] = []
        const retryable: unknown[] = []
        const onRetry = ({ error }: { error: unknown }): void => {
          retried.push(codeOf(error) ?? 'unknown')
          retryable.push((error as { retryable?: unknown }).retryable)
        }
        if (ctx.options.locking === 'rows') {
          const bothLocked = barrier(2)
          const attempts = { a: 0, b: 0 }
          const move = (first: number, second: number, who: 'a' | 'b') =>
            db().transaction(
              async (tx) => {
                attempts[who]++
                await tx.execute(`update ${table} set v = v + 1 where id = ${p(1)}`, [first])
                await bothLocked()
                await tx.execute(`update ${table} set v = v + 10 where id = ${p(1)}`, [second])
                return who
              },
              { retries: 3, onRetry },
            )
          expect(await Promise.all([move(1, 2, 'a'), move(2, 1, 'b')])).toEqual(['a', 'b'])
          // At least one deadlock victim was retried (a loaded machine may produce a second one).
          expect(retried.length).toBeGreaterThanOrEqual(1)
          expect(new Set(retried)).toEqual(new Set(['DB_DEADLOCK']))
          expect(new Set(retryable)).toEqual(new Set([true]))
          expect(attempts.a + attempts.b).toBe(2 + retried.length)
          const rows = await db().many<{ v: number }>(`select v from ${table} order by id`)
          expect(rows.map((r) => r.v)).toEqual([11, 11])
        } else {
          // One writer at a time: the second writer gets BUSY while the first holds the lock, and is retried.
          const other = ctx.options.create(ctx.namespace(), { busyTimeout: 50 })
          try {
            let releaseFirst!: () => void
            const held = new Promise<void>((resolve) => (releaseFirst = resolve))
            let entered!: () => void
            const firstIn = new Promise<void>((resolve) => (entered = resolve))
            const first = db().transaction(async (tx) => {
              await tx.execute(`update ${table} set v = v + 1 where id = 1`)
              entered()
              await held
            })
            await firstIn
            const second = other.transaction(
              async (tx) => void (await tx.execute(`update ${table} set v = v + 10 where id = 1`)),
              {
                retries: 20,
                onRetry: (info) => {
                  onRetry(info)
                  releaseFirst()
                },
              },
            )
            await Promise.all([first, second])
            expect(retried.length).toBeGreaterThanOrEqual(1)
            expect(retried[0]).toMatch(/^DB_(TIMEOUT|SERIALIZATION|DEADLOCK)$/)
            expect((await db().one<{ v: number }>(`select v from ${table} where id = 1`)).v).toBe(11)
          } finally {
            await other.close()
          }
        }
      } finally {
        await drop(table)
      }
    })

    it('streams a large result in batches and frees the connection on early exit', async () => {
      const table = t('stream')
      await db().exec(`create table ${table} (id integer primary key)`)
      try {
        await db().transaction(async (tx) => {
          for (let start = 1; start <= 1200; start += 200) {
            const ids = Array.from({ length: 200 }, (_, i) => start + i)
            await tx.execute(`insert into ${table} (id) values ${ids.map((_, i) => `(${p(i + 1)})`).join(', ')}`, ids)
          }
        })
        let count = 0
        let last = 0
        for await (const row of db().stream<{ id: number }>(
          `select id from ${table} where id > ${p(1)} order by id`,
          [0],
          { batchSize: 100 },
        )) {
          expect(Number(row.id)).toBe(last + 1)
          last = Number(row.id)
          count++
        }
        expect(count).toBe(1200)
        for await (const row of db().stream<{ id: number }>(`select id from ${table} order by id`, [], {
          batchSize: 50,
        })) {
          if (Number(row.id) >= 10) break
        }
        expect(Number((await db().one<{ n: number }>(`select count(*) as n from ${table}`)).n)).toBe(1200)
        // A pool of one: a stream left early must give its connection back, or the next query
        // times out waiting for it.
        const single = ctx.options.create(ctx.namespace(), { pool: { max: 1, acquireTimeout: 2000 } })
        try {
          let seen = 0
          for await (const row of single.stream<{ id: number }>(`select id from ${table} order by id`, [], {
            batchSize: 50,
          })) {
            seen = Number(row.id)
            if (seen >= 10) break
          }
          expect(seen).toBe(10)
          expect(await single.one<{ x: number }>('select 1 as x')).toEqual({ x: 1 })
          const stats = single.stats()
          expect(stats.idle).toBe(stats.total)
        } finally {
          await single.close()
        }
        // An abort between batches stops the stream with the caller's reason (on every driver,
        // SQLite included: its statements run synchronously, so this is where it can stop).
        const controller = new AbortController()
        const reason = new Error('enough')
        let read = 0
        const stopped = await rejection(
          (async () => {
            for await (const _row of db().stream(`select id from ${table} order by id`, [], {
              batchSize: 20,
              signal: controller.signal,
            })) {
              if (++read === 30) controller.abort(reason)
            }
          })(),
        )
        expect(stopped).toBe(reason)
        expect(read).toBeGreaterThanOrEqual(30)
        expect(read).toBeLessThan(1200)
        expect(await db().one<{ x: number }>('select 1 as x')).toEqual({ x: 1 })
      } finally {
        await drop(table)
      }
    })

    it('times out waiting for a connection when the pool is exhausted', async () => {
      const small = ctx.options.create(ctx.namespace(), { pool: { max: 1, acquireTimeout: 150 } })
      try {
        let release!: () => void
        const hold = new Promise<void>((resolve) => (release = resolve))
        let started!: () => void
        const inside = new Promise<void>((resolve) => (started = resolve))
        const holder = small.transaction(async (tx) => {
          await tx.query('select 1')
          started()
          await hold
        })
        await inside
        const err = (await rejection(small.query('select 1'))) as { code?: string; details?: { phase?: string } }
        expect(err.code).toBe('DB_TIMEOUT')
        expect(err.details?.phase).toBe('acquire')
        release()
        await holder
        expect(await small.one<{ x: number }>('select 1 as x')).toEqual({ x: 1 })
      } finally {
        await small.close()
      }
    })

    it('rejects at once with an aborted signal', async () => {
      const controller = new AbortController()
      const reason = new Error('stop')
      controller.abort(reason)
      expect(await rejection(db().query('select 1', [], { signal: controller.signal }))).toBe(reason)
    })

    const { sleepSql, runningSql } = ctx.options
    ctx.itIf(
      ctx.options.interruptible && sleepSql !== undefined && runningSql !== undefined,
      'statements run synchronously in-process: nothing to cancel on a server (an abort stops a stream between batches instead)',
    )('cancels a running statement on the server on timeout and on abort', async () => {
      if (!sleepSql || !runningSql) throw new Error('unreachable: itIf checked sleepSql and runningSql')
      // Each statement would run 30 s: gone within 10 s means the server stopped it.
      const running = async (marker: string): Promise<number> =>
        Number((await db().one<{ n: number }>(runningSql(marker))).n)
      const timedOut = `${ctx.namespace()}_timeout`
      const err = (await rejection(db().query(`${sleepSql(30)} /* ${timedOut} */`, [], { timeoutMs: 300 }))) as {
        code?: string
        details?: { phase?: string }
      }
      expect(err.code).toBe('DB_TIMEOUT')
      expect(err.details?.phase).toBe('query')
      await eventually(async () => expect(await running(timedOut)).toBe(0), { timeoutMs: 10_000 })
      const aborted = `${ctx.namespace()}_abort`
      const reason = new Error('stop')
      const controller = new AbortController()
      const pending = rejection(db().query(`${sleepSql(30)} /* ${aborted} */`, [], { signal: controller.signal }))
      await eventually(async () => expect(await running(aborted)).toBe(1), { timeoutMs: 10_000 })
      controller.abort(reason)
      expect(await pending).toBe(reason)
      await eventually(async () => expect(await running(aborted)).toBe(0), { timeoutMs: 10_000 })
      expect(await db().one<{ x: number }>('select 1 as x')).toEqual({ x: 1 })
    })

    it('migrates up and down, reports status, refuses an edited migration, and plans dry runs', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'beaver-mig-'))
      const table = t('migs')
      const a = t('mig_a')
      try {
        await writeFile(
          join(dir, '0001_a.sql'),
          `-- migrate:up\ncreate table ${a} (id integer primary key);\ninsert into ${a} (id) values (1);\n-- migrate:down\ndrop table ${a};\n`,
        )
        await writeFile(
          join(dir, '0002_b.sql'),
          `-- migrate:up\ninsert into ${a} (id) values (2);\n-- migrate:down\ndelete from ${a} where id = 2;\n`,
        )
        const m = db().migrator({ dir, table })
        expect((await m.up({ dryRun: true })).steps.map((s) => s.id)).toEqual(['0001_a', '0002_b'])
        expect((await m.status()).map((s) => s.state)).toEqual(['pending', 'pending'])
        expect((await m.up()).steps.map((s) => s.id)).toEqual(['0001_a', '0002_b'])
        expect((await m.up()).steps).toEqual([])
        expect(await db().many(`select id from ${a} order by id`)).toHaveLength(2)
        expect((await m.down()).steps.map((s) => s.id)).toEqual(['0002_b'])
        expect((await m.status()).map((s) => s.state)).toEqual(['applied', 'pending'])
        await writeFile(
          join(dir, '0001_a.sql'),
          `-- migrate:up\ncreate table ${a} (id integer primary key, x integer);\n-- migrate:down\ndrop table ${a};\n`,
        )
        expect(codeOf(await rejection(m.up()))).toBe('DB_MIGRATION_CHECKSUM')
        expect((await m.status())[0]?.state).toBe('changed')
        await writeFile(
          join(dir, '0001_a.sql'),
          `-- migrate:up\ncreate table ${a} (id integer primary key);\ninsert into ${a} (id) values (1);\n-- migrate:down\ndrop table ${a};\n`,
        )
        await writeFile(join(dir, '0003_bad.sql'), `-- migrate:up\ninsert into no_such_table_${a} values (1);\n`)
        expect(codeOf(await rejection(m.up()))).toBe('DB_MIGRATION')
        expect((await m.status()).map((s) => s.state)).toEqual(['applied', 'applied', 'pending'])
        await rm(join(dir, '0003_bad.sql'))
        expect((await m.down({ steps: 2 })).steps.map((s) => s.id)).toEqual(['0002_b', '0001_a'])
      } finally {
        await drop(a, table)
        await rm(dir, { recursive: true, force: true })
      }
    })

    it('applies each migration exactly once when two processes migrate at the same time', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'beaver-race-'))
      const table = t('race_migs')
      const log = t('race_log')
      try {
        for (let i = 1; i <= 4; i++) {
          const id = String(i).padStart(4, '0')
          const create = i === 1 ? `create table ${log} (id varchar(10) not null);\n` : ''
          await writeFile(
            join(dir, `${id}_step.sql`),
            `-- migrate:up\n${create}insert into ${log} (id) values ('${id}');\n-- migrate:down\ndelete from ${log} where id = '${id}';\n`,
          )
        }
        const results = await Promise.all([
          ctx.options.migrateInChild(ctx.namespace(), dir, table),
          ctx.options.migrateInChild(ctx.namespace(), dir, table),
        ])
        for (const r of results) expect(r, r.stderr).toMatchObject({ code: 0 })
        const applied = results.flatMap((r) =>
          (JSON.parse(r.stdout.trim().split('\n').pop() as string) as string[]).sort(),
        )
        expect(applied.sort()).toEqual(['0001_step', '0002_step', '0003_step', '0004_step'])
        const rows = await db().many<{ id: string }>(`select id from ${log} order by id`)
        expect(rows.map((r) => r.id)).toEqual(['0001', '0002', '0003', '0004'])
      } finally {
        await drop(log, table)
        await rm(dir, { recursive: true, force: true })
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

    it('drains in-flight work on close, then refuses new work; close is idempotent', async () => {
      const own = ctx.options.create(ctx.namespace(), {})
      let release!: () => void
      const hold = new Promise<void>((resolve) => (release = resolve))
      let started!: () => void
      const inside = new Promise<void>((resolve) => (started = resolve))
      const work = own.transaction(async (tx) => {
        started()
        await hold
        return (await tx.one<{ x: number }>('select 1 as x')).x
      })
      await inside
      const closing = own.close()
      expect(codeOf(await rejection(own.query('select 1')))).toBe('DB_CLOSED')
      release()
      expect(await work).toBe(1)
      await closing
      await own.close()
    })
  },
)
