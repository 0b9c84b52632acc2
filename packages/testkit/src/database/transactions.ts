import { expect, it } from 'vitest'
import { barrier, caseKit, codeOf, READ_ONLY_REFUSAL, rejection } from './support.ts'
import type { DatabaseCaseContext, TransactionUnderTest } from './subject.ts'

/** Transactions: commit, rollback and savepoints, read-only refusal, isolation levels, deadlock retries. */
export function transactionCases(ctx: DatabaseCaseContext): void {
  const { db, t, p, drop } = caseKit(ctx)

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

  ctx.itIf(ctx.options.locking === 'rows', 'one writer at a time: every transaction is serializable, no row conflicts')(
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
}
