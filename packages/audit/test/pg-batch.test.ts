import { afterAll, describe, expect, it } from 'vitest'
import { createDatabase, type Database } from '@beaver-kit/database'
import { requireService } from '@beaver-kit/testkit'
import { createAudit } from '@beaver-kit/audit'

// PostgreSQL appends are grouped per stream: what arrives while a stream's call is in flight
// goes in the next call, chained in one commit. Here: that the grouping happens, that the
// chain stays one (seq 1..n, verify) with three pools (three processes' worth of connections)
// writing at once, and that a record the database refuses fails alone.
// requireService prints why when PostgreSQL is missing, and throws under CI=true.
const pg = await requireService('postgres')
const opened: Database[] = []
const tables: string[] = []
afterAll(async () => {
  const db = opened[0]
  if (db) {
    for (const table of tables) {
      for (const t of ['events', 'heads', 'anchors', 'migrations'])
        await db.execute(`drop table if exists ${table}_${t}`)
      for (const f of ['append', 'append_batch', 'append_after', 'append_after_batch', 'refuse'])
        await db.execute(`drop function if exists ${table}_${f}`)
    }
  }
  for (const d of opened) await d.close()
})

function setup(pools: number): { dbs: Database[]; table: string; calls: () => number } {
  const table = `audit_batch_${Math.random().toString(36).slice(2, 10)}`
  tables.push(table)
  const dbs = Array.from({ length: pools }, () => createDatabase({ url: pg as string, envPrefix: false }))
  opened.push(...dbs)
  let calls = 0
  for (const db of dbs) {
    const query = db.query.bind(db) as (text: string, values?: readonly unknown[]) => ReturnType<Database['query']>
    db.query = ((text: string, values?: readonly unknown[]) => {
      if (text.includes(`${table}_append`)) calls++
      return query(text, values)
    }) as Database['query']
  }
  return { dbs, table, calls: () => calls }
}

describe.runIf(pg)('PostgreSQL appends grouped per stream', () => {
  it('writes 100 concurrent appends of one trail in a few calls, one chain that verifies', async () => {
    const { dbs, table, calls } = setup(1)
    await using trail = createAudit({ envPrefix: false, database: dbs[0], db: { table } })
    await trail.ready()
    const records = await Promise.all(
      Array.from({ length: 100 }, (_, i) => trail.record({ stream: 'one', action: 'w', metadata: { i } })),
    )
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1))
    // The first goes alone; the others arrive while it is in flight and go together.
    expect(calls()).toBeGreaterThanOrEqual(2)
    expect(calls()).toBeLessThanOrEqual(3)
    expect(await trail.verify({ stream: 'one' })).toMatchObject({ ok: true, checked: 100, head: { seq: 100 } })
  })

  it('keeps one chain with three pools appending 60 records each at once', async () => {
    const { dbs, table, calls } = setup(3)
    const trails = dbs.map((database) => createAudit({ envPrefix: false, database, db: { table } }))
    await trails[0]?.ready()
    await Promise.all(trails.map((t) => t.ready()))
    const records = await Promise.all(
      Array.from({ length: 180 }, (_, i) =>
        (trails[i % 3] as (typeof trails)[0]).record({ stream: 'race', action: 'w', metadata: { i } }),
      ),
    )
    expect(records.map((r) => r.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 180 }, (_, i) => i + 1))
    expect(calls()).toBeLessThan(180)
    // Each record links to the one before it, whichever pool wrote either.
    const bySeq = new Map(records.map((r) => [r.seq, r]))
    for (let seq = 2; seq <= 180; seq++) expect(bySeq.get(seq)?.prevHash).toBe(bySeq.get(seq - 1)?.hash)
    expect(await trails[2]?.verify({ stream: 'race' })).toMatchObject({ ok: true, checked: 180, head: { seq: 180 } })
    for (const t of trails) await t.close()
  })

  it('fails only the record the database refuses; the rest of its batch is written and chained', async () => {
    const { dbs, table } = setup(1)
    const db = dbs[0] as Database
    await using trail = createAudit({ envPrefix: false, database: db, db: { table } })
    await trail.ready()
    await db.exec(`create function ${table}_refuse() returns trigger language plpgsql as $$
      begin if new.action = 'refused' then raise exception 'refused by a trigger'; end if; return new; end $$;
      create trigger ${table}_refuse before insert on ${table}_events for each row execute function ${table}_refuse()`)
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => trail.record({ stream: 's', action: i === 5 ? 'refused' : 'ok' })),
    )
    expect(outcomes.map((o) => o.status)).toEqual([
      ...Array(5).fill('fulfilled'),
      'rejected',
      ...Array(4).fill('fulfilled'),
    ])
    const written = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value.seq] : []))
    expect(written.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9])
    expect(await trail.verify({ stream: 's' })).toMatchObject({ ok: true, checked: 9, head: { seq: 9 } })
  })
})
