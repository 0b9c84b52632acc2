import { expect, it } from 'vitest'
import { eventually } from '../eventually.ts'
import { caseKit, codeOf, rejection } from './support.ts'
import type { DatabaseCaseContext } from './subject.ts'

/** The pool and statements: streaming, acquire timeouts, aborts, cancel on the server, drain on close. */
export function poolCases(ctx: DatabaseCaseContext): void {
  const { db, t, p, drop } = caseKit(ctx)

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
}
