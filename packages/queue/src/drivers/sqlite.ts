import { defineQueueDriver } from '../driver.ts'
import { SqlQueueDriver, type SqlQueueOptions } from './sql.ts'

export type { SqlQueueOptions } from './sql.ts'

/**
 * Durable, embedded: messages in a SQLite file through @beaver-kit/database (`node:sqlite`).
 * The default driver. Idle consumers poll (`BEAVER_QUEUE_POLL_INTERVAL`); publishes from the
 * same process wake them at once.
 * @example createQueue({ driver: sqliteDriver, db: { url: 'sqlite:./data/jobs.db' } })
 */
export const sqliteDriver = defineQueueDriver<SqlQueueOptions>({
  name: 'sqlite',
  peers: ['@beaver-kit/database'],
  section: 'db',
  create: (options, ctx) => new SqlQueueDriver('sqlite', 'sqlite', options ?? {}, ctx),
})
