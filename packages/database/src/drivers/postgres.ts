import { createHash } from 'node:crypto'
import type { ConnectionOptions } from 'node:tls'
import type { Pool, PoolClient, PoolConfig, QueryResult } from 'pg'
import type * as pgNs from 'pg'
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
import { acquireWithin, cancellable, int64FromText } from '../limits.ts'

type PgModule = typeof pgNs

const INT8_OID = 20

/** SQLSTATE → kit code. */
const SQLSTATE: Record<string, ErrorClass['code']> = {
  '23505': 'DB_UNIQUE_VIOLATION',
  '23503': 'DB_FOREIGN_KEY',
  '23502': 'DB_NOT_NULL',
  '23514': 'DB_CHECK',
  '40001': 'DB_SERIALIZATION',
  '40P01': 'DB_DEADLOCK',
  '57014': 'DB_TIMEOUT',
  '55P03': 'DB_TIMEOUT',
  '28P01': 'DB_AUTH',
  '28000': 'DB_AUTH',
  '57P01': 'DB_CONNECTION',
  '57P02': 'DB_CONNECTION',
  '57P03': 'DB_CONNECTION',
}

/** Errors that say the connection is gone, as opposed to a statement that failed. */
function isConnectionFailure(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false
  const { code, message } = err as { code?: unknown; message?: unknown }
  if (typeof code === 'string' && (isNetworkErrorCode(code) || code.startsWith('08') || code.startsWith('57P')))
    return true
  return (
    typeof message === 'string' &&
    /Connection terminated|not queryable|Client was closed|Connection ended|connection timeout|timeout exceeded when trying to connect|server closed the connection/i.test(
      message,
    )
  )
}

/** Failures that happened before the statement reached the server, so running it again is safe. */
function neverSent(err: unknown): boolean {
  const e = err as { message?: unknown; syscall?: unknown } | null
  // A failed socket write delivered nothing (the server reset the connection while it sat idle);
  // "not queryable" is pg refusing a connection it already knows is dead.
  return e?.syscall === 'write' || (typeof e?.message === 'string' && /not queryable/.test(e.message))
}

/** Maps a pg error (SQLSTATE, socket error) to the kit taxonomy; undefined for non-database errors. */
export function classifyPostgres(err: unknown): ErrorClass | undefined {
  if (typeof err !== 'object' || err === null) return undefined
  const e = err as { code?: unknown; constraint?: unknown; column?: unknown; message?: unknown }
  if (typeof e.code === 'string') {
    const mapped = SQLSTATE[e.code]
    if (mapped) {
      return {
        code: mapped,
        driverCode: e.code,
        constraint: typeof e.constraint === 'string' ? e.constraint : undefined,
        column: typeof e.column === 'string' ? e.column : undefined,
        retryable: e.code === '55P03' ? true : undefined,
      }
    }
  }
  if (isConnectionFailure(err)) {
    const msg = typeof e.message === 'string' ? e.message : ''
    return {
      code: /timeout/i.test(msg) ? 'DB_TIMEOUT' : 'DB_CONNECTION',
      driverCode: typeof e.code === 'string' ? e.code : undefined,
    }
  }
  if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) return { code: 'DB_QUERY', driverCode: e.code }
  return undefined
}

function toResult(res: QueryResult): DriverResult {
  const isSelect =
    res.command === 'SELECT' ||
    (res.fields.length > 0 &&
      res.command !== 'INSERT' &&
      res.command !== 'UPDATE' &&
      res.command !== 'DELETE' &&
      res.command !== 'MERGE')
  const affected = isSelect ? 0 : (res.rowCount ?? 0)
  return { rows: res.rows as Row[], rowCount: isSelect ? res.rows.length : affected, affectedRows: affected }
}

function sslOption(mode: ConnectionSettings['ssl']): PoolConfig['ssl'] {
  switch (mode) {
    case 'disable':
      return false
    case 'verify-full':
      return { rejectUnauthorized: true } satisfies ConnectionOptions
    default:
      // require/prefer: encrypt, as libpq's "require" does, without verifying the certificate.
      return { rejectUnauthorized: false } satisfies ConnectionOptions
  }
}

let cursorSeq = 0

/** Names of the statements kept prepared, by text: the same text always gets the same name. */
const statementNames = new Map<string, string>()

/**
 * The statement as pg sends it: its text, or (`prepare`) a named statement that pg parses once
 * per connection and then only binds and runs. The name comes from the text, so two texts never
 * share one (pg refuses a known name with another text).
 */
function statement(text: string, values: readonly unknown[], options: DriverCallOptions): string | pgNs.QueryConfig {
  if (options.prepare !== true) return text
  let name = statementNames.get(text)
  if (name === undefined) {
    if (statementNames.size >= 1000) statementNames.clear()
    name = `beaver_${createHash('sha256').update(text).digest('base64url').slice(0, 32)}`
    statementNames.set(text, name)
  }
  return { name, text, values: values as unknown[] }
}

class PostgresConnection implements DriverConnection {
  readonly #client: PoolClient
  readonly #pool: PostgresPool
  #released = false
  #broken = false

  constructor(client: PoolClient, pool: PostgresPool) {
    this.#client = client
    this.#pool = pool
  }

  async query(text: string, values: readonly unknown[], options: DriverCallOptions): Promise<DriverResult> {
    return toResult(await this.#run(text, values, options, true))
  }

  /** Runs one statement; `named`: as a prepared statement when the call asks for it (`query()` only). */
  #run(text: string, values: readonly unknown[], options: DriverCallOptions, named = false): Promise<QueryResult> {
    const client = this.#client
    const sent = named ? statement(text, values, options) : text
    return cancellable(
      () => client.query(sent, values as unknown[]).catch((err: unknown) => this.#fail(err)),
      options,
      {
        cancel: () => this.#pool.cancelBackend(client),
        destroy: () => {
          this.#broken = true
          this.release(true)
        },
      },
    )
  }

  #fail(err: unknown): never {
    if (isConnectionFailure(err)) this.#broken = true
    throw err
  }

  async exec(script: string, options: DriverCallOptions): Promise<void> {
    // No parameters: the simple protocol, which runs several statements in one round trip.
    await this.#run(script, [], options)
  }

  async *stream(
    text: string,
    values: readonly unknown[],
    options: DriverCallOptions & { batchSize: number },
  ): AsyncIterable<Row[]> {
    const name = `beaver_cursor_${++cursorSeq}`
    const own = !this.#inTransaction
    if (own) await this.#run('BEGIN', [], options)
    let done = false
    try {
      await this.#run(`DECLARE ${name} NO SCROLL CURSOR FOR ${text}`, values, options)
      for (;;) {
        const res = await this.#run(`FETCH ${options.batchSize} FROM ${name}`, [], options)
        if (res.rows.length === 0) break
        yield res.rows as Row[]
        if (res.rows.length < options.batchSize) break
      }
      await this.#run(`CLOSE ${name}`, [], options)
      done = true
    } finally {
      if (own) await this.#run(done ? 'COMMIT' : 'ROLLBACK', [], {}).catch(() => (this.#broken = true))
    }
  }

  #inTransaction = false

  async begin(options: BeginOptions): Promise<void> {
    let text = 'BEGIN'
    if (options.isolation) text += ` ISOLATION LEVEL ${options.isolation.toUpperCase()}`
    if (options.readOnly) text += ' READ ONLY'
    await this.#run(text, [], {})
    this.#inTransaction = true
  }

  async commit(): Promise<void> {
    this.#inTransaction = false
    await this.#run('COMMIT', [], {})
  }

  async rollback(): Promise<void> {
    this.#inTransaction = false
    await this.#run('ROLLBACK', [], {})
  }

  release(broken = false): void {
    if (this.#released) return
    this.#released = true
    this.#pool.returned(this)
    this.#client.release(broken || this.#broken || this.#inTransaction ? true : undefined)
  }
}

class PostgresPool implements DatabaseDriver {
  readonly #pg: PgModule
  readonly #pool: Pool
  readonly #config: PoolConfig
  readonly #acquireTimeoutMs: number
  /** Dead pooled connections tolerated in a row before giving up (a reset drops them all at once). */
  readonly #maxAttempts: number

  constructor(pg: PgModule, settings: ConnectionSettings, context: DriverContext) {
    this.#pg = pg
    const parseInt8 = (text: string): number | bigint => int64FromText(text)
    const types = {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID && format !== 'binary'
          ? parseInt8
          : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    }
    this.#config = {
      host: settings.host,
      port: settings.port,
      user: settings.user,
      password: settings.password,
      database: settings.database,
      ssl: sslOption(settings.ssl),
      application_name: settings.applicationName,
      max: settings.pool.max,
      idleTimeoutMillis: settings.pool.idleTimeoutMs,
      maxLifetimeSeconds:
        settings.pool.maxLifetimeMs > 0 ? Math.max(1, Math.round(settings.pool.maxLifetimeMs / 1000)) : 0,
      connectionTimeoutMillis: settings.pool.connectTimeoutMs,
      keepAlive: true,
      allowExitOnIdle: true,
      types,
      ...(settings.statementTimeoutMs > 0 ? { statement_timeout: settings.statementTimeoutMs } : {}),
      ...(settings.params.options ? { options: settings.params.options } : {}),
    }
    this.#acquireTimeoutMs = settings.pool.acquireTimeoutMs
    this.#maxAttempts = settings.pool.max + 1
    this.#pool = new pg.Pool(this.#config)
    // pg emits 'error' on the pool when an idle client's socket dies; unhandled, that kills the process.
    this.#pool.on('error', (err) => context.onIdleError(err))
    // A checked-out client whose socket dies emits 'error' too (the pool only listens while it is
    // idle): the statement gets the error, and this listener keeps it from crashing the process.
    this.#pool.on('connect', (client) => client.on('error', (err) => context.onIdleError(err)))
  }

  get native(): Pool {
    return this.#pool
  }

  #connect(options: DriverCallOptions): Promise<PoolClient> {
    // An idle client is handed over at once: no need to arm the acquire timer.
    if (options.signal === undefined && this.#pool.idleCount > 0) return this.#pool.connect()
    return acquireWithin(this.#pool.connect(), { signal: options.signal, timeoutMs: this.#acquireTimeoutMs }, (c) =>
      c.release(),
    )
  }

  // Connections lent out (acquire) and clients busy with a one-off query: close() destroys the
  // ones still out, since pg's end() would otherwise wait for them forever. The facade calls
  // close() only once in-flight work finished or its close deadline passed.
  readonly #lent = new Set<PostgresConnection>()
  readonly #busy = new Set<PoolClient>()

  async acquire(options: DriverCallOptions): Promise<DriverConnection> {
    const conn = new PostgresConnection(await this.#connect(options), this)
    this.#lent.add(conn)
    return conn
  }

  /** A lent connection came back. */
  returned(conn: PostgresConnection): void {
    this.#lent.delete(conn)
  }

  async query(text: string, values: readonly unknown[], options: DriverCallOptions): Promise<DriverResult> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.#connect(options)
      this.#busy.add(client)
      let broken: boolean | undefined
      try {
        const sent = statement(text, values, options)
        const res =
          !options.signal && !options.timeoutMs
            ? await client.query(sent, values as unknown[])
            : await cancellable(() => client.query(sent, values as unknown[]), options, {
                cancel: () => this.cancelBackend(client),
                destroy: () => (broken = true),
              })
        return toResult(res)
      } catch (err) {
        if (isConnectionFailure(err)) {
          broken = true
          // A pooled connection that died unnoticed never took the statement: run it on a fresh one.
          if (attempt <= this.#maxAttempts && neverSent(err)) continue
        }
        throw err
      } finally {
        if (this.#busy.delete(client)) client.release(broken)
      }
    }
  }

  /** Cancels the statement running on `client` from a separate short-lived connection. */
  async cancelBackend(client: PoolClient): Promise<void> {
    const pid = (client as PoolClient & { processID?: number }).processID
    if (pid === undefined) throw new Error('the connection has no backend pid')
    const canceller = new this.#pg.Client({ ...this.#config, statement_timeout: undefined })
    canceller.on('error', () => undefined)
    await canceller.connect()
    try {
      await canceller.query('select pg_cancel_backend($1)', [pid])
    } finally {
      await canceller.end()
    }
  }

  classify(err: unknown): ErrorClass | undefined {
    return classifyPostgres(err)
  }

  stats(): PoolStats {
    return {
      total: this.#pool.totalCount,
      idle: this.#pool.idleCount,
      waiting: this.#pool.waitingCount,
      max: this.#config.max ?? 10,
    }
  }

  async close(): Promise<void> {
    for (const conn of [...this.#lent]) conn.release(true)
    for (const client of [...this.#busy]) {
      this.#busy.delete(client)
      client.release(true)
    }
    if (!this.#pool.ended) await this.#pool.end()
  }
}

/**
 * PostgreSQL through `pg`'s Pool: server-side cancellation for timeouts and aborts, idle
 * connection errors contained, int8 read losslessly (number when exact, else bigint).
 * @example const db = createDatabase({ driver: postgresDriver, url: 'postgres://app@localhost/app' })
 */
export const postgresDriver = defineDatabaseDriver({
  name: 'postgres',
  dialect: 'postgres',
  peers: ['pg'],
  async create(settings, context) {
    const mod = await importPeer('pg', () => import('pg'), 'the postgres database driver')
    const pg = ((mod as unknown as { default?: PgModule }).default ?? mod) as PgModule
    return new PostgresPool(pg, settings, context)
  },
})
