import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createDatabase, type Database } from '@beaver-kit/database'
import { requireService } from '@beaver-kit/testkit'
import { createAudit } from '@beaver-kit/audit'

// Writers in separate processes hold separate pools: here, three databases (three pools)
// append to one stream at once on PostgreSQL and MariaDB. Every record must get its own seq
// and the chain must verify: no fork, no gap, whatever the interleaving. SQLite runs three
// trails on one database (node:sqlite is synchronous: a second connection in the same thread
// would busy-wait on the lock while blocking the thread that holds it; separate processes
// are serialized by BEGIN IMMEDIATE, which this test does not cover).
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
      for (const f of ['append', 'append_batch']) await db.execute(`drop function if exists ${table}_${f}`)
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
