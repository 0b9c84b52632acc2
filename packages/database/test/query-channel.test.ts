// What beaver:database:query publishes for each shape of statement on SQLite, whose engine
// answers at once: a synchronous operation (start, end with `result`) when it answers, and the
// same operation ended with asyncStart/asyncEnd when a transaction holds the connection.
import dc from 'node:diagnostics_channel'
import { afterEach, describe, expect, it } from 'vitest'
import { observeOperations, type OperationOutcome } from '@beaver-kit/core'
import { createDatabase, isDatabaseError, type QueryEvent } from '@beaver-kit/database'

type Seen = Array<[string, Partial<QueryEvent> & { result?: unknown }]>
const offs: Array<() => void> = []
afterEach(() => {
  for (const off of offs.splice(0)) off()
})

function record(): { seen: Seen; finished: Array<[string, OperationOutcome]> } {
  const channel = dc.tracingChannel<unknown, QueryEvent>('beaver:database:query')
  const seen: Seen = []
  const on = (name: string) => (ctx: QueryEvent) => void seen.push([name, { ...ctx }])
  const handlers = {
    start: on('start'),
    end: on('end'),
    asyncStart: on('asyncStart'),
    asyncEnd: on('asyncEnd'),
    error: on('error'),
  }
  channel.subscribe(handlers)
  const finished: Array<[string, OperationOutcome]> = []
  const stop = observeOperations<QueryEvent>('beaver:database:query', {
    finish: (ctx, outcome) => void finished.push([ctx.statement, outcome]),
  })
  offs.push(() => channel.unsubscribe(handlers), stop)
  return { seen, finished }
}

describe('beaver:database:query on an engine that answers at once', () => {
  it('publishes an answered statement as a synchronous operation, and a failed one with its error', async () => {
    await using db = createDatabase({ envPrefix: false, url: 'sqlite::memory:' })
    await db.exec('create table t (id integer primary key)')
    await db.execute('insert into t (id) values (1), (2)')
    const { seen, finished } = record()
    expect(await db.query('select id from t')).toMatchObject({ rowCount: 2 })
    expect(seen.map(([name]) => name)).toEqual(['start', 'end'])
    expect(seen[1]?.[1]).toMatchObject({ statement: 'select id from t', driver: 'sqlite', rowCount: 2 })
    expect('result' in (seen[1]?.[1] ?? {})).toBe(true)
    expect(finished).toHaveLength(1)
    expect(finished[0]?.[1].error).toBeUndefined()

    seen.length = 0
    const failure = await db.query('select * from missing').catch((e: unknown) => e)
    expect(isDatabaseError(failure)).toBe(true)
    expect(seen.map(([name]) => name)).toEqual(['start', 'error', 'end'])
    expect(finished[1]).toEqual(['select * from missing', expect.objectContaining({ error: failure })])
  })

  it('goes on through the pool while a transaction holds the connection, published once', async () => {
    await using db = createDatabase({ envPrefix: false, url: 'sqlite::memory:' })
    await db.exec('create table t (id integer primary key)')
    let release = (): void => undefined
    const held = new Promise<void>((resolve) => (release = resolve))
    let inside = (): void => undefined
    const begun = new Promise<void>((resolve) => (inside = resolve))
    const tx = db.transaction(async (t) => {
      await t.execute('insert into t (id) values (7)')
      inside()
      await held
    })
    await begun
    const { seen, finished } = record()
    const waiting = db.query('select id from t')
    expect(seen.map(([name]) => name)).toEqual(['start', 'end'])
    expect(finished).toEqual([])
    release()
    await tx
    expect(await waiting).toMatchObject({ rowCount: 1 })
    expect(seen.map(([name]) => name)).toEqual(['start', 'end', 'asyncStart', 'asyncEnd'])
    expect(seen[3]?.[1]).toMatchObject({ rowCount: 1 })
    expect(finished).toHaveLength(1)
    expect(finished[0]?.[1].error).toBeUndefined()
  })
})
