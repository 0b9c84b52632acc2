import { defineDriverRegistry, type DriverSource } from '@beaver-kit/core'
import { checkDefinition, type DatabaseDriverDefinition } from './driver.ts'
import { DatabaseError } from './errors.ts'
import type { Dialect } from './sql.ts'

// Built-ins load lazily, so `pg` is imported only when PostgreSQL is chosen. Their dialects are
// known without loading them; a registered definition carries its own.
const drivers = defineDriverRegistry<DatabaseDriverDefinition>({
  kind: 'database',
  setting: 'BEAVER_DB_DRIVER',
  registerName: 'registerDatabaseDriver',
  builtins: {
    postgres: () => import('./drivers/postgres.ts').then((m) => m.postgresDriver),
    mysql: () => import('./drivers/mysql.ts').then((m) => m.mysqlDriver),
    sqlite: () => import('./drivers/sqlite.ts').then((m) => m.sqliteDriver),
    libsql: () => import('./drivers/libsql.ts').then((m) => m.libsqlDriver),
  },
  error: (code, message, details) => new DatabaseError(`DB_${code}`, message, { details }),
})

const BUILTIN_DIALECTS: Readonly<Record<string, Dialect>> = {
  postgres: 'postgres',
  mysql: 'mysql',
  sqlite: 'sqlite',
  libsql: 'sqlite',
}

/** Names registered by users: they take precedence over a built-in of the same name. */
const registered = new Set<string>()

/**
 * Adds a driver that `BEAVER_DB_DRIVER=<name>` (or `createDatabase({ driver: '<name>' })`) can
 * pick: a definition, or a function that imports one so its peers load only when chosen. The
 * definition's `dialect` decides the placeholders `sql` statements compile to.
 * @example registerDatabaseDriver('duck', defineDatabaseDriver({ name: 'duck', dialect: 'postgres', peers: [], create }))
 */
export function registerDatabaseDriver(name: string, definition: DriverSource<DatabaseDriverDefinition>): void {
  if (typeof definition !== 'function') checkDefinition(definition, name)
  drivers.register(name, definition)
  registered.add(name)
}

/** Whether a driver name can be chosen (built in or registered). */
export function hasDatabaseDriver(name: string): boolean {
  return drivers.has(name)
}

/**
 * The dialect of a driver chosen by name, when it is known without importing anything: a
 * built-in, or a definition registered as an object. Undefined for a registered loader until
 * it has loaded.
 */
export function knownDialect(name: string): Dialect | undefined {
  const definition = drivers.peek(name)
  if (definition) return definition.dialect
  return registered.has(name) ? undefined : BUILTIN_DIALECTS[name]
}

/** Loads a definition by name (built-ins lazily) and checks it says which dialect it speaks. */
export async function loadDriverDefinition(name: string): Promise<DatabaseDriverDefinition> {
  const definition = await drivers.load(name)
  checkDefinition(definition, name)
  return definition
}

/** The DB_DRIVER_UNKNOWN error for a name, listing every known driver with a "did you mean". */
export function unknownDriver(name: string): Error {
  return drivers.unknown(name)
}
