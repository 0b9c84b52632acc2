import type { DatabaseDriver } from './driver.ts'
import { DatabaseError } from './errors.ts'
import { BUILTIN_DRIVERS } from './config.ts'

type Loader = () => Promise<DatabaseDriver>

const KEY = Symbol.for('beaver-kit.db.drivers')
const store = globalThis as typeof globalThis & { [KEY]?: Map<string, Loader> }

// Built-in drivers load lazily, so `pg` is imported only when PostgreSQL is used.
const registry: Map<string, Loader> = (store[KEY] ??= new Map<string, Loader>([
  ['postgres', () => import('./drivers/postgres.ts').then((m) => m.postgresDriver)],
  ['mysql', () => import('./drivers/mysql.ts').then((m) => m.mysqlDriver)],
  ['sqlite', () => import('./drivers/sqlite.ts').then((m) => m.sqliteDriver)],
  ['libsql', () => import('./drivers/libsql.ts').then((m) => m.libsqlDriver)],
]))

/**
 * Adds a driver that `BEAVER_DB_DRIVER=<name>` (or `createDatabase({ driver: '<name>' })`) can pick.
 * @example registerDatabaseDriver(myDuckDriver)
 */
export function registerDatabaseDriver(driver: DatabaseDriver): void {
  registry.set(driver.name, async () => driver)
}

/** Whether a driver name is known (built in or registered). */
export function hasDatabaseDriver(name: string): boolean {
  return registry.has(name)
}

/** Loads a driver by name (built-ins lazily, so their peers load only when used). */
export async function loadDriver(name: string): Promise<DatabaseDriver> {
  const load = registry.get(name)
  if (!load) throw unknownDriver(name)
  return load()
}

/** The DB_DRIVER_UNKNOWN error, listing every known driver. */
export function unknownDriver(name: string): DatabaseError {
  return new DatabaseError(
    'DB_DRIVER_UNKNOWN',
    `BEAVER_DB_DRIVER is "${name}"; expected one of ${[...new Set([...BUILTIN_DRIVERS, ...registry.keys()])].join(', ')} (or register it with registerDatabaseDriver).`,
    { details: { driver: name } },
  )
}
