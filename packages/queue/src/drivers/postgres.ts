import { defineQueueDriver } from '../driver.ts'
import { SqlQueueDriver, type SqlQueueOptions } from './sql.ts'

export type { SqlQueueOptions } from './sql.ts'

/**
 * PostgreSQL through @beaver-kit/database: `FOR UPDATE SKIP LOCKED` claims, LISTEN/NOTIFY
 * pickup, transactional publish (`{ tx }`).
 * @example createQueue({ driver: postgresDriver, db: { url: 'postgres://app@db/app' } })
 */
export const postgresDriver = defineQueueDriver<SqlQueueOptions>({
  name: 'postgres',
  peers: ['@beaver-kit/database'],
  section: 'db',
  create: (options, ctx) => new SqlQueueDriver('postgres', 'postgres', options ?? {}, ctx),
})
