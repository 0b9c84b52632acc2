import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createDatabase } from '@beaver-kit/database'
import { createAudit } from '@beaver-kit/audit'
import { auditMigrations } from '../src/stores/sql-schema.ts'

// Migration 0008 rebuilds the SQLite events table with `pos` as a plain INTEGER PRIMARY KEY
// (no AUTOINCREMENT, whose counter row every append wrote). A file written before it must come
// through with every record, position, link and chain as they were, and stay as checkable.
const dir = mkdtempSync(join(tmpdir(), 'beaver-audit-pos-'))
const db = createDatabase({ url: `sqlite:${join(dir, 'pos.db')}`, envPrefix: false })
afterAll(async () => {
  await db.close()
  rmSync(dir, { recursive: true, force: true })
})

const MIGRATION = '0008_sqlite_pos_without_autoincrement'
const DAY = 86_400_000

const tableSql = async (name: string): Promise<string | undefined> =>
  (await db.one<{ sql: string }>(`select sql from sqlite_master where name = ?`, [name]))?.sql

const schemaNames = async (table: string): Promise<string[]> =>
  (
    await db.many<{ name: string }>(`select name from sqlite_master where tbl_name = ? order by name`, [
      `${table}_events`,
    ])
  ).map((r) => r.name)

const allRows = (table: string): Promise<unknown[]> => db.many(`select * from ${table}_events order by pos`)

describe('sqlite pos without AUTOINCREMENT (migration 0008)', () => {
  it('upgrades a file written before it: rows, positions, links and chains kept; tampering still found', async () => {
    const table = 'audit_upgrade'
    // The tables as the migrations before 0008 made them; 0008 marked applied without running,
    // so a trail writes on them with the statements the store used before 0008 too.
    const before = auditMigrations('sqlite', table).filter((m) => m.id < MIGRATION)
    await db.migrator({ migrations: before, table: `${table}_migrations` }).up()
    const up = auditMigrations('sqlite', table).find((m) => m.id === MIGRATION)?.up as string
    await db.execute(`insert into ${table}_migrations (id, checksum, applied_at, duration_ms) values (?, ?, ?, 0)`, [
      MIGRATION,
      createHash('sha256').update(up.trim()).digest('hex'),
      new Date().toISOString(),
    ])
    const old = createAudit({ envPrefix: false, database: db, db: { table } })
    for (let i = 1; i <= 4; i++) {
      await old.record({ stream: 'a', action: `a.${i}`, metadata: { i } })
      if (i % 2 === 0) await old.record({ stream: 'b', action: `b.${i}` })
    }
    await old.close()
    expect(await tableSql(`${table}_events`)).toMatch(/autoincrement/i)
    const rowsBefore = await allRows(table)
    const namesBefore = await schemaNames(table)
    expect(rowsBefore).toHaveLength(6)

    // The real upgrade: the store applies 0008 when it opens.
    await db.execute(`delete from ${table}_migrations where id = ?`, [MIGRATION])
    const trail = createAudit({ envPrefix: false, database: db, db: { table } })
    expect(await trail.verify({ stream: 'a' })).toMatchObject({ ok: true, checked: 4, head: { seq: 4 } })
    expect(await trail.verify({ stream: 'b' })).toMatchObject({ ok: true, checked: 2, head: { seq: 2 } })
    expect(await tableSql(`${table}_events`)).not.toMatch(/autoincrement/i)
    expect(await db.many(`select name from sqlite_sequence where name = ?`, [`${table}_events`])).toEqual([])
    expect(await allRows(table)).toEqual(rowsBefore)
    expect(await schemaNames(table)).toEqual(namesBefore)

    // New records chain on, after the last position, linked by the trigger.
    const maxPos = Math.max(...rowsBefore.map((r) => Number((r as { pos: number }).pos)))
    const r5 = await trail.record({ stream: 'a', action: 'a.5' })
    const [last] = await db.many<{ pos: number; seq: number }>(
      `select pos, seq from ${table}_events order by pos desc limit 1`,
    )
    expect(last).toEqual({ pos: maxPos + 1, seq: 5 })
    expect(await db.many(`select next_hash from ${table}_events where stream = 'a' and seq = 4`)).toEqual([
      { next_hash: r5.hash },
    ])
    expect(await trail.verify({ stream: 'a' })).toMatchObject({ ok: true, checked: 5, head: { seq: 5 } })

    // As strict as before: a column changed, and a cut tail.
    await db.execute(`update ${table}_events set action = 'forged' where stream = 'b' and seq = 1`)
    expect((await trail.verify({ stream: 'b' })).problem).toMatchObject({ kind: 'altered', seq: 1 })
    await db.execute(`delete from ${table}_events where stream = 'a' and seq >= 4`)
    expect((await trail.verify({ stream: 'a' })).problem).toMatchObject({ kind: 'deleted', seq: 4 })
    await trail.close()
  })

  it('prune() keeps the table newest record, so no later record takes its position', async () => {
    const table = 'audit_prune_newest'
    let now = Date.parse('2026-01-01T00:00:00Z')
    const trail = createAudit({ envPrefix: false, database: db, db: { table }, clock: () => now })
    await trail.record({ stream: 'o', action: 'old' })
    for (let i = 1; i <= 3; i++) await trail.record({ stream: 's', action: `old.${i}` })
    now += 10 * DAY
    const newest = async (): Promise<{ pos: number; stream: string; seq: number } | undefined> =>
      db.one(`select pos, stream, seq from ${table}_events order by pos desc limit 1`)
    const kept = await newest()
    expect(kept).toMatchObject({ stream: 's', seq: 3 })

    // Stream s is all older than the cut-off, but its last record is the table's newest: it stays.
    expect(await trail.prune({ olderThan: '5d' })).toMatchObject({
      deleted: 3,
      streams: expect.arrayContaining([
        { stream: 'o', deleted: 1, baseSeq: 1 },
        { stream: 's', deleted: 2, baseSeq: 2 },
      ]),
    })
    expect(await trail.verify({ stream: 's' })).toMatchObject({ ok: true, checked: 1, base: { seq: 2 } })
    expect(await trail.verify({ stream: 'o' })).toMatchObject({ ok: true, checked: 0, base: { seq: 1 } })

    // The next record comes after it; once it is no longer the newest, it goes too.
    await trail.record({ stream: 'x', action: 'young' })
    expect((await newest())?.pos).toBe((kept?.pos ?? 0) + 1)
    expect(await trail.prune({ olderThan: '5d', stream: 's' })).toMatchObject({ deleted: 1 })
    expect(await trail.verify({ stream: 's' })).toMatchObject({ ok: true, checked: 0, base: { seq: 3 } })
    await trail.record({ stream: 's', action: 'later' })
    expect(await trail.verify({ stream: 's' })).toMatchObject({ ok: true, checked: 1, head: { seq: 4 } })
    expect((await newest())?.pos).toBe((kept?.pos ?? 0) + 2)
    await trail.close()
  })
})
