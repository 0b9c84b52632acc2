import { describeInstance, resolveConfig, type InstanceDescription, type SchemaConfig } from '@beaver-kit/config'
import { publishCounters, retry, type CounterSource, type Instance } from '@beaver-kit/core'
import { channels } from './channels.ts'
import { traceStatement, traceStatementNow, type StatementTracing } from './query-tracing.ts'
import { dbSchema } from './config.ts'
import type {
  ConnectionSettings,
  DatabaseDriver,
  DatabaseDriverDefinition,
  DriverCallOptions,
  DriverConnection,
  DriverResult,
  Row,
} from './driver.ts'
import { checkDefinition } from './driver.ts'
import { DatabaseError, dialectNotLoaded, isDatabaseError, wrapDriverError } from './errors.ts'
import { closedError, Executor, NO_LIMITS, PinnedExecutor, PREPARED, type StatementRunner } from './executor.ts'
import { Migrator, type MigratorOptions } from './migrations.ts'
import { hasDatabaseDriver, knownDialect, loadDriverDefinition, unknownDriver } from './registry.ts'
import { isReplicaRead, ReplicaSet, type Replica } from './replicas.ts'
import { connectionSettings, describedSettings } from './settings.ts'
import { runTransaction, transactionRetry } from './transaction.ts'
import type { Dialect } from './sql.ts'
import type {
  DatabaseOptions,
  DatabaseStats,
  HealthReport,
  QueryOptions,
  Session,
  StreamOptions,
  Transaction,
  TransactionOptions,
} from './types.ts'

/** Internal bridge for the migrator and the Kysely dialect; not part of the public API. */
export const INTERNAL = Symbol('beaver-kit.db.internal')

/** What the migrator and the Kysely dialect reach through `db[INTERNAL]`. */
export interface Internals {
  readonly driverName: string
  /** Runs one statement with tracing, in-flight accounting and error mapping. */
  run(text: string, fn: () => Promise<DriverResult>): Promise<DriverResult>
  acquire(options: DriverCallOptions): Promise<DriverConnection>
  wrap(err: unknown, statement: string | undefined): unknown
  settings(): ConnectionSettings
  config: SchemaConfig<typeof dbSchema>
}

/**
 * A database: one pool on the primary (plus read replicas), the statements of
 * {@link Queryable}, transactions, sessions, migrations and diagnostics. Create it with
 * `createDatabase()` or use the default `db()`.
 */
export class Database extends Executor implements Instance<InstanceDescription> {
  /** The driver's name: `postgres`, `mysql`, `sqlite`, `libsql`, or a registered one. */
  readonly driver: string
  readonly #config: SchemaConfig<typeof dbSchema>
  readonly #envPrefix: string | false | undefined
  readonly #entries: InstanceDescription['settings']
  readonly #settings: ConnectionSettings
  #definition: DatabaseDriverDefinition | undefined
  #dialect: Dialect | undefined
  #loading: Promise<DatabaseDriverDefinition> | undefined
  #opening: Promise<DatabaseDriver> | undefined
  #pool: DatabaseDriver | undefined
  readonly #replicas: ReplicaSet
  #inflight = 0
  #drained: (() => void) | undefined
  #closed = false
  #closing: Promise<void> | undefined
  #idleErrors = 0
  // Statements run and failed, read by metrics when scraped (nothing is observed per statement).
  #statements = 0
  #failures = 0
  readonly #published: CounterSource = () => [
    {
      labels: { driver: this.driver, dialect: this.#dialect ?? '' },
      counts: { statements: this.#statements, failures: this.#failures },
    },
  ]
  readonly #unpublish: () => void
  readonly #defaultTimeoutMs: number
  /** `BEAVER_DB_PREPARED_STATEMENTS`: whether `prepare: true` reaches the driver. */
  readonly #prepared: boolean
  readonly #runner: StatementRunner

  /** @internal Use `createDatabase()`. */
  constructor(options: DatabaseOptions) {
    super()
    const { driver: driverOption, envPrefix, env, ...rest } = options
    const settingsOptions = typeof driverOption === 'string' ? { ...rest, driver: driverOption } : rest
    const resolved = resolveConfig(dbSchema, { options: settingsOptions, envPrefix, ...(env ? { env } : {}) })
    const values = resolved.values
    this.#config = values
    this.#envPrefix = envPrefix
    const driverName = typeof driverOption === 'object' ? driverOption.name : values.driver
    this.#settings = connectionSettings(values, values.url, driverName)
    this.driver = this.#settings.driver
    if (typeof driverOption === 'object') {
      checkDefinition(driverOption)
      this.#definition = driverOption
      this.#dialect = driverOption.dialect
    } else {
      if (!hasDatabaseDriver(this.driver)) throw unknownDriver(this.driver)
      this.#dialect = knownDialect(this.driver)
    }
    this.#entries = describedSettings(resolved.entries, this.#dialect === 'sqlite' || this.driver === 'libsql')
    this.#defaultTimeoutMs = values.queryTimeout
    this.#prepared = values.preparedStatements
    this.#replicas = new ReplicaSet(
      values.replicaUrls ?? [],
      (url) => connectionSettings(values, url, this.driver),
      {
        driver: this.driver,
        isClosed: () => this.#closed,
        openDriver: (settings) => this.#openDriver(settings),
      },
      values.replicaProbeInterval,
    )
    this.#runner = {
      callOptions: (o) => this.#callOptions(o),
      traced: () => channels.query.hasSubscribers,
      runNow: (text, values, target) => this.#runNow(text, values, target),
      run: (text, fn) => this.#run(text, fn),
      wrap: (err, statement) => this.#wrap(err, statement),
    }
    this.#unpublish = publishCounters('database', this.#published)
  }

  /** The SQL dialect of the driver: `postgres`, `mysql` or `sqlite` (libSQL too). */
  get dialect(): Dialect {
    if (this.#dialect === undefined) throw dialectNotLoaded(this.driver)
    return this.#dialect
  }

  protected knownDialect(): Dialect | undefined {
    return this.#dialect
  }

  protected async whenLoaded(): Promise<void> {
    await this.#loadDefinition()
  }

  /** The settings (secrets, URL userinfo and secret parameters masked) and live state, for start-up logs. */
  describe(): InstanceDescription {
    const s = this.stats()
    return describeInstance('database', this.#envPrefix, this.#entries, {
      driver: this.driver,
      dialect: this.#dialect,
      open: this.#pool !== undefined,
      closed: this.#closed,
      connections: s.total,
      replicas: s.replicas.length,
      replicasUp: s.replicas.filter((r) => r.up).length,
    })
  }

  #loadDefinition(): Promise<DatabaseDriverDefinition> {
    if (this.#definition) return Promise.resolve(this.#definition)
    this.#loading ??= loadDriverDefinition(this.driver).then(
      (definition) => {
        this.#definition = definition
        this.#dialect = definition.dialect
        return definition
      },
      (err: unknown) => {
        this.#loading = undefined
        throw err
      },
    )
    return this.#loading
  }

  async #openDriver(settings: ConnectionSettings): Promise<DatabaseDriver> {
    const definition = await this.#loadDefinition()
    return definition.create(settings, {
      onIdleError: (error) => {
        this.#idleErrors++
        if (channels.idleError.hasSubscribers) channels.idleError.publish({ driver: this.driver, error })
      },
    })
  }

  #primary(): Promise<DatabaseDriver> {
    if (this.#closed) return Promise.reject(closedError())
    this.#opening ??= this.#openDriver(this.#settings).then(
      (pool) => (this.#pool = pool),
      (err: unknown) => {
        this.#opening = undefined
        throw err
      },
    )
    return this.#opening
  }

  #callOptions(options: QueryOptions): DriverCallOptions {
    // Only PostgreSQL's driver names statements; the others keep NO_LIMITS and their fast paths.
    const prepare =
      options.prepare === true && this.#prepared && (this.#dialect === undefined || this.#dialect === 'postgres')
    if (options.signal === undefined && options.timeoutMs === undefined && this.#defaultTimeoutMs === 0)
      return prepare ? PREPARED : NO_LIMITS
    return {
      signal: options.signal,
      timeoutMs: options.timeoutMs ?? this.#defaultTimeoutMs,
      ...(prepare ? { prepare } : {}),
    }
  }

  /**
   * The synchronous path of in-process engines: nothing waits across ticks, so there is no
   * in-flight accounting or timer to arm, only error mapping. Undefined when the engine is busy.
   */
  #runNow(
    text: string,
    values: readonly unknown[],
    target: Pick<DatabaseDriver, 'queryNow'> | DriverConnection,
  ): Promise<DriverResult> | undefined {
    try {
      const result = (
        target as { queryNow(text: string, values: readonly unknown[]): DriverResult | undefined }
      ).queryNow(text, values)
      if (result === undefined) return undefined
      this.#statements++
      return Promise.resolve(result)
    } catch (err) {
      this.#statements++
      this.#failures++
      return Promise.reject(this.#wrap(err, text))
    }
  }

  /** Runs one statement with in-flight accounting, tracing and error mapping. */
  #run(
    text: string,
    fn: () => Promise<DriverResult>,
    pool?: DatabaseDriver,
    traced = channels.query.hasSubscribers,
  ): Promise<DriverResult> {
    if (this.#closed && this.#inflight === 0) return Promise.reject(closedError())
    this.#inflight++
    let pending: Promise<DriverResult>
    try {
      pending = traced ? traceStatement(this.#tracing, text, fn, pool) : fn()
    } catch (err) {
      pending = Promise.reject(err)
    }
    // One then() for accounting and error mapping: this is the hot path of every statement.
    return pending.then(
      (result) => {
        this.#statements++
        if (--this.#inflight === 0 && this.#drained) this.#drained()
        return result
      },
      (err: unknown) => {
        this.#statements++
        this.#failures++
        if (--this.#inflight === 0 && this.#drained) this.#drained()
        throw this.#wrap(err, text, pool)
      },
    )
  }

  /** What the traced paths (query-tracing.ts) need of this database. */
  readonly #tracing: StatementTracing = {
    driver: () => this.driver,
    dialect: () => this.dialect,
    wrap: (err, text, pool) => this.#wrap(err, text, pool),
    counted: (failed) => {
      this.#statements++
      if (failed) this.#failures++
    },
    runUntraced: (text, fn, pool) => this.#run(text, fn, pool, false),
  }

  #wrap(err: unknown, statement: string | undefined, pool = this.#pool): unknown {
    if (isDatabaseError(err)) return err
    const cls = pool?.classify(err)
    return cls ? wrapDriverError(err, cls, statement) : err
  }

  get [INTERNAL](): Internals {
    return {
      driverName: this.driver,
      run: (text, fn) => this.#run(text, fn),
      config: this.#config,
      settings: () => this.#settings,
      acquire: async (options) => (await this.#primary()).acquire(options),
      wrap: (err, statement) => this.#wrap(err, statement),
    }
  }

  protected run(
    text: string,
    values: readonly unknown[],
    options: QueryOptions,
    write?: boolean,
  ): Promise<DriverResult> {
    if (this.#closed) return Promise.reject(closedError())
    const call = this.#callOptions(options)
    if (this.#replicas.size > 0 && !write && options.replica !== false && isReplicaRead(text)) {
      const replica = this.#replicas.pick()
      if (replica) return this.#onReplica(replica, text, values, call)
    }
    const pool = this.#pool
    if (pool?.queryNow !== undefined && call === NO_LIMITS) {
      if (channels.query.hasSubscribers) return traceStatementNow(this.#tracing, text, values, pool, call)
      const now = this.#runNow(text, values, pool)
      if (now !== undefined) return now
    }
    if (pool === undefined) return this.#primary().then((p) => this.#run(text, () => p.query(text, values, call), p))
    return this.#run(text, () => pool.query(text, values, call), pool)
  }

  protected async *runStream(text: string, values: readonly unknown[], options: StreamOptions): AsyncIterable<Row[]> {
    if (this.#closed) throw closedError()
    const call = this.#callOptions(options)
    this.#inflight++
    this.#statements++
    let conn: DriverConnection | undefined
    try {
      conn = await (this.#pool ?? (await this.#primary())).acquire(call)
      yield* conn.stream(text, values, { ...call, batchSize: options.batchSize ?? 500 })
    } catch (err) {
      this.#failures++
      throw this.#wrap(err, text)
    } finally {
      conn?.release()
      if (--this.#inflight === 0) this.#drained?.()
    }
  }

  async #onReplica(
    r: Replica,
    text: string,
    values: readonly unknown[],
    call: DriverCallOptions,
  ): Promise<DriverResult> {
    try {
      const pool = r.ready ?? (await this.#replicas.open(r))
      return await this.#run(text, () => pool.query(text, values, call), pool)
    } catch (err) {
      if (!isDatabaseError(err, 'DB_CONNECTION', 'DB_AUTH')) throw err
      // A read is safe to run again: take the replica out, probe it, and answer from the primary.
      this.#replicas.markDown(r, err)
      const pool = this.#pool ?? (await this.#primary())
      return this.#run(text, () => pool.query(text, values, call), pool)
    }
  }

  async transaction<T>(fn: (tx: Transaction) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    if ((options.retries ?? 0) === 0) return this.#transactionOnce(fn, options)
    return retry(() => this.#transactionOnce(fn, options), transactionRetry(options))
  }

  async #transactionOnce<T>(fn: (tx: Transaction) => Promise<T>, options: TransactionOptions): Promise<T> {
    if (this.#closed) throw closedError()
    this.#inflight++
    let conn: DriverConnection | undefined
    const state = { broken: false }
    try {
      conn = await (this.#pool ?? (await this.#primary())).acquire({ signal: options.signal })
      return await runTransaction(conn, this.#runner, this.dialect, fn, options, state)
    } catch (err) {
      throw this.#wrap(err, undefined)
    } finally {
      conn?.release(state.broken)
      if (--this.#inflight === 0) this.#drained?.()
    }
  }

  /**
   * Runs `fn` with statements pinned to one connection, outside a transaction: session
   * settings, advisory locks, temporary tables. The connection goes back to the pool after.
   */
  async session<T>(fn: (session: Session) => Promise<T>, options: { signal?: AbortSignal } = {}): Promise<T> {
    if (this.#closed) throw closedError()
    this.#inflight++
    let conn: DriverConnection | undefined
    let pinned: PinnedExecutor | undefined
    try {
      conn = await (this.#pool ?? (await this.#primary())).acquire({ signal: options.signal })
      pinned = new PinnedExecutor(this.#runner, this.dialect, conn, false)
      return await fn(pinned)
    } catch (err) {
      throw this.#wrap(err, undefined)
    } finally {
      pinned?.end()
      conn?.release()
      if (--this.#inflight === 0) this.#drained?.()
    }
  }

  async exec(script: string, options: QueryOptions = {}): Promise<void> {
    await this.session((s) => s.exec(script, options), options)
  }

  /**
   * A migrator for this database (directory and table from `BEAVER_DB_MIGRATIONS_*` unless given).
   * @example await db.migrator({ dir: './migrations' }).up()
   */
  migrator(options: MigratorOptions = {}): Migrator {
    const m = this.#config.migrations
    return new Migrator(this, options, {
      dir: m.dir,
      table: m.table,
      lockTimeoutMs: m.lockTimeout,
      loadDriver: () => this.whenLoaded(),
    })
  }

  /** Round-trips `select 1` to the primary; resolves with the latency in ms, to 0.01 ms. */
  async ping(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<number> {
    const start = performance.now()
    await this.query('select 1', [], { ...options, replica: false })
    return Math.round((performance.now() - start) * 100) / 100
  }

  /**
   * Opens the pool and checks the server answers: fail fast at start-up instead of on first
   * use. With `BEAVER_DB_MIGRATIONS_AUTO=true` it then applies pending migrations.
   */
  async ready(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<void> {
    await this.ping(options)
    if (this.#config.migrations.auto) await this.migrator().up(options.signal ? { signal: options.signal } : {})
  }

  /** Pool counts of the primary and each replica. */
  stats(): DatabaseStats {
    const base = this.#pool?.stats() ?? { total: 0, idle: 0, waiting: 0, max: this.#settings.pool.max }
    return { ...base, idleErrors: this.#idleErrors, replicas: this.#replicas.stats() }
  }

  /** Ping latency and pool stats, for a health endpoint; never throws. */
  async health(options: { timeoutMs?: number } = {}): Promise<HealthReport> {
    try {
      const latencyMs = await this.ping({ timeoutMs: options.timeoutMs ?? 2000 })
      return { ok: true, latencyMs, stats: this.stats() }
    } catch (err) {
      return { ok: false, error: err instanceof Error ? err.message : String(err), stats: this.stats() }
    }
  }

  /** The driver's own pool or client (pg Pool, mysql2 Pool, DatabaseSync, libSQL Client), opened if needed. */
  async native<T = unknown>(): Promise<T> {
    return (await this.#primary()).native as T
  }

  /**
   * Stops taking work, waits for in-flight statements and transactions up to `timeoutMs`
   * (default `BEAVER_DB_CLOSE_TIMEOUT`), then closes every pool. Idempotent.
   */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    this.#closing ??= this.#close(options.timeoutMs ?? this.#config.closeTimeout)
    return this.#closing
  }

  async #close(timeoutMs: number): Promise<void> {
    this.#closed = true
    const replicaPools = this.#replicas.stop()
    if (this.#inflight > 0) {
      let timer: NodeJS.Timeout | undefined
      await new Promise<void>((resolve) => {
        this.#drained = resolve
        timer = setTimeout(resolve, timeoutMs)
        timer.unref()
      })
      clearTimeout(timer)
    }
    // After the drain, so the statements that were in flight are in the last reading.
    this.#unpublish()
    const pools = [this.#opening, ...replicaPools].filter((p): p is Promise<DatabaseDriver> => p !== undefined)
    const results = await Promise.allSettled(pools.map(async (p) => (await p).close()))
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed.length > 0 && failed.some((f) => !isDatabaseError(f.reason, 'DB_CONNECTION'))) {
      const first = failed[0]?.reason
      throw new DatabaseError(
        'DB_CONNECTION',
        `Closing the database pools failed: ${first instanceof Error ? first.message : String(first)}`,
        { cause: first },
      )
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

/**
 * Builds a database from options and `BEAVER_DB_*` (explicit options win). No I/O happens
 * here: the pool opens on first use, `await db.ready()` checks the server. With nothing
 * configured it is SQLite in `./data/beaver.db`.
 * @example
 * const db = createDatabase({ url: 'postgres://app@localhost/app' })
 * const user = await db.maybeOne<User>(sql`select * from users where id = ${id}`)
 */
export function createDatabase(options: DatabaseOptions = {}): Database {
  return new Database(options)
}
