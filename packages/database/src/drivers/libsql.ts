import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import type { Client, InArgs, InValue, ResultSet, Transaction } from '@libsql/client'
import type * as libsqlNs from '@libsql/client'
import { importPeer, throwIfAborted } from '@beaver-kit/core'
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
import { classifySqliteCode, sqliteValue } from './sqlite-errors.ts'

type LibsqlModule = typeof libsqlNs

function args(values: readonly unknown[]): InArgs {
  return values.map((v) => sqliteValue(v) as InValue)
}

function toResult(rs: ResultSet): DriverResult {
  const { columns } = rs
  if (columns.length === 0) {
    return {
      rows: [],
      rowCount: rs.rowsAffected,
      affectedRows: rs.rowsAffected,
      insertId: rs.lastInsertRowid === undefined ? undefined : int64(rs.lastInsertRowid),
    }
  }
  const rows: Row[] = new Array<Row>(rs.rows.length)
  for (let i = 0; i < rs.rows.length; i++) {
    const src = rs.rows[i] as unknown as Record<string, unknown>
    const row: Row = {}
    for (const c of columns) {
      const v = src[c]
      row[c] = typeof v === 'bigint' ? int64(v) : v instanceof ArrayBuffer ? Buffer.from(v) : v
    }
    rows[i] = row
  }
  return { rows, rowCount: rows.length, affectedRows: rs.rowsAffected }
}

type Target = Pick<Client, 'execute' | 'executeMultiple'>

class LibsqlConnection implements DriverConnection {
  readonly #client: Client
  readonly #unlock: () => void
  #tx: Transaction | undefined
  #released = false
  #readOnly = false

  readonly #discard: () => void

  constructor(client: Client, unlock: () => void, discard: () => void) {
    this.#client = client
    this.#unlock = unlock
    this.#discard = discard
  }

  get #target(): Target {
    return this.#tx ?? this.#client
  }

  async query(text: string, values: readonly unknown[], options: DriverCallOptions): Promise<DriverResult> {
    throwIfAborted(options.signal)
    return toResult(await this.#target.execute({ sql: text, args: args(values) }))
  }

  async exec(script: string, options: DriverCallOptions): Promise<void> {
    throwIfAborted(options.signal)
    await this.#target.executeMultiple(script)
  }

  async *stream(
    text: string,
    values: readonly unknown[],
    options: DriverCallOptions & { batchSize: number },
  ): AsyncIterable<Row[]> {
    // libSQL has no cursor API: the result is read whole, then handed out in batches.
    const { rows } = await this.query(text, values, options)
    for (let i = 0; i < rows.length; i += options.batchSize) {
      throwIfAborted(options.signal)
      yield rows.slice(i, i + options.batchSize)
    }
  }

  async begin(options: BeginOptions): Promise<void> {
    // libSQL's local "read" mode does not refuse writes: query_only does, as on the sqlite driver.
    try {
      this.#tx = await this.#client.transaction(options.readOnly ? 'deferred' : 'write')
    } catch (err) {
      // A BEGIN that failed with BUSY stays "in progress" on libSQL's connection and makes every
      // later COMMIT on it fail: drop that connection (the client is reopened on next use).
      this.#discard()
      throw err
    }
    if (options.readOnly) {
      this.#readOnly = true
      await this.#tx.execute('PRAGMA query_only = ON')
    }
  }

  async #end(how: 'commit' | 'rollback'): Promise<void> {
    const tx = this.#tx
    this.#tx = undefined
    try {
      await tx?.[how]()
    } catch (err) {
      this.#discard()
      throw err
    } finally {
      await this.#resetReadOnly()
    }
  }

  async #resetReadOnly(): Promise<void> {
    if (!this.#readOnly) return
    this.#readOnly = false
    await this.#client.execute('PRAGMA query_only = OFF')
  }

  commit(): Promise<void> {
    return this.#end('commit')
  }

  rollback(): Promise<void> {
    return this.#end('rollback')
  }

  release(): void {
    if (this.#released) return
    this.#released = true
    if (this.#tx) {
      this.#tx.close()
      this.#tx = undefined
    }
    if (this.#readOnly) {
      // Unlock only once the connection is writable again.
      this.#resetReadOnly().then(this.#unlock, this.#unlock)
      return
    }
    this.#unlock()
  }
}

class LibsqlPool implements DatabaseDriver {
  readonly #libsql: LibsqlModule
  readonly #settings: ConnectionSettings
  readonly #mutex = new Mutex()
  #client: Client | undefined
  #wal: Promise<void> | undefined

  constructor(libsql: LibsqlModule, settings: ConnectionSettings) {
    this.#libsql = libsql
    this.#settings = settings
  }

  get #db(): Client {
    if (this.#client) return this.#client
    const remote = this.#settings.params.url
    const file = this.#settings.file ?? ':memory:'
    if (!remote && file !== ':memory:') mkdirSync(dirname(file), { recursive: true })
    const client = this.#libsql.createClient({
      url: remote ?? (file === ':memory:' ? ':memory:' : `file:${file}`),
      intMode: 'bigint',
      concurrency: 1,
      timeout: this.#settings.busyTimeoutMs,
      ...(remote && this.#settings.password ? { authToken: this.#settings.password } : {}),
    })
    this.#client = client
    return client
  }

  get native(): Client {
    return this.#db
  }

  query(text: string, values: readonly unknown[], options: DriverCallOptions): Promise<DriverResult> {
    return queryOnOwnConnection(this, text, values, options)
  }

  async acquire(options: DriverCallOptions): Promise<DriverConnection> {
    // One logical connection: SQLite allows one writer, and a waiting writer would block the event loop.
    const unlock = await acquireWithin(
      this.#mutex.lock(),
      { signal: options.signal, timeoutMs: this.#settings.pool.acquireTimeoutMs },
      (u) => u(),
    )
    try {
      // WAL, as on the sqlite driver: readers in other processes never block our commit (and
      // the reverse), so lock contention is only writer against writer.
      if (this.#wal === undefined && !this.#settings.params.url && (this.#settings.file ?? ':memory:') !== ':memory:') {
        this.#wal = this.#db.execute('PRAGMA journal_mode = WAL').then(() => undefined)
      }
      await this.#wal
      return new LibsqlConnection(this.#db, unlock, () => this.#discard())
    } catch (err) {
      unlock()
      throw err
    }
  }

  /** Closes the client so the next use opens a fresh connection. Only called while holding the lock. */
  #discard(): void {
    const client = this.#client
    this.#client = undefined
    this.#wal = undefined
    client?.close()
  }

  classify(err: unknown): ErrorClass | undefined {
    const e = err as { rawCode?: unknown; code?: unknown; message?: unknown } | null
    if (typeof e?.rawCode === 'number') return classifySqliteCode(e.rawCode, String(e.message))
    if (e?.code === 'CLIENT_CLOSED') return { code: 'DB_CONNECTION', driverCode: 'CLIENT_CLOSED' }
    if (typeof e?.code === 'string' && e.code.startsWith('SQLITE_')) return { code: 'DB_QUERY', driverCode: e.code }
    return undefined
  }

  stats(): PoolStats {
    const open = this.#client ? 1 : 0
    return { total: open, idle: this.#mutex.free ? open : 0, waiting: this.#mutex.waiting, max: 1 }
  }

  async close(): Promise<void> {
    this.#client?.close()
    this.#client = undefined
    this.#wal = undefined
  }
}

/**
 * libSQL (Turso's SQLite fork) through `@libsql/client`: local files (`file:`), and remote
 * `libsql://` URLs with the password as auth token (untested here).
 * @example const db = createDatabase({ url: 'libsql:./data/app.db' })
 */
export const libsqlDriver = defineDatabaseDriver({
  name: 'libsql',
  dialect: 'sqlite',
  peers: ['@libsql/client'],
  async create(settings) {
    const mod = await importPeer('@libsql/client', () => import('@libsql/client'), 'the libsql database driver')
    return new LibsqlPool(mod, settings)
  },
})
