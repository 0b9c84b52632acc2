import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createDatabase } from '@beaver-kit/database'
import { createAudit, recordHash, SqlStore, type StoredRecord } from '@beaver-kit/audit'

// SQLite keeps a stream's head in forward links (migration 0007) instead of moving a head row
// with every append. A file written before that migration has records without links and a head
// row that is up to date: it must verify as it is, take new records, and still show a cut tail.
const dir = mkdtempSync(join(tmpdir(), 'beaver-audit-links-'))
const db = createDatabase({ url: `sqlite:${join(dir, 'links.db')}`, envPrefix: false })
afterAll(async () => {
  await db.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('sqlite forward links', () => {
  it('a stream written before migration 0007 verifies, chains on, and still shows its cut tail', async () => {
    const table = 'audit_legacy'
    const before = createAudit({ envPrefix: false, database: db, db: { table } })
    for (let i = 1; i <= 3; i++) await before.record({ stream: 's', action: `a.${i}` })
    await before.close()
    // Back to the tables as they were before 0007: no trigger, no links, no record of the migration.
    await db.exec(`drop trigger ${table}_events_link; alter table ${table}_events drop column next_hash`)
    await db.execute(`delete from ${table}_migrations where id = '0007_sqlite_forward_links'`)
    await db.execute(`update ${table}_heads set seq = 3, hash = (select hash from ${table}_events where seq = 3)`)

    const after = createAudit({ envPrefix: false, database: db, db: { table } })
    expect(await after.verify({ stream: 's' })).toMatchObject({ ok: true, checked: 3, head: { seq: 3 } })
    await after.record({ stream: 's', action: 'a.4' })
    expect(await after.verify({ stream: 's' })).toMatchObject({ ok: true, checked: 4, head: { seq: 4 } })
    await db.execute(`delete from ${table}_events where seq >= 3`)
    expect((await after.verify({ stream: 's' })).problem).toMatchObject({ kind: 'deleted', seq: 3 })
    await after.close()
  })

  it('an append writes no head row: only the record, linked from the one before', async () => {
    const table = 'audit_links'
    const trail = createAudit({ envPrefix: false, database: db, db: { table } })
    const [r1, r2, r3] = [
      await trail.record({ stream: 's', action: 'a' }),
      await trail.record({ stream: 's', action: 'b' }),
      await trail.record({ stream: 's', action: 'c' }),
    ]
    // The head row holds the first record (it had none before it to link from); the others are links.
    expect(await db.many(`select seq, hash from ${table}_heads`)).toEqual([{ seq: 1, hash: r1?.hash }])
    expect(await db.many(`select seq, next_hash from ${table}_events order by seq`)).toEqual([
      { seq: 1, next_hash: r2?.hash },
      { seq: 2, next_hash: r3?.hash },
      { seq: 3, next_hash: null },
    ])
    expect(await trail.verify({ stream: 's' })).toMatchObject({ ok: true, head: { seq: 3, hash: r3?.hash } })
    await trail.close()
  })

  it('after a prune, the first record kept is still checked though no record links to it', async () => {
    const table = 'audit_pruned'
    let now = Date.parse('2026-01-01T00:00:00Z')
    const trail = createAudit({ envPrefix: false, database: db, db: { table }, clock: () => now })
    for (let i = 1; i <= 3; i++) await trail.record({ stream: 's', action: `old.${i}` })
    now += 10 * 86_400_000
    await trail.record({ stream: 's', action: 'young' })
    // Records 1-3 go: record 4 loses the record that linked to it, so the head row holds it.
    expect((await trail.prune({ olderThan: '5d', stream: 's' })).deleted).toBe(3)
    expect(await trail.verify({ stream: 's' })).toMatchObject({ ok: true, checked: 1, head: { seq: 4 } })
    // Record 4 altered and re-hashed: nothing links to it but the head row.
    const store = new SqlStore({ database: db, table })
    const [r4] = await store.chain('s', 3, 1)
    const forged = { ...(r4 as StoredRecord), action: 'forged' }
    await db.execute(`update ${table}_events set action = ?, hash = ? where seq = 4`, [
      forged.action,
      recordHash(forged),
    ])
    expect((await trail.verify({ stream: 's' })).problem).toMatchObject({ kind: 'altered', seq: 4 })
    await store.close()
    await trail.close()
  })
})
