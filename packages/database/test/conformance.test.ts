import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { requireService } from '@beaver-kit/testkit'
import { describeDatabaseDriver, type DatabaseSuiteOptions } from '@beaver-kit/testkit/database'
import { migrateInChild, testDatabase } from './helpers.ts'

const postgres = await requireService('postgres')
const mariadb = await requireService('mariadb')
const files = mkdtempSync(join(tmpdir(), 'beaver-db-conf-'))
afterAll(() => rmSync(files, { recursive: true, force: true }))

type Overrides = Parameters<DatabaseSuiteOptions['create']>[1]

function options(
  urlOf: (ns: string) => string,
  rest: Omit<DatabaseSuiteOptions, 'create' | 'migrateInChild'>,
): DatabaseSuiteOptions {
  return {
    ...rest,
    create: (ns: string, o: Overrides) =>
      testDatabase(urlOf(ns), {
        ...(o.pool ? { pool: o.pool } : {}),
        ...(o.busyTimeout !== undefined ? { busyTimeout: o.busyTimeout } : {}),
      }),
    migrateInChild: (ns, dir, table) => migrateInChild(urlOf(ns), dir, table),
  }
}

if (postgres) {
  describeDatabaseDriver(
    'postgres',
    () => testDatabase(postgres),
    options(() => postgres, {
      locking: 'rows',
      interruptible: true,
      sleepSql: (s) => `select pg_sleep(${s})`,
      runningSql: (marker) =>
        `select count(*)::int as n from pg_stat_activity where state = 'active' and query like '%${marker}%' and pid <> pg_backend_pid()`,
    }),
  )
}

if (mariadb) {
  describeDatabaseDriver(
    'mysql (MariaDB)',
    () => testDatabase(mariadb),
    options(() => mariadb, {
      locking: 'rows',
      interruptible: true,
      sleepSql: (s) => `select sleep(${s})`,
      runningSql: (marker) =>
        `select count(*) as n from information_schema.processlist where info like '%${marker}%' and id <> connection_id()`,
    }),
  )
}

const sqliteUrl = (ns: string): string => `sqlite:${join(files, `${ns}.db`)}`
describeDatabaseDriver(
  'sqlite',
  (ns) => testDatabase(sqliteUrl(ns)),
  options(sqliteUrl, { locking: 'database', interruptible: false }),
)

const libsqlUrl = (ns: string): string => `libsql:${join(files, `${ns}.libsql.db`)}`
describeDatabaseDriver(
  'libsql',
  (ns) => testDatabase(libsqlUrl(ns)),
  options(libsqlUrl, { locking: 'database', interruptible: false }),
)
