import type { Database } from './database.ts'
import { createDatabase } from './database.ts'
import { db } from './default.ts'
import type { Migration } from './migrations.ts'
import type { Dialect } from './sql.ts'

/** Where a package keeps its tables (a queue, a scheduler, a rate limiter): its options, as data. */
export interface StoreDatabaseOptions {
  /** A database of the caller's: used as it is, never closed by the store. */
  database?: Database | undefined
  /** A URL to open a database from (the store owns it and closes it). Neither: the default `db()`. */
  url?: string | undefined
}

/** How `openStoreDatabase` checks and prepares the database it picked. */
export interface OpenStoreDatabaseOptions extends StoreDatabaseOptions {
  /**
   * The dialect the store's statements are written for; a database speaking another one is
   * refused with the error `mismatch` returns (name the setting to change there). Omitted:
   * any dialect is accepted (the store follows the database's).
   */
  dialect?: { expected: Dialect; mismatch: (actual: Dialect) => Error } | undefined
  /**
   * The store's own migrations for the database's dialect, applied (under the migration lock,
   * each once) before the store uses it.
   */
  migrations?: ((dialect: Dialect) => { migrations: readonly Migration[]; table: string }) | undefined
}

/** The database a store opened, and whether it is the store's to close. */
export interface StoreDatabase {
  database: Database
  /** True when it was opened from `url`: the store closes it on its own close. */
  owned: boolean
}

/**
 * Opens the database a store keeps its tables in: the caller's own, one opened from a URL, or
 * the default `db()`; refuses a database of another dialect; applies the store's migrations.
 * A database it opened from a URL is closed again when a check or migration fails.
 * @example
 * const { database, owned } = await openStoreDatabase({
 *   url, dialect: { expected: 'postgres', mismatch: (d) => new Error(`speaks ${d}`) },
 *   migrations: (dialect) => ({ migrations: myMigrations(dialect), table: 'my_store_migrations' }),
 * })
 */
export async function openStoreDatabase(options: OpenStoreDatabaseOptions): Promise<StoreDatabase> {
  let database = options.database
  let owned = false
  if (!database && options.url) {
    database = createDatabase({ url: options.url, envPrefix: false })
    owned = true
  }
  database ??= db()
  try {
    if (options.dialect && database.dialect !== options.dialect.expected) {
      throw options.dialect.mismatch(database.dialect)
    }
    if (options.migrations) await database.migrator(options.migrations(database.dialect)).up()
  } catch (error) {
    if (owned) await database.close().catch(() => undefined)
    throw error
  }
  return { database, owned }
}
