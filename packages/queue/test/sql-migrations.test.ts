// A database the queue migrated before the dedupe index became partial moves to it on the next
// start, and dedupe keeps working across the move: a pending key still answers the first id.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createDatabase, type Database } from '@beaver-kit/database'
import { requireService, uniqueNamespace } from '@beaver-kit/testkit'
import { createQueue } from '@beaver-kit/queue'
import { queueMigrations } from '../src/drivers/sql-schema.ts'

const dir = mkdtempSync(join(tmpdir(), 'beaver-queue-migrations-'))
const closers: Array<() => Promise<unknown>> = []
afterAll(async () => {
  for (const close of closers.reverse()) await close()
  rmSync(dir, { recursive: true, force: true })
})

async function indexDefinition(db: Database, table: string): Promise<string> {
  if (db.dialect === 'postgres') {
    const row = await db.maybeOne<{ def: string }>(`select indexdef as def from pg_indexes where indexname = $1`, [
      `${table}_jobs_dedupe`,
    ])
    return String(row?.def ?? '')
  }
  const row = await db.maybeOne<{ def: string }>(`select sql as def from sqlite_master where name = ?`, [
    `${table}_jobs_dedupe`,
  ])
  return String(row?.def ?? '')
}

const pg = await requireService('postgres')
const targets: Array<[string, 'sqlite' | 'postgres', string | undefined]> = [
  ['sqlite', 'sqlite', `sqlite:${join(dir, 'migrations.db')}`],
  ['postgres', 'postgres', pg],
]

for (const [label, driver, url] of targets) {
  describe.runIf(url)(`queue migrations on ${label}`, () => {
    it('makes the dedupe index partial on a database migrated before, keeping a pending key', async () => {
      const db = createDatabase({ url: url as string, envPrefix: false })
      closers.push(() => db.close())
      const table = uniqueNamespace('bq_mig')
      closers.push(async () => {
        for (const t of ['jobs', 'topics', 'migrations']) await db.execute(`drop table if exists ${table}_${t}`)
      })
      // The tables as the first two migrations left them, with a keyed message pending.
      const before = queueMigrations(driver, table).filter((m) => m.id !== '0003_dedupe_partial')
      await db.migrator({ migrations: before, table: `${table}_migrations` }).up()
      expect(await indexDefinition(db, table)).not.toMatch(/where/i)
      const insert = `insert into ${table}_jobs (id, queue, state, run_at, max_attempts, backoff_base, backoff_max, dedupe_key, payload, created_at)
         values ('first', 'm/jobs', 'waiting', 0, 3, 100, 1000, 'k', '1', 0)`
      await db.execute(insert)

      const q = createQueue({ driver, envPrefix: false, driverOptions: { database: db, table }, namespace: 'm' })
      closers.push(() => q.close())
      expect(await q.publish('jobs', 2, { dedupeKey: 'k' })).toBe('first')
      expect(await indexDefinition(db, table)).toMatch(/where.*dedupe_key is not null/i)
      expect((await q.counts('jobs')).waiting).toBe(1)
    })
  })
}
