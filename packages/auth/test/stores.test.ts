import { afterAll } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDatabase, sql, type Database } from '@beaver-kit/database'
import { requireService, uniqueNamespace } from '@beaver-kit/testkit'
import { createMemoryAuthStore, createSqlAuthStore } from '@beaver-kit/auth'
import { authSubject, describeAuthStore } from './suite.ts'

const pg = await requireService('postgres')
const maria = await requireService('mariadb')
const dir = mkdtempSync(join(tmpdir(), 'beaver-auth-'))
const opened: Array<{ db: Database; table: string }> = []
const TABLES = ['users', 'refresh', 'one_time', 'failures', 'api_keys', 'migrations']

afterAll(async () => {
  for (const { db, table } of opened) {
    for (const t of TABLES) await db.execute(sql`DROP TABLE IF EXISTS ${sql.id(`${table}_${t}`)}`)
    await db.close()
  }
  rmSync(dir, { recursive: true, force: true })
})

describeAuthStore('memory', (ns) => authSubject(ns, createMemoryAuthStore()), {})

function sqlSuite(driver: string, url: string | undefined): void {
  if (url === undefined) return
  // One database and one set of tables per driver; every case has its own accounts.
  const db = createDatabase({ url, envPrefix: false })
  const table = uniqueNamespace('auth').toLowerCase()
  opened.push({ db, table })
  describeAuthStore(driver, (ns) => authSubject(ns, createSqlAuthStore({ database: db, table })), {})
}

sqlSuite('sqlite', `sqlite:${join(dir, 'auth.db')}`)
sqlSuite('postgres', pg)
sqlSuite('mariadb', maria)
