import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { createDatabase, type Database, type QueryOptions } from '@beaver-kit/database'
import { requireService } from '@beaver-kit/testkit'
import { startLineChild } from '@beaver-kit/testkit/line-child'
import { createAudit } from '@beaver-kit/audit'

// Writers in separate processes hold separate pools: here, three databases (three pools)
// append to one stream at once on PostgreSQL and MariaDB. Every record must get its own seq
// and the chain must verify: no fork, no gap, whatever the interleaving. SQLite runs three
// trails on one database (node:sqlite is synchronous: a second connection in the same thread
// would busy-wait on the lock while blocking the thread that holds it); separate processes on
// one file are the next test's.
const pg = await requireService('postgres')
const maria = await requireService('mariadb')
const dir = mkdtempSync(join(tmpdir(), 'beaver-audit-race-'))
const opened: Database[] = []
const tables: Array<{ db: Database; table: string }> = []
afterAll(async () => {
  for (const { db, table } of tables) {
    for (const t of ['events', 'heads', 'anchors', 'migrations']) await db.execute(`drop table if exists ${table}_${t}`)
    // PostgreSQL's append function (migration 0003) goes with its tables.
    if (db.dialect === 'postgres')
      for (const f of ['append', 'append_batch', 'append_after', 'append_after_batch'])
        await db.execute(`drop function if exists ${table}_${f}`)
  }
  for (const db of opened) await db.close()
  rmSync(dir, { recursive: true, force: true })
})

const targets: Array<[string, string | undefined]> = [
  ['sqlite', `sqlite:${join(dir, 'race.db')}`],
  ['postgres', pg],
  ['mariadb', maria],
]

describe.each(targets)('concurrent writers on %s', (_name, url) => {
  it.runIf(url)('45 appends from three trails at once: seq 1..45, one chain that verifies', async () => {
    const table = `audit_race_${Math.random().toString(36).slice(2, 10)}`
    const pools = _name === 'sqlite' ? 1 : 3
    const made = Array.from({ length: pools }, () => createDatabase({ url: url as string, envPrefix: false }))
    opened.push(...made)
    const dbs = [0, 1, 2].map((i) => made[i % pools] as Database)
    tables.push({ db: dbs[0] as Database, table })
    const trails = dbs.map((database) => createAudit({ envPrefix: false, database, db: { table } }))
    // Migrate once first: three processes starting at once take the migrator's lock, which is
    // the database package's concern, not this test's.
    await trails[0]?.ready()
    const records = await Promise.all(
      Array.from({ length: 45 }, (_, i) =>
        (trails[i % 3] as (typeof trails)[0]).record({ stream: 'race', action: 'w', metadata: { i } }),
      ),
    )
    expect(records.map((r) => r.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 45 }, (_, i) => i + 1))
    expect(await trails[1]?.verify({ stream: 'race' })).toMatchObject({ ok: true, checked: 45, head: { seq: 45 } })
    for (const t of trails) await t.close()
  })
})

// Across processes: each process keeps the head its last append left and writes its next record
// only if that head is still the stream's (SQLite: its record is still the last; PostgreSQL: the
// head row is still there); the others' appends in between send it through the path that chains
// after the head as the database has it (SQLite: a BEGIN IMMEDIATE transaction; PostgreSQL: the
// append function, under the head row's lock).
const processTargets: Array<[string, string | undefined]> = [
  ['one sqlite file', `sqlite:${join(dir, 'processes.db')}`],
  ['postgres', pg],
]
describe.each(processTargets)('concurrent processes on %s', (name, url) => {
  // Three processes starting from source and waiting on each other's fsyncs and on SQLite's
  // busy handler (which sleeps up to 100 ms a try): half a minute on a loaded machine.
  it.runIf(url)(
    'three processes appending to one stream, in turns then all at once: one chain that verifies',
    { timeout: 120_000 },
    async () => {
      const table =
        name === 'postgres' ? `audit_processes_${Math.random().toString(36).slice(2, 10)}` : 'audit_processes'
      const stream = 'race'
      const db = createDatabase({ url: url as string, envPrefix: false })
      opened.push(db)
      if (name === 'postgres') tables.push({ db, table })
      const trail = createAudit({ envPrefix: false, database: db, db: { table } })
      await trail.ready() // migrated once, before the children open the database
      const script = fileURLToPath(new URL('./helpers/writer.ts', import.meta.url))
      const children = [0, 1].map(() => startLineChild(script, { url, table, stream }))
      for (const child of children) expect(await child.next()).toBe('ready')
      const append = async (who: number, n: number): Promise<number[]> => {
        if (who === 2) {
          const seqs: number[] = []
          for (let i = 0; i < n; i++) seqs.push((await trail.record({ stream, action: 'w', metadata: { i } })).seq)
          return seqs
        }
        const child = children[who] as (typeof children)[0]
        child.send(String(n))
        return JSON.parse(await child.next()) as number[]
      }
      // In turns: every append after the first finds the head its process last left moved by another.
      const turns: number[] = []
      for (let round = 0; round < 3; round++) for (const who of [2, 0, 1]) turns.push(...(await append(who, 1)))
      expect(turns).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9])
      // All at once: the three race for the stream's head (on SQLite, for the file's write lock).
      const raced = await Promise.all([0, 1, 2].map((who) => append(who, 20)))
      await Promise.all(children.map((c) => c.end()))
      expect(raced.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, i) => i + 10))
      expect(await trail.verify({ stream })).toMatchObject({ ok: true, checked: 69, head: { seq: 69 } })
      await trail.close()
    },
  )
})

// PostgreSQL: a trail chains its next records after the head its last append left, and the
// database writes them only if that head is still there. Another writer moving it in between
// must send them through the functions that chain after the head as it is.
describe.runIf(pg)('appends after a known head on postgres', () => {
  it('writes after its own head, and after the real one when another trail moved it', async () => {
    const table = `audit_known_${Math.random().toString(36).slice(2, 10)}`
    const a = createDatabase({ url: pg as string, envPrefix: false })
    const b = createDatabase({ url: pg as string, envPrefix: false })
    opened.push(a, b)
    tables.push({ db: a, table })
    // The statements trail A sends, to see which way each record went.
    const sent: string[] = []
    const watched = new Proxy(a, {
      get(target, key) {
        if (key === 'query' || key === 'execute')
          return (text: string, values?: readonly unknown[], options?: QueryOptions) => {
            sent.push(text)
            return key === 'query' ? target.query(text, values, options) : target.execute(text, values, options)
          }
        const value: unknown = Reflect.get(target, key, target)
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
      },
    })
    const trailA = createAudit({ envPrefix: false, database: watched, db: { table } })
    const trailB = createAudit({ envPrefix: false, database: b, db: { table } })
    await trailA.ready()
    // A function's name, or `after head` for the one statement that writes one record after a known head.
    const through = (): string[] =>
      sent.flatMap((text) =>
        text.startsWith(`with moved as (update ${table}_heads`)
          ? ['after head']
          : text.includes(`${table}_append`)
            ? [/_append\w*/.exec(text)?.[0] ?? '']
            : [],
      )
    await trailA.record({ stream: 's', action: 'a1' })
    await trailA.record({ stream: 's', action: 'a2' })
    expect(through()).toEqual(['_append', 'after head'])
    // Four at once: the first alone, the three that waited for it in one call after its head.
    await Promise.all([3, 4, 5, 6].map((n) => trailA.record({ stream: 's', action: `a${n}` })))
    expect(through().slice(2)).toEqual(['after head', '_append_after_batch'])
    for (const n of [7, 8]) await trailB.record({ stream: 's', action: `b${n}` })
    sent.length = 0
    const moved = await trailA.record({ stream: 's', action: 'a9' })
    // Its known head (#6) had moved: nothing written there, then chained after #8.
    expect(through()).toEqual(['after head', '_append'])
    expect(moved).toMatchObject({ seq: 9 })
    const next = await trailA.record({ stream: 's', action: 'a10' })
    expect(next).toMatchObject({ seq: 10, prevHash: moved.hash })
    expect(await trailB.verify({ stream: 's' })).toMatchObject({ ok: true, checked: 10, head: { seq: 10 } })
    const rows = await b.many<{ seq: number; action: string }>(
      `select seq, action from ${table}_events where stream = 's' order by pos`,
    )
    expect(rows.map((r) => `${r.seq}:${r.action}`)).toEqual(
      ['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'b7', 'b8', 'a9', 'a10'].map((action, i) => `${i + 1}:${action}`),
    )
    const [head] = await b.many<{ seq: number; prev_hash: string }>(
      `select seq, prev_hash from ${table}_heads where stream = 's'`,
    )
    expect(head).toMatchObject({ seq: 10, prev_hash: moved.hash })
    await trailA.close()
    await trailB.close()
  })
})
