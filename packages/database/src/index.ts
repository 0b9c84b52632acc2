export { createDatabase } from './database.ts'
export type { Database } from './database.ts'
export { db, initDatabase, resetDatabase, withPrefix } from './default.ts'
export type {
  DatabaseOptions,
  DatabaseStats,
  ExecuteResult,
  HealthReport,
  Queryable,
  QueryOptions,
  QueryResult,
  Session,
  StreamOptions,
  Transaction,
  TransactionOptions,
} from './types.ts'
export { channels } from './channels.ts'
export type { IdleErrorEvent, QueryEvent, ReplicaEvent } from './channels.ts'
export { sql, isSqlQuery, quoteIdentifier, SqlQuery } from './sql.ts'
export type { CompiledQuery, Dialect, SqlTag } from './sql.ts'
export { DatabaseError, isDatabaseError } from './errors.ts'
export type { DatabaseErrorCode, DatabaseErrorOptions, ErrorClass } from './errors.ts'
export { defineDatabaseDriver } from './driver.ts'
export type {
  BeginOptions,
  ConnectionSettings,
  DatabaseDriver,
  DatabaseDriverDefinition,
  DriverCallOptions,
  DriverConnection,
  DriverContext,
  DriverResult,
  IsolationLevel,
  PoolStats,
  Row,
} from './driver.ts'
export { registerDatabaseDriver } from './registry.ts'
export { dbSchema } from './config.ts'
export type { DatabaseSettings } from './config.ts'
export { createMigrator } from './migrations.ts'
export type { Migration, MigrationPlan, MigrationStatus, Migrator, MigratorOptions } from './migrations.ts'
export { openStoreDatabase } from './store-database.ts'
export type { OpenStoreDatabaseOptions, StoreDatabase, StoreDatabaseOptions } from './store-database.ts'
