import type { BeginOptions, DriverCallOptions, DriverConnection, DriverResult, Row } from './driver.ts'
import { DatabaseError } from './errors.ts'
import { isSqlQuery, type Dialect, type SqlQuery } from './sql.ts'
import type {
  ExecuteResult,
  QueryOptions,
  QueryResult,
  Queryable,
  StreamOptions,
  Transaction,
  TransactionOptions,
} from './types.ts'

const NO_VALUES: readonly unknown[] = Object.freeze([])
const NO_OPTIONS: QueryOptions = Object.freeze({})

/** The call options of a statement with no signal and no timeout: the fast paths check for this object. */
export const NO_LIMITS: DriverCallOptions = Object.freeze({})

/** The call options of a statement kept prepared on its connection, with no signal and no timeout. */
export const PREPARED: DriverCallOptions = Object.freeze({ prepare: true })

type Args = [SqlQuery | string, (readonly unknown[] | QueryOptions | undefined)?, QueryOptions?]
type Resolved = [text: string, values: readonly unknown[], options: QueryOptions]

/** DB_CLOSED for a statement on a transaction or session whose callback already returned. */
export function finishedError(): DatabaseError {
  return new DatabaseError(
    'DB_CLOSED',
    'This transaction is already committed or rolled back; run statements inside its callback and await them.',
  )
}

/** DB_CLOSED for work on a closed database. */
export function closedError(): DatabaseError {
  return new DatabaseError(
    'DB_CLOSED',
    'The database handle is closed; create a new one (or resetDatabase() for the default).',
  )
}

export function beginOptions(options: TransactionOptions): BeginOptions {
  return { isolation: options.isolation, readOnly: options.readOnly }
}

/**
 * The statement methods every handle shares (`query`, `one`, `maybeOne`, `many`, `execute`,
 * `stream`): arguments resolved once, `sql` statements compiled for the dialect, results shaped.
 * Subclasses say how a statement runs.
 */
export abstract class Executor implements Queryable {
  abstract readonly dialect: Dialect

  /** The dialect when it is known now; undefined until a driver registered as a loader has loaded. */
  protected abstract knownDialect(): Dialect | undefined
  /** Resolves once the dialect is known. */
  protected abstract whenLoaded(): Promise<void>
  protected abstract run(
    text: string,
    values: readonly unknown[],
    options: QueryOptions,
    write?: boolean,
  ): Promise<DriverResult>
  protected abstract runStream(text: string, values: readonly unknown[], options: StreamOptions): AsyncIterable<Row[]>
  abstract transaction<T>(fn: (tx: Transaction) => Promise<T>, options?: TransactionOptions): Promise<T>
  abstract exec(script: string, options?: QueryOptions): Promise<void>

  /** Text, values and options of a call; undefined when a `sql` statement waits for the dialect. */
  #resolve(args: Args): Resolved | undefined {
    const [q, a, b] = args
    if (typeof q === 'string') return [q, (a as readonly unknown[] | undefined) ?? NO_VALUES, b ?? NO_OPTIONS]
    if (!isSqlQuery(q))
      throw new TypeError('query() takes a statement built with the sql tag, or a string and its parameters')
    const dialect = this.knownDialect()
    if (dialect === undefined) return undefined
    const compiled = q.compile(dialect)
    return [compiled.text, compiled.values, (a as QueryOptions | undefined) ?? NO_OPTIONS]
  }

  /** Runs `then` with the resolved call, after the driver has loaded when it must. */
  #call<R>(
    args: Args,
    then: (text: string, values: readonly unknown[], options: QueryOptions) => Promise<R>,
  ): Promise<R> {
    let resolved: Resolved | undefined
    try {
      resolved = this.#resolve(args)
    } catch (err) {
      return Promise.reject(err)
    }
    if (resolved !== undefined) return then(...resolved)
    return this.whenLoaded().then(() => this.#call(args, then))
  }

  query<T = Row>(...args: Args): Promise<QueryResult<T>> {
    return this.#call(args, (text, values, options) => this.run(text, values, options) as Promise<QueryResult<T>>)
  }

  one<T = Row>(...args: Args): Promise<T> {
    return this.#call(args, async (text, values, options) => {
      const { rows } = await this.run(text, values, options)
      if (rows.length === 1) return rows[0] as T
      if (rows.length === 0) {
        throw new DatabaseError('DB_NOT_FOUND', 'one() found no row; use maybeOne() when none is a normal outcome.', {
          details: { statement: text },
        })
      }
      throw new DatabaseError(
        'DB_TOO_MANY_ROWS',
        `one() expected one row and got ${rows.length}; add a condition or a LIMIT.`,
        { details: { statement: text, rowCount: rows.length } },
      )
    })
  }

  maybeOne<T = Row>(...args: Args): Promise<T | undefined> {
    return this.#call(args, async (text, values, options) => {
      const { rows } = await this.run(text, values, options)
      if (rows.length > 1) {
        throw new DatabaseError(
          'DB_TOO_MANY_ROWS',
          `maybeOne() expected at most one row and got ${rows.length}; add a condition or a LIMIT.`,
          { details: { statement: text, rowCount: rows.length } },
        )
      }
      return rows[0] as T | undefined
    })
  }

  many<T = Row>(...args: Args): Promise<T[]> {
    return this.#call(args, async (text, values, options) => (await this.run(text, values, options)).rows as T[])
  }

  execute(...args: Args): Promise<ExecuteResult> {
    return this.#call(args, async (text, values, options) => {
      const r = await this.run(text, values, options, true)
      return r.insertId === undefined
        ? { affectedRows: r.affectedRows }
        : { affectedRows: r.affectedRows, insertId: r.insertId }
    })
  }

  async *stream<T = Row>(
    ...args: [SqlQuery | string, (readonly unknown[] | StreamOptions)?, StreamOptions?]
  ): AsyncIterable<T> {
    let resolved = this.#resolve(args)
    if (resolved === undefined) {
      await this.whenLoaded()
      resolved = this.#resolve(args) as [string, readonly unknown[], StreamOptions]
    }
    const [text, values, options] = resolved
    for await (const batch of this.runStream(text, values, options)) {
      for (const row of batch) yield row as T
    }
  }
}

/** What a handle pinned to one connection needs of its database. */
export interface StatementRunner {
  /** The driver limits of a call: `NO_LIMITS` when it has no signal, no timeout and no default timeout. */
  callOptions(options: QueryOptions): DriverCallOptions
  /** Whether anyone listens on `beaver:database:query` (the synchronous path is then skipped). */
  traced(): boolean
  /** The synchronous path of in-process engines; undefined when the engine is busy. */
  runNow(text: string, values: readonly unknown[], target: DriverConnection): Promise<DriverResult> | undefined
  /** Runs one statement with in-flight accounting, tracing and error mapping. */
  run(text: string, fn: () => Promise<DriverResult>): Promise<DriverResult>
  /** Maps a driver error to a `DatabaseError` (statement text only, never values). */
  wrap(err: unknown, statement: string | undefined): unknown
}

/** A handle pinned to one connection: a transaction, or a session that may open them. */
export class PinnedExecutor extends Executor implements Transaction {
  readonly dialect: Dialect
  readonly #db: StatementRunner
  readonly #conn: DriverConnection
  #depth: number
  #done = false
  #savepoints = 0

  constructor(db: StatementRunner, dialect: Dialect, conn: DriverConnection, inTransaction: boolean) {
    super()
    this.dialect = dialect
    this.#db = db
    this.#conn = conn
    this.#depth = inTransaction ? 1 : 0
  }

  get inTransaction(): boolean {
    return this.#depth > 0
  }

  protected knownDialect(): Dialect {
    return this.dialect
  }

  protected async whenLoaded(): Promise<void> {}

  /** Called when the owning transaction or session ends: later use is a bug. */
  end(): void {
    this.#done = true
  }

  #check(): void {
    if (this.#done) throw finishedError()
  }

  protected run(text: string, values: readonly unknown[], options: QueryOptions): Promise<DriverResult> {
    if (this.#done) return Promise.reject(finishedError())
    const conn = this.#conn
    const call = this.#db.callOptions(options)
    if (conn.queryNow !== undefined && call === NO_LIMITS && !this.#db.traced()) {
      const now = this.#db.runNow(text, values, conn)
      if (now !== undefined) return now
    }
    return this.#db.run(text, () => conn.query(text, values, call))
  }

  protected async *runStream(text: string, values: readonly unknown[], options: StreamOptions): AsyncIterable<Row[]> {
    this.#check()
    try {
      yield* this.#conn.stream(text, values, {
        ...this.#db.callOptions(options),
        batchSize: options.batchSize ?? 500,
      })
    } catch (err) {
      throw this.#db.wrap(err, text)
    }
  }

  /** Runs a multi-statement script (migrations). */
  async exec(script: string, options: QueryOptions = {}): Promise<void> {
    this.#check()
    await this.#db.run(script, async () => {
      await this.#conn.exec(script, this.#db.callOptions(options))
      return { rows: [], rowCount: 0, affectedRows: 0 }
    })
  }

  async transaction<T>(fn: (tx: Transaction) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    this.#check()
    if (this.#depth === 0) {
      // A session opening a transaction: same connection, real BEGIN, no retry (the caller owns the session).
      await this.#wrapped('BEGIN', () => this.#conn.begin(beginOptions(options)))
      this.#depth = 1
      try {
        const result = await fn(this)
        await this.#wrapped('COMMIT', () => this.#conn.commit())
        return result
      } catch (err) {
        await this.#conn.rollback().catch(() => undefined)
        throw err
      } finally {
        this.#depth = 0
      }
    }
    const name = `beaver_sp_${++this.#savepoints}`
    await this.run(`SAVEPOINT ${name}`, [], {})
    this.#depth++
    try {
      const result = await fn(this)
      await this.run(`RELEASE SAVEPOINT ${name}`, [], {})
      return result
    } catch (err) {
      await this.run(`ROLLBACK TO SAVEPOINT ${name}`, [], {})
      throw err
    } finally {
      this.#depth--
    }
  }

  async #wrapped(statement: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn()
    } catch (err) {
      throw this.#db.wrap(err, statement)
    }
  }
}
