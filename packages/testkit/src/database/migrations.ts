import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { caseKit, codeOf, rejection } from './support.ts'
import type { DatabaseCaseContext } from './subject.ts'

/** Migrations: up, down, status, checksums, dry runs, and two processes migrating at once. */
export function migrationCases(ctx: DatabaseCaseContext): void {
  const { db, t, drop } = caseKit(ctx)

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
}
