import type {
  Connection,
  ConnectionOptions,
  ExecuteValues,
  FieldPacket,
  Pool,
  PoolConnection,
  PoolOptions,
  ResultSetHeader,
} from 'mysql2'
import type * as mysqlNs from 'mysql2'
import { importPeer, isNetworkErrorCode } from '@beaver-kit/core'
import {
  defineDatabaseDriver,
  type BeginOptions,
  type ConnectionSettings,
  type DriverCallOptions,
  type DriverConnection,
  type DriverContext,
  type DatabaseDriver,
  type DriverResult,
  type PoolStats,
  type Row,
} from '../driver.ts'
import type { ErrorClass } from '../errors.ts'
import { acquireWithin, cancellable } from '../limits.ts'
import { splitStatements } from './script.ts'

type MysqlModule = typeof mysqlNs

const LONGLONG = 8

const ERRNO: Record<number, ErrorClass['code']> = {
  1062: 'DB_UNIQUE_VIOLATION',
  1586: 'DB_UNIQUE_VIOLATION',
  1451: 'DB_FOREIGN_KEY',
  1452: 'DB_FOREIGN_KEY',
  1216: 'DB_FOREIGN_KEY',
  1217: 'DB_FOREIGN_KEY',
  1048: 'DB_NOT_NULL',
  1364: 'DB_NOT_NULL',
  3819: 'DB_CHECK',
  4025: 'DB_CHECK',
  1213: 'DB_DEADLOCK',
  1205: 'DB_TIMEOUT',
  1317: 'DB_TIMEOUT',
  3024: 'DB_TIMEOUT',
  1969: 'DB_TIMEOUT',
  1045: 'DB_AUTH',
  1044: 'DB_AUTH',
  1698: 'DB_AUTH',
  2002: 'DB_CONNECTION',
  2003: 'DB_CONNECTION',
  2006: 'DB_CONNECTION',
  2013: 'DB_CONNECTION',
  1040: 'DB_CONNECTION',
  1927: 'DB_CONNECTION',
}

// mysql2's own codes for a lost connection, beyond the network codes core knows.
const CONNECTION_CODES = new Set(['PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'POOL_CLOSED'])

function isConnectionFailure(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false
  const e = err as { code?: unknown; fatal?: unknown; errno?: unknown; message?: unknown }
  if (isNetworkErrorCode(e.code) || (typeof e.code === 'string' && CONNECTION_CODES.has(e.code))) return true
  if (typeof e.errno === 'number' && ERRNO[e.errno] === 'DB_CONNECTION') return true
  return e.fatal === true && typeof e.errno !== 'number'
}

function neverSent(err: unknown): boolean {
  const e = err as { message?: unknown; syscall?: unknown } | null
  // A failed socket write delivered nothing (the server reset the idle connection); "closed
  // state" is mysql2 refusing a connection it already knows is dead.
  return e?.syscall === 'write' || (typeof e?.message === 'string' && /in closed state/.test(e.message))
}

function quoted(message: string, after: RegExp): string | undefined {
  const m = after.exec(message)
  return m?.[1]
}

/** Maps a mysql2 error (errno, socket error) to the kit taxonomy; undefined for non-database errors. */
export function classifyMysql(err: unknown): ErrorClass | undefined {
  if (typeof err !== 'object' || err === null) return undefined
  const e = err as { errno?: unknown; code?: unknown; sqlMessage?: unknown; message?: unknown }
  const message = typeof e.sqlMessage === 'string' ? e.sqlMessage : typeof e.message === 'string' ? e.message : ''
  if (typeof e.errno === 'number' && ERRNO[e.errno]) {
    const code = ERRNO[e.errno] as ErrorClass['code']
    const cls: ErrorClass = { code, driverCode: e.errno }
    if (code === 'DB_UNIQUE_VIOLATION')
      cls.constraint = quoted(message, /for key '([^']+)'/)
        ?.split('.')
        .pop()
    if (code === 'DB_FOREIGN_KEY') cls.constraint = quoted(message, /CONSTRAINT [`"]([^`"]+)[`"]/)
    if (code === 'DB_CHECK') cls.constraint = quoted(message, /(?:CONSTRAINT|constraint) [`'"]([^`'"]+)[`'"]/)
    if (code === 'DB_NOT_NULL') cls.column = quoted(message, /(?:Column|Field) '([^']+)'/)
    if (e.errno === 1205) cls.retryable = true
    return cls
  }
  if (isConnectionFailure(err)) {
    return {
      code: e.code === 'PROTOCOL_SEQUENCE_TIMEOUT' ? 'DB_TIMEOUT' : 'DB_CONNECTION',
      driverCode: typeof e.code === 'string' ? e.code : undefined,
    }
  }
  if (typeof e.errno === 'number' && typeof e.code === 'string' && e.code.startsWith('ER_'))
    return { code: 'DB_QUERY', driverCode: e.errno }
  return undefined
}

/** A value as mysql2 binds it: bytes as BLOB (a Buffer), objects and arrays as JSON text, undefined as NULL. */
function mysqlValue(value: unknown): ExecuteValues {
  if (value === undefined) return null
  if (typeof value !== 'object' || value === null || value instanceof Date || Buffer.isBuffer(value))
    return value as ExecuteValues
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  return JSON.stringify(value)
}

function toResult(result: unknown, fields: FieldPacket[] | undefined): DriverResult {
  if (Array.isArray(result)) {
    const rows = result as Row[]
    if (fields && rows.length > 0) {
      // BIGINT beyond 2^53 arrives as text (supportBigNumbers): make it a bigint, losslessly.
      for (const f of fields) {
        if ((f as FieldPacket & { columnType?: number }).columnType !== LONGLONG) continue
        for (const row of rows) {
          const v = row[f.name]
          if (typeof v === 'string') row[f.name] = BigInt(v)
        }
      }
    }
    return { rows, rowCount: rows.length, affectedRows: 0 }
  }
  const header = result as ResultSetHeader
  const insertId = header.insertId ? header.insertId : undefined
  return { rows: [], rowCount: header.affectedRows, affectedRows: header.affectedRows, insertId }
}

/**
 * Prepared statements each connection keeps (mysql2 closes the least recently used one beyond
 * this). The server caps them for all clients together (max_prepared_stmt_count, 16382 by
 * default): 256 per connection leaves room for several pools of 10.
 */
export const STATEMENT_CACHE = 256

/**
 * Runs one statement. With parameters it is a server-side prepared statement (mysql2's
 * `execute`): the values travel in the binary protocol and are never SQL text, whatever the
 * session's sql_mode (NO_BACKSLASH_ESCAPES, ANSI_QUOTES) and wherever a `?` sits in a literal or
 * comment. Without parameters there is nothing to bind: the text protocol runs it as written.
 */
function run(conn: Connection, text: string, values: readonly unknown[]): Promise<DriverResult> {
  return new Promise((resolve, reject) => {
    const done = (err: unknown, result: unknown, fields: FieldPacket[] | undefined): void => {
      if (err) reject(err)
      else resolve(toResult(result, fields))
    }
    if (values.length === 0) conn.query(text, done)
    else conn.execute(text, values.map(mysqlValue), done)
  })
}

class MysqlConnection implements DriverConnection {
  readonly #conn: PoolConnection
  readonly #pool: MysqlPool
  #released = false
  #broken = false
  #inTransaction = false

  constructor(conn: PoolConnection, pool: MysqlPool) {
    this.#conn = conn
    this.#pool = pool
  }

  query(text: string, values: readonly unknown[], options: DriverCallOptions): Promise<DriverResult> {
    const conn = this.#conn
    return cancellable(
      () =>
        run(conn, text, values).catch((err: unknown) => {
          if (isConnectionFailure(err)) this.#broken = true
          throw err
        }),
      options,
      {
        cancel: () => this.#pool.killQuery(conn.threadId),
        destroy: () => {
          this.#broken = true
          this.release(true)
        },
      },
    )
  }

  async exec(script: string, options: DriverCallOptions): Promise<void> {
    for (const statement of splitStatements(script)) await this.query(statement, [], options)
  }

  async *stream(
    text: string,
    values: readonly unknown[],
    options: DriverCallOptions & { batchSize: number },
  ): AsyncIterable<Row[]> {
    // mysql2's row stream, read with backpressure: the server sends rows as we consume them.
    const command = values.length === 0 ? this.#conn.query(text) : this.#conn.execute(text, values.map(mysqlValue))
    const stream = command.stream({ objectMode: true, highWaterMark: options.batchSize })
    let batch: Row[] = []
    try {
      for await (const row of stream) {
        if (options.signal?.aborted) throw options.signal.reason
        batch.push(row as Row)
        if (batch.length >= options.batchSize) {
          yield batch
          batch = []
        }
      }
      if (batch.length > 0) yield batch
    } finally {
      if (!stream.readableEnded) {
        // Stopped early: the rest of the result is still on the wire, so this connection cannot be reused.
        this.#broken = true
        stream.destroy()
      }
    }
  }

  async begin(options: BeginOptions): Promise<void> {
    if (options.isolation)
      await this.query(`SET TRANSACTION ISOLATION LEVEL ${options.isolation.toUpperCase()}`, [], {})
    await this.query(options.readOnly ? 'START TRANSACTION READ ONLY' : 'START TRANSACTION', [], {})
    this.#inTransaction = true
  }

  async commit(): Promise<void> {
    this.#inTransaction = false
    await this.query('COMMIT', [], {})
  }

  async rollback(): Promise<void> {
    this.#inTransaction = false
    await this.query('ROLLBACK', [], {})
  }

  release(broken = false): void {
    if (this.#released) return
    this.#released = true
    this.#pool.giveBack(this.#conn, broken || this.#broken || this.#inTransaction)
  }
}

class MysqlPool implements DatabaseDriver {
  readonly #mysql: MysqlModule
  readonly #pool: Pool
  readonly #options: PoolOptions
  readonly #acquireTimeoutMs: number
  readonly #maxLifetimeMs: number
  readonly #born = new WeakMap<PoolConnection, number>()
  #closed = false

  constructor(mysql: MysqlModule, settings: ConnectionSettings, context: DriverContext) {
    this.#mysql = mysql
    this.#options = {
      host: settings.host,
      port: settings.port,
      user: settings.user,
      password: settings.password,
      database: settings.database,
      connectionLimit: settings.pool.max,
      maxIdle: settings.pool.max,
      idleTimeout: settings.pool.idleTimeoutMs,
      connectTimeout: settings.pool.connectTimeoutMs,
      waitForConnections: true,
      enableKeepAlive: true,
      keepAliveInitialDelay: 10_000,
      supportBigNumbers: true,
      bigNumberStrings: false,
      timezone: 'Z',
      charset: 'utf8mb4',
      multipleStatements: false,
      maxPreparedStatements: STATEMENT_CACHE,
      ...(settings.ssl === 'disable' ? {} : { ssl: { rejectUnauthorized: settings.ssl === 'verify-full' } }),
    }
    this.#acquireTimeoutMs = settings.pool.acquireTimeoutMs
    this.#maxLifetimeMs = settings.pool.maxLifetimeMs
    this.#pool = mysql.createPool(this.#options)
    this.#pool.on('connection', (conn) => {
      this.#born.set(conn, Date.now())
      // mysql2 listens only once for 'error'; a second error on an idle connection would be unhandled.
      conn.on('error', (err) => context.onIdleError(err))
    })
  }

  get native(): Pool {
    return this.#pool
  }

  #getConnection(options: DriverCallOptions): Promise<PoolConnection> {
    const pending = new Promise<PoolConnection>((resolve, reject) => {
      this.#pool.getConnection((err, conn) => (err ? reject(err) : resolve(conn)))
    })
    // An idle connection is handed over at once: no need to arm the acquire timer.
    const free = (this.#pool as unknown as { _freeConnections?: { length: number } })._freeConnections
    if (options.signal === undefined && free !== undefined && free.length > 0) return pending
    return acquireWithin(pending, { signal: options.signal, timeoutMs: this.#acquireTimeoutMs }, (c) =>
      this.giveBack(c, false),
    )
  }

  giveBack(conn: PoolConnection, broken: boolean): void {
    const born = this.#born.get(conn)
    if (broken || (this.#maxLifetimeMs > 0 && born !== undefined && Date.now() - born > this.#maxLifetimeMs))
      conn.destroy()
    else conn.release()
  }

  async acquire(options: DriverCallOptions): Promise<DriverConnection> {
    return new MysqlConnection(await this.#getConnection(options), this)
  }

  async query(text: string, values: readonly unknown[], options: DriverCallOptions): Promise<DriverResult> {
    for (let attempt = 1; ; attempt++) {
      const conn = await this.#getConnection(options)
      let broken = false
      try {
        if (!options.signal && !options.timeoutMs) return await run(conn, text, values)
        return await cancellable(() => run(conn, text, values), options, {
          cancel: () => this.killQuery(conn.threadId),
          destroy: () => (broken = true),
        })
      } catch (err) {
        if (isConnectionFailure(err)) {
          broken = true
          // The pooled connection was already dead and never took the statement: use a fresh one.
          if (attempt <= (this.#options.connectionLimit ?? 10) + 1 && neverSent(err)) continue
        }
        throw err
      } finally {
        this.giveBack(conn, broken)
      }
    }
  }

  /** Stops the statement running on `threadId` from a short-lived separate connection. */
  async killQuery(threadId: number | null): Promise<void> {
    if (threadId === null) throw new Error('the connection has no thread id')
    const killer = this.#mysql.createConnection(this.#options as ConnectionOptions)
    killer.on('error', () => undefined)
    try {
      await run(killer, `KILL QUERY ${Number(threadId)}`, [])
    } finally {
      killer.destroy()
    }
  }

  classify(err: unknown): ErrorClass | undefined {
    return classifyMysql(err)
  }

  stats(): PoolStats {
    // mysql2 keeps its counts in internal queues; read them defensively.
    const inner = this.#pool as unknown as {
      _allConnections?: { length: number }
      _freeConnections?: { length: number }
      _connectionQueue?: { length: number }
    }
    return {
      total: inner._allConnections?.length ?? 0,
      idle: inner._freeConnections?.length ?? 0,
      waiting: inner._connectionQueue?.length ?? 0,
      max: this.#options.connectionLimit ?? 10,
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await new Promise<void>((resolve, reject) => this.#pool.end((err) => (err ? reject(err) : resolve())))
  }
}

/**
 * MySQL and MariaDB through mysql2's pool: KILL QUERY for timeouts and aborts, connections
 * retired after their max lifetime, dead idle connections never reused, BIGINT lossless.
 * @example const db = createDatabase({ url: 'mysql://app@localhost/app' })
 */
export const mysqlDriver = defineDatabaseDriver({
  name: 'mysql',
  dialect: 'mysql',
  peers: ['mysql2'],
  async create(settings, context) {
    const mod = await importPeer('mysql2', () => import('mysql2'), 'the mysql database driver')
    const mysql = ((mod as unknown as { default?: MysqlModule }).default ?? mod) as MysqlModule
    return new MysqlPool(mysql, settings, context)
  },
})
