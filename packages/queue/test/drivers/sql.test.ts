import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe } from 'vitest'
import { createDatabase, type Database } from '@beaver-kit/database'
import { requireService } from '@beaver-kit/testkit'
import { describeQueueDriver } from '@beaver-kit/testkit/queue'
import { createQueue, defineJob } from '@beaver-kit/queue'

const rejectingJob = (queue: string): { queue: string } =>
  defineJob<never>(queue, {
    parse: () => {
      throw new Error('schema rejects it')
    },
  })

const dir = mkdtempSync(join(tmpdir(), 'beaver-queue-'))
const databases: Database[] = []
afterAll(async () => {
  for (const d of databases) await d.close()
  rmSync(dir, { recursive: true, force: true })
})

function suite(driver: 'sqlite' | 'postgres' | 'mysql', url: string): void {
  const database = createDatabase({ url, envPrefix: false })
  databases.push(database)
  describeQueueDriver(
    driver,
    (namespace) =>
      createQueue({
        driver,
        driverOptions: { database },
        namespace,
        envPrefix: false,
        pollInterval: '50ms',
      }),
    { rejectingJob },
  )
}

suite('sqlite', `sqlite:${join(dir, 'queue.db')}`)

const pg = await requireService('postgres')
describe.runIf(pg)('postgres', () => suite('postgres', pg as string))

const maria = await requireService('mariadb')
describe.runIf(maria)('mariadb', () => suite('mysql', maria as string))
