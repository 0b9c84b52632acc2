import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe } from 'vitest'
import { describeCacheDriver } from '@beaver-kit/testkit/cache'
import { requireService, uniqueNamespace } from '@beaver-kit/testkit'
import { createDatabase, type Database } from '@beaver-kit/database'
import { createCache } from '@beaver-kit/cache'
import { dropCacheTable } from '@beaver-kit/cache/database'

const postgres = await requireService('postgres')
const mariadb = await requireService('mariadb')
const sqliteDir = mkdtempSync(join(tmpdir(), 'beaver-cache-sqlite-'))

const targets: Array<{ name: string; url: string | undefined }> = [
  { name: 'postgres', url: postgres },
  { name: 'mariadb', url: mariadb },
  { name: 'sqlite', url: `sqlite:${join(sqliteDir, 'cache.db')}` },
]

const cleanups: Array<() => Promise<void>> = []
afterAll(async () => {
  for (const c of cleanups) await c()
  rmSync(sqliteDir, { recursive: true, force: true })
})

for (const target of targets) {
  describe.runIf(target.url)(`database driver on ${target.name}`, () => {
    // One table per run and dialect; every test has its own namespace in it.
    const table = uniqueNamespace('cache_tbl')
    let database: Database | undefined
    const shared = (): Database => (database ??= createDatabase({ url: target.url as string, envPrefix: false }))
    cleanups.push(async () => {
      if (!database) return
      await dropCacheTable(database, table)
      await database.close()
    })
    describeCacheDriver(
      target.name,
      (ns) =>
        createCache({
          envPrefix: false,
          driver: 'database',
          db: { database: shared(), table, sweepInterval: 0 },
          namespace: ns,
        }),
      { shared: true, increment: true, query: true },
    )
  })
}
