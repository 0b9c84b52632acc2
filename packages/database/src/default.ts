import { defineDefaultInstance } from '@beaver-kit/core'
import { createDatabase, type Database } from './database.ts'
import type { DatabaseOptions } from './types.ts'

const slot = defineDefaultInstance<Database, DatabaseOptions>('database', createDatabase)

/**
 * The default database, built on first use from `BEAVER_DB_*` / `DATABASE_URL` (SQLite in
 * `./data/` when nothing is set). Rethrows a configuration error until it is fixed.
 * @example const rows = await db().many(sql`select * from notes order by id desc limit ${10}`)
 */
export const db: () => Database = slot.get

/**
 * Configures the default database before its first use; throws once it exists.
 * @example initDatabase({ url: 'postgres://app@db/app', pool: { max: 20 } })
 */
export const initDatabase: (options?: DatabaseOptions) => Database = slot.init

/** Closes and forgets the default database (tests); the next `db()` builds a new one. */
export const resetDatabase: () => Promise<void> = slot.reset

/**
 * A new database (not the default) configured from another env prefix: `withPrefix('ANALYTICS_')`
 * reads `ANALYTICS_DB_*`; `options` beat that environment.
 * @example const analytics = withPrefix('ANALYTICS_', { pool: { max: 4 } })
 */
export const withPrefix: (prefix: string, options?: Omit<DatabaseOptions, 'envPrefix'>) => Database = slot.withPrefix
