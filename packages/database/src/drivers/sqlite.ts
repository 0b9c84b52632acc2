import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import type { DatabaseSync, StatementSync, SQLInputValue } from 'node:sqlite'
import { throwIfAborted } from '@beaver-kit/core'
import {
  defineDatabaseDriver,
  queryOnOwnConnection,
  type BeginOptions,
  type ConnectionSettings,
  type DriverCallOptions,
  type DriverConnection,
  type DatabaseDriver,
  type DriverResult,
  type PoolStats,
  type Row,
} from '../driver.ts'
import type { ErrorClass } from '../errors.ts'
import { acquireWithin, int64 } from '../limits.ts'
import { Mutex } from '../mutex.ts'
import { classifySqliteCode, isPlainRead, sqliteValue } from './sqlite-errors.ts'

interface Prepared {
  stmt: StatementSync
  returnsRows: boolean
  /** A statement that writes and returns rows (RETURNING) reads integers as bigint up front, since it cannot be re-run. */
  bigints: boolean
}

const STATEMENT_CACHE = 256

function params(values: readonly unknown[]): SQLInputValue[] {
  let plain = true
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (v === undefined || typeof v === 'boolean' || (typeof v === 'object' && v !== null && !ArrayBuffer.isView(v))) {
      plain = false
      break
    }
  }
  // Numbers, strings, bigints, null and bytes bind as they are: no copy on the hot path.
  if (plain) return values as SQLInputValue[]
  const out = new Array<SQLInputValue>(values.length)
  for (let i = 0; i < values.length; i++) out[i] = sqliteValue(values[i]) as SQLInputValue
  return out
}

// Spreading arguments into a native call costs more than the call itself on a point query.
function all(stmt: StatementSync, a: SQLInputValue[]): Row[] {
  switch (a.length) {
    case 0:
      return stmt.all() as Row[]
    case 1:
      return stmt.all(a[0] as SQLInputValue) as Row[]
    case 2:
      return stmt.all(a[0] as SQLInputValue, a[1] as SQLInputValue) as Row[]
    default:
      return stmt.all(...a) as Row[]
  }
}

function runStatement(stmt: StatementSync, a: SQLInputValue[]): ReturnType<StatementSync['run']> {
  switch (a.length) {
    case 0:
      return stmt.run()
    case 1:
      return stmt.run(a[0] as SQLInputValue)
    case 2:
      return stmt.run(a[0] as SQLInputValue, a[1] as SQLInputValue)
    default:
      return stmt.run(...a)
  }
}

function narrowInts(rows: Row[]): Row[] {
  for (const row of rows) for (const key in row) if (typeof row[key] === 'bigint') row[key] = int64(row[key])
  return rows
}

/**
 * One node:sqlite connection. SQLite serialises writers anyway, so one connection with a
 * queue is the pool: plain statements run at once when no transaction holds it.
 */
class SqliteEngine {
  readonly #file: string
  readonly #busyTimeoutMs: number
  #db: DatabaseSync | undefined
  #DatabaseSync: typeof DatabaseSync
  readonly #cache = new Map<string, Prepared>()

  constructor(ctor: typeof DatabaseSync, file: string, busyTimeoutMs: number) {
    this.#DatabaseSync = ctor
    this.#file = file
    this.#busyTimeoutMs = busyTimeoutMs
  }

  get db(): DatabaseSync {
    if (this.#db) return this.#db
    if (this.#file !== ':memory:') mkdirSync(dirname(this.#file), { recursive: true })
    const db = new this.#DatabaseSync(this.#file, { timeout: this.#busyTimeoutMs, enableForeignKeyConstraints: true })
    if (this.#file !== ':memory:') db.exec('PRAGMA journal_mode = WAL')
    this.#db = db
    return db
  }

  get open(): boolean {
    return this.#db !== undefined
  }

  #prepare(text: string): Prepared {
    let p = this.#cache.get(text)
    if (p) return p
    const stmt = this.db.prepare(text)
    const returnsRows = stmt.columns().length > 0
    p = { stmt, returnsRows, bigints: returnsRows && !isPlainRead(text) }
    if (p.bigints) stmt.setReadBigInts(true)
    if (this.#cache.size >= STATEMENT_CACHE) this.#cache.delete(this.#cache.keys().next().value as string)
    this.#cache.set(text, p)
    return p
  }

  run(text: string, values: readonly unknown[]): DriverResult {
    const p = this.#prepare(text)
    const args = params(values)
    if (!p.returnsRows) {
      const r = runStatement(p.stmt, args)
      const changes = Number(r.changes)
      const id = r.lastInsertRowid
      return { rows: [], rowCount: changes, affectedRows: changes, insertId: typeof id === 'number' ? id : int64(id) }
    }
    if (p.bigints) {
      const rows = narrowInts(all(p.stmt, args))
      return { rows, rowCount: rows.length, affectedRows: rows.length }
    }
    let rows: Row[]
    try {
      rows = all(p.stmt, args)
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'ERR_OUT_OF_RANGE') throw err
      // An integer beyond 2^53: read this result again (a plain read, so harmless) as bigints.
      p.stmt.setReadBigInts(true)
      try {
        rows = narrowInts(all(p.stmt, args))
      } finally {
        p.stmt.setReadBigInts(false)
      }
    }
    return { rows, rowCount: rows.length, affectedRows: 0 }
  }

  *iterate(text: string, values: readonly unknown[], batchSize: number): Generator<Row[]> {
    const stmt = this.db.prepare(text)
    stmt.setReadBigInts(true)
    let batch: Row[] = []
    for (const row of stmt.iterate(...params(values))) {
      batch.push(row as Row)
      if (batch.length >= batchSize) {
        yield narrowInts(batch)
        batch = []
      }
    }
    if (batch.length > 0) yield narrowInts(batch)
  }

  exec(script: string): void {
    this.db.exec(script)
  }

  close(): void {
    this.#cache.clear()
    if (this.#db?.isOpen) this.#db.close()
    this.#db = undefined
  }
}

class SqliteConnection implements DriverConnection {
  readonly #engine: SqliteEngine
  readonly #unlock: () => void
  #released = false
  #readOnly = false
  #inTransaction = false

  constructor(engine: SqliteEngine, unlock: () => void) {
    this.#engine = engine
    this.#unlock = unlock
  }

  queryNow(text: string, values: readonly unknown[]): DriverResult {
    return this.#engine.run(text, values)
  }

  query(text: string, values: readonly unknown[], options: DriverCallOptions): Promise<DriverResult> {
    try {
      throwIfAborted(options.signal)
      return Promise.resolve(this.#engine.run(text, values))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  async exec(script: string, options: DriverCallOptions): Promise<void> {
    throwIfAborted(options.signal)
    this.#engine.exec(script)
  }

  async *stream(
    text: string,
    values: readonly unknown[],
    options: DriverCallOptions & { batchSize: number },
  ): AsyncIterable<Row[]> {
    for (const batch of this.#engine.iterate(text, values, options.batchSize)) {
      throwIfAborted(options.signal)
      yield batch
    }
  }

  async begin(options: BeginOptions): Promise<void> {
    // SQLite is serializable whatever level is asked (stronger is a valid implementation of any).
    // Read-only transactions start deferred and forbid writes; others take the write lock up front
    // (IMMEDIATE) so two writers never deadlock upgrading a read lock.
    if (options.readOnly) {
      this.#engine.exec('BEGIN DEFERRED')
      this.#engine.exec('PRAGMA query_only = ON')
      this.#readOnly = true
    } else {
      this.#engine.exec('BEGIN IMMEDIATE')
    }
    this.#inTransaction = true
  }

  #end(statement: string): void {
    this.#inTransaction = false
    try {
      this.#engine.exec(statement)
    } finally {
      if (this.#readOnly) {
        this.#readOnly = false
        this.#engine.exec('PRAGMA query_only = OFF')
      }
    }
  }

  async commit(): Promise<void> {
    this.#end('COMMIT')
  }

  async rollback(): Promise<void> {
    this.#end('ROLLBACK')
  }

  release(): void {
    if (this.#released) return
    this.#released = true
    if (this.#inTransaction) {
      // A transaction left open must not leak into the next user of the one connection.
      try {
        this.#end('ROLLBACK')
      } catch {
        this.#inTransaction = false
      }
    }
    this.#unlock()
  }
}

class SqlitePool implements DatabaseDriver {
  readonly #engine: SqliteEngine
  readonly #mutex = new Mutex()
  readonly #acquireTimeoutMs: number

  constructor(ctor: typeof DatabaseSync, settings: ConnectionSettings) {
    this.#engine = new SqliteEngine(ctor, settings.file ?? ':memory:', settings.busyTimeoutMs)
    this.#acquireTimeoutMs = settings.pool.acquireTimeoutMs
  }

  get native(): DatabaseSync {
    return this.#engine.db
  }

  queryNow(text: string, values: readonly unknown[]): DriverResult | undefined {
    return this.#mutex.free ? this.#engine.run(text, values) : undefined
  }

  query(text: string, values: readonly unknown[], options: DriverCallOptions): Promise<DriverResult> {
    if (this.#mutex.free) {
      // No transaction holds the connection: run now (node:sqlite is synchronous).
      try {
        throwIfAborted(options.signal)
        return Promise.resolve(this.#engine.run(text, values))
      } catch (err) {
        return Promise.reject(err)
      }
    }
    return this.#queued(text, values, options)
  }

  #queued(text: string, values: readonly unknown[], options: DriverCallOptions): Promise<DriverResult> {
    return queryOnOwnConnection(this, text, values, options)
  }

  async acquire(options: DriverCallOptions): Promise<DriverConnection> {
    const unlock = await acquireWithin(
      this.#mutex.lock(),
      { signal: options.signal, timeoutMs: this.#acquireTimeoutMs },
      (u) => u(),
    )
    return new SqliteConnection(this.#engine, unlock)
  }

  classify(err: unknown): ErrorClass | undefined {
    const e = err as { code?: unknown; errcode?: unknown; message?: unknown } | null
    if (e?.code === 'ERR_SQLITE_ERROR' && typeof e.errcode === 'number')
      return classifySqliteCode(e.errcode, String(e.message))
    return undefined
  }

  stats(): PoolStats {
    const open = this.#engine.open ? 1 : 0
    return { total: open, idle: this.#mutex.free ? open : 0, waiting: this.#mutex.waiting, max: 1 }
  }

  async close(): Promise<void> {
    this.#engine.close()
  }
}

/**
 * SQLite through Node's built-in `node:sqlite` (no native addon to install): one connection
 * in WAL mode with a statement cache, foreign keys on, and a queue so a transaction owns it.
 * The zero-config default: `./data/beaver.db`, or `:memory:`.
 * @example const db = createDatabase({ url: 'sqlite::memory:' })
 */
export const sqliteDriver = defineDatabaseDriver({
  name: 'sqlite',
  dialect: 'sqlite',
  peers: [],
  async create(settings) {
    const { DatabaseSync } = await import('node:sqlite')
    return new SqlitePool(DatabaseSync, settings)
  },
})
