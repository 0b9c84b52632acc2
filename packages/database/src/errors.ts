import { BeaverError, errorGuard, type BeaverErrorOptions } from '@beaver-kit/core'
import { scrubDriverError, scrubText } from './scrub.ts'

/** Every code a `DatabaseError` can carry; the same codes whatever the driver. */
export type DatabaseErrorCode =
  | 'DB_UNIQUE_VIOLATION'
  | 'DB_FOREIGN_KEY'
  | 'DB_NOT_NULL'
  | 'DB_CHECK'
  | 'DB_SERIALIZATION'
  | 'DB_DEADLOCK'
  | 'DB_TIMEOUT'
  | 'DB_CONNECTION'
  | 'DB_AUTH'
  | 'DB_QUERY'
  | 'DB_NOT_FOUND'
  | 'DB_TOO_MANY_ROWS'
  | 'DB_CLOSED'
  | 'DB_CONFIG'
  | 'DB_DRIVER_UNKNOWN'
  | 'DB_DRIVER_NAME_INVALID'
  | 'DB_NOT_READY'
  | 'DB_UNSUPPORTED'
  | 'DB_MIGRATION'
  | 'DB_MIGRATION_CHECKSUM'
  | 'DB_MIGRATION_LOCK'

/** Options of `new DatabaseError()`: what failed, and the driver's own code. */
export interface DatabaseErrorOptions extends BeaverErrorOptions {
  /** The constraint that failed (unique, foreign key, check), when the server names it. */
  constraint?: string | undefined
  /** The column (not null), when the server names it. */
  column?: string | undefined
  /** The driver's own code: SQLSTATE, MySQL errno, SQLite extended code. */
  driverCode?: string | number | undefined
  /** Whether running the same work again may succeed (deadlock, serialization, lock wait). */
  retryable?: boolean
}

/**
 * The one error class of the database package. `code` is the same for every driver, the
 * driver's error is kept as `cause`, and `constraint`/`column` say what failed.
 * @example
 * try { await db.execute(sql`insert into users (email) values (${email})`) }
 * catch (err) { if (isDatabaseError(err, 'DB_UNIQUE_VIOLATION')) return conflict(err.constraint) }
 */
export class DatabaseError extends BeaverError<DatabaseErrorCode> {
  readonly constraint: string | undefined
  readonly column: string | undefined
  readonly driverCode: string | number | undefined
  readonly retryable: boolean

  constructor(code: DatabaseErrorCode, message: string, options: DatabaseErrorOptions = {}) {
    const details: Record<string, unknown> = { ...options.details }
    if (options.constraint !== undefined) details.constraint = options.constraint
    if (options.column !== undefined) details.column = options.column
    if (options.driverCode !== undefined) details.driverCode = options.driverCode
    super(code, message, { cause: options.cause, details })
    this.constraint = options.constraint
    this.column = options.column
    this.driverCode = options.driverCode
    this.retryable = options.retryable ?? (code === 'DB_SERIALIZATION' || code === 'DB_DEADLOCK')
  }
}

/**
 * True for a `DatabaseError` (by brand, so it works across duplicated installs), optionally
 * with one of the given codes.
 */
export const isDatabaseError = errorGuard<DatabaseErrorCode, DatabaseError>('DB_')

/** What a driver's classifier says about one of its errors. */
export interface ErrorClass {
  code: DatabaseErrorCode
  constraint?: string | undefined
  column?: string | undefined
  driverCode?: string | number | undefined
  retryable?: boolean
}

const WHAT: Record<DatabaseErrorCode, string> = {
  DB_UNIQUE_VIOLATION: 'A unique constraint was violated',
  DB_FOREIGN_KEY: 'A foreign key constraint was violated',
  DB_NOT_NULL: 'A NOT NULL column got no value',
  DB_CHECK: 'A CHECK constraint failed',
  DB_SERIALIZATION: 'The transaction could not be serialized with concurrent ones',
  DB_DEADLOCK: 'The transaction was chosen as a deadlock victim',
  DB_TIMEOUT: 'The operation timed out',
  DB_CONNECTION: 'The connection to the database failed',
  DB_AUTH: 'The database refused the credentials',
  DB_QUERY: 'The database rejected the statement',
  DB_NOT_FOUND: 'No row matched',
  DB_TOO_MANY_ROWS: 'More than one row matched',
  DB_CLOSED: 'The database handle is closed',
  DB_CONFIG: 'The database configuration is invalid',
  DB_DRIVER_UNKNOWN: 'Unknown database driver',
  DB_DRIVER_NAME_INVALID: 'A database driver name is not valid',
  DB_NOT_READY: 'The database driver has not loaded yet',
  DB_UNSUPPORTED: 'Not supported by this driver',
  DB_MIGRATION: 'A migration failed',
  DB_MIGRATION_CHECKSUM: 'An applied migration was edited',
  DB_MIGRATION_LOCK: 'The migration lock could not be taken',
}

const HINT: Partial<Record<DatabaseErrorCode, string>> = {
  DB_CONNECTION: 'Check that the server is running and reachable; the pool opens a fresh connection on the next call.',
  DB_AUTH: 'Check BEAVER_DB_USER / BEAVER_DB_PASSWORD or the credentials in BEAVER_DB_URL.',
  DB_SERIALIZATION:
    'Run the transaction again: db.transaction(fn, { retries: 3 }) does, when fn has no side effects outside the database.',
  DB_DEADLOCK:
    'Run the transaction again: db.transaction(fn, { retries: 3 }) does, when fn has no side effects outside the database.',
}

/**
 * Wraps a driver error into a `DatabaseError` with the class the driver found. Values the
 * server echoed are scrubbed first, from the driver error too, so neither the message, the
 * details nor the cause carries a bound value.
 */
export function wrapDriverError(err: unknown, cls: ErrorClass, statement: string | undefined): DatabaseError {
  const names = [cls.constraint, cls.column]
  scrubDriverError(err, statement, names)
  const detail = err instanceof Error ? err.message : scrubText(String(err), statement, names)
  const where = cls.constraint ? ` (constraint ${cls.constraint})` : cls.column ? ` (column ${cls.column})` : ''
  const hint = HINT[cls.code] ? ` ${HINT[cls.code]}` : ''
  return new DatabaseError(cls.code, `${WHAT[cls.code]}${where}: ${detail}.${hint}`, {
    cause: err,
    constraint: cls.constraint,
    column: cls.column,
    driverCode: cls.driverCode,
    retryable: cls.retryable,
    details:
      statement === undefined ? {} : { statement: statement.length > 500 ? `${statement.slice(0, 500)}…` : statement },
  })
}

/** db.dialect read before a driver registered as a loader has loaded. */
export function dialectNotLoaded(driver: string): DatabaseError {
  return new DatabaseError(
    'DB_NOT_READY',
    `The dialect of database driver "${driver}" is known once its definition loads (it was registered as a loader): await db.ready() before reading db.dialect, or register the definition object.`,
    { details: { driver } },
  )
}
