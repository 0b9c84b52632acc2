import { defineDefaultInstance } from '@beaver-kit/core'
import { createDatabase, type Database, type DatabaseOptions } from './database.ts'

export { createDatabase, Database } from './database.ts'
export type {
  DatabaseOptions,
  DatabaseStats,
  ExecuteResult,
  HealthReport,
  Queryable,
  QueryEvent,
  QueryOptions,
  QueryResult,
  Session,
  StreamOptions,
  Transaction,
  TransactionOptions,
} from './database.ts'
export { sql, isSqlQuery, quoteIdentifier, SqlQuery } from './sql.ts'
export type { CompiledQuery, Dialect, SqlTag } from './sql.ts'
export { DatabaseError, isDatabaseError } from './errors.ts'
export type { DatabaseErrorCode, DatabaseErrorOptions, ErrorClass } from './errors.ts'
export { defineDatabaseDriver } from './driver.ts'
export type {
  BeginOptions,
  ConnectionSettings,
  DatabaseDriver,
  DriverCallOptions,
  DriverConnection,
  DriverContext,
  DriverPool,
  DriverResult,
  IsolationLevel,
  PoolStats,
  Row,
} from './driver.ts'
export { registerDatabaseDriver } from './registry.ts'
export { dbSchema } from './config.ts'
export type { DatabaseConfigOptions } from './config.ts'
export { createMigrator, Migrator } from './migrations.ts'
export type { Migration, MigrationPlan, MigrationStatus, MigratorOptions } from './migrations.ts'

const def = defineDefaultInstance<Database, DatabaseOptions>('database', (options) => createDatabase(options))

/**
 * The default database, built on first use from `BEAVER_DB_*` / `DATABASE_URL` (SQLite in
 * `./data/` when nothing is set). Rethrows a configuration error until it is fixed.
 * @example const rows = await db().many(sql`select * from links order by created_at desc limit ${10}`)
 */
export const db: () => Database = def.get

/**
 * Configures the default database before its first use; throws once it exists.
 * @example initDatabase({ url: 'postgres://app@db/app', pool: { max: 20 } })
 */
export const initDatabase: (options?: DatabaseOptions) => Database = def.init

/** Closes and forgets the default database (tests); the next `db()` builds a new one. */
export const resetDatabase: () => Promise<void> = def.reset

/**
 * A database configured from another env prefix: `withPrefix('ANALYTICS_')` reads `ANALYTICS_DB_*`.
 * @example const analytics = withPrefix('ANALYTICS_')
 */
export function withPrefix(prefix: string, options: Omit<DatabaseOptions, 'envPrefix'> = {}): Database {
  return createDatabase({ ...options, envPrefix: prefix })
}
