import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe } from 'vitest'
import { createDatabase, type Database } from '@beaver-kit/database'
import { requireService } from '@beaver-kit/testkit'
import { describeSchedulerStore, type ConformanceStore } from '@beaver-kit/testkit/scheduler'
import { createScheduler, type SchedulerStore } from '@beaver-kit/scheduler'
import { MemoryStore } from '@beaver-kit/scheduler/memory'
import { SqlStore } from '@beaver-kit/scheduler/sql'
import { RedisStore } from '@beaver-kit/scheduler/redis'

const scheduler = (store: ConformanceStore, settings: { instance: string; grace?: string; missed?: string }) =>
  createScheduler({
    store: store as SchedulerStore,
    envPrefix: false,
    pollInterval: '100ms',
    leaseTtl: '5s',
    instance: settings.instance,
    ...(settings.grace ? { grace: settings.grace } : {}),
    ...(settings.missed ? { missed: settings.missed as 'skip' } : {}),
  })

// One memory store per namespace: several schedulers in one process share it like a fleet shares a database.
const memory = new Map<string, MemoryStore>()
describeSchedulerStore(
  'memory',
  (ns) => {
    let store = memory.get(ns)
    if (!store) memory.set(ns, (store = new MemoryStore()))
    return store
  },
  { scheduler },
)

const dir = mkdtempSync(join(tmpdir(), 'beaver-scheduler-'))
const databases: Database[] = []
afterAll(async () => {
  for (const d of databases) await d.close()
  rmSync(dir, { recursive: true, force: true })
})

function sql(dialect: 'sqlite' | 'postgres' | 'mysql', url: string): void {
  describeSchedulerStore(
    dialect,
    (namespace) => {
      // Each subject is its own database handle (its own pool or file handle), as separate processes are.
      const database = createDatabase({ url, envPrefix: false })
      databases.push(database)
      return new SqlStore(dialect, { database }, { namespace })
    },
    { scheduler },
  )
}

sql('sqlite', `sqlite:${join(dir, 'scheduler.db')}`)

const pg = await requireService('postgres')
describe.runIf(pg)('postgres', () => sql('postgres', pg as string))

const maria = await requireService('mariadb')
describe.runIf(maria)('mariadb', () => sql('mysql', maria as string))

const redis = await requireService('redis')
describe.runIf(redis)('redis', () =>
  describeSchedulerStore(
    'redis',
    (namespace) => new RedisStore({ url: redis as string, prefix: 'bsched-test' }, { namespace }),
    {
      scheduler,
    },
  ),
)
