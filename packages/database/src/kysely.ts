import type {
  CompiledQuery,
  DatabaseConnection,
  Dialect,
  Driver,
  Kysely,
  KyselyConfig,
  QueryResult,
  TransactionSettings,
} from 'kysely'
import { importPeer } from '@beaver-kit/core'
import { INTERNAL, type Database } from './database.ts'
import type { DriverConnection, DriverResult } from './driver.ts'
import { quoteIdentifier } from './sql.ts'

// Kysely is an optional peer: loaded when this subpath is imported, so a project without it
// gets CORE_PEER_MISSING with the npm install line instead of ERR_MODULE_NOT_FOUND.
const kysely = await importPeer('kysely', () => import('kysely'), 'the @beaver-kit/database/kysely subpath')

class BeaverKyselyConnection implements DatabaseConnection {
  readonly conn: DriverConnection
  readonly #db: Database

  constructor(db: Database, conn: DriverConnection) {
    this.#db = db
    this.conn = conn
  }

  async executeQuery<R>(
    compiled: CompiledQuery,
    options?: { signal?: AbortSignal | undefined },
  ): Promise<QueryResult<R>> {
    const text = compiled.sql
    const result: DriverResult = await this.#db[INTERNAL].run(text, () =>
      this.conn.query(text, compiled.parameters, { signal: options?.signal }),
    )
    const out: { rows: R[]; numAffectedRows?: bigint; insertId?: bigint } = { rows: result.rows as R[] }
    if (result.affectedRows > 0 || result.rows.length === 0) out.numAffectedRows = BigInt(result.affectedRows)
    if (result.insertId !== undefined) out.insertId = BigInt(result.insertId)
    return out
  }

  async *streamQuery<R>(compiled: CompiledQuery, chunkSize = 100): AsyncIterableIterator<QueryResult<R>> {
    try {
      for await (const rows of this.conn.stream(compiled.sql, compiled.parameters, { batchSize: chunkSize }))
        yield { rows: rows as R[] }
    } catch (err) {
      throw this.#db[INTERNAL].wrap(err, compiled.sql)
    }
  }
}

class BeaverKyselyDriver implements Driver {
  readonly #db: Database

  constructor(db: Database) {
    this.#db = db
  }

  async init(): Promise<void> {}

  async acquireConnection(options?: { signal?: AbortSignal | undefined }): Promise<DatabaseConnection> {
    const conn = await this.#db[INTERNAL].acquire({ signal: options?.signal })
    return new BeaverKyselyConnection(this.#db, conn)
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const isolation = settings.isolationLevel
    if (isolation === 'snapshot') throw new TypeError('The snapshot isolation level is SQL Server only')
    await this.#wrap('BEGIN', () =>
      (connection as BeaverKyselyConnection).conn.begin({
        isolation,
        readOnly: settings.accessMode === 'read only',
      }),
    )
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await this.#wrap('COMMIT', () => (connection as BeaverKyselyConnection).conn.commit())
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await this.#wrap('ROLLBACK', () => (connection as BeaverKyselyConnection).conn.rollback())
  }

  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await this.#statement(connection, `SAVEPOINT ${quoteIdentifier(name, this.#db.dialect)}`)
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await this.#statement(connection, `ROLLBACK TO SAVEPOINT ${quoteIdentifier(name, this.#db.dialect)}`)
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await this.#statement(connection, `RELEASE SAVEPOINT ${quoteIdentifier(name, this.#db.dialect)}`)
  }

  async #statement(connection: DatabaseConnection, text: string): Promise<void> {
    await this.#db[INTERNAL].run(text, () => (connection as BeaverKyselyConnection).conn.query(text, [], {}))
  }

  async #wrap(statement: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn()
    } catch (err) {
      throw this.#db[INTERNAL].wrap(err, statement)
    }
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    ;(connection as BeaverKyselyConnection).conn.release()
  }

  /** The pool belongs to the Database: `kysely.destroy()` leaves it open; close the Database instead. */
  async destroy(): Promise<void> {}
}

/**
 * A Kysely dialect that runs on a kit Database: the same pool, the same error codes
 * (`DatabaseError`), the same `beaver:database:query` diagnostics, for any of its drivers.
 * @example new Kysely<DB>({ dialect: beaverDialect(db()) })
 */
export function beaverDialect(db: Database): Dialect {
  const { dialect } = db
  return {
    createDriver: () => new BeaverKyselyDriver(db),
    createAdapter: () =>
      dialect === 'postgres'
        ? new kysely.PostgresAdapter()
        : dialect === 'mysql'
          ? new kysely.MysqlAdapter()
          : new kysely.SqliteAdapter(),
    createQueryCompiler: () =>
      dialect === 'postgres'
        ? new kysely.PostgresQueryCompiler()
        : dialect === 'mysql'
          ? new kysely.MysqlQueryCompiler()
          : new kysely.SqliteQueryCompiler(),
    createIntrospector: (k) =>
      dialect === 'postgres'
        ? new kysely.PostgresIntrospector(k)
        : dialect === 'mysql'
          ? new kysely.MysqlIntrospector(k)
          : new kysely.SqliteIntrospector(k),
  }
}

/**
 * A typed Kysely query builder on `db`'s pool and dialect (Kysely is an optional peer:
 * `npm install kysely`). Closing the Database closes what Kysely uses.
 * @example
 * interface DB { links: { slug: string; url: string } }
 * const k = createKysely<DB>(db())
 * const link = await k.selectFrom('links').selectAll().where('slug', '=', slug).executeTakeFirst()
 */
export function createKysely<DB>(db: Database, config: Omit<KyselyConfig, 'dialect'> = {}): Kysely<DB> {
  return new kysely.Kysely<DB>({ ...config, dialect: beaverDialect(db) })
}
