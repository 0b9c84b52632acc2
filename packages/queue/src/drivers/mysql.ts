import { defineQueueDriver } from '../driver.ts'
import { SqlQueueDriver, type SqlQueueOptions } from './sql.ts'

export type { SqlQueueOptions } from './sql.ts'

/**
 * MariaDB 10.6+ / MySQL 8 through @beaver-kit/database: `FOR UPDATE SKIP LOCKED` claims,
 * transactional publish (`{ tx }`); idle consumers poll.
 * @example createQueue({ driver: mysqlDriver, db: { url: 'mysql://app@db/app' } })
 */
export const mysqlDriver = defineQueueDriver<SqlQueueOptions>({
  name: 'mysql',
  peers: ['@beaver-kit/database'],
  section: 'db',
  create: (options, ctx) => new SqlQueueDriver('mysql', 'mysql', options ?? {}, ctx),
})
