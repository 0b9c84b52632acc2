// What the database conformance suite drives: the shape of `@beaver-kit/database`'s Database,
// typed structurally so the testkit does not depend on the database package.
import type { ConformanceContext } from '../conformance.ts'

export type Row = Record<string, unknown>
export type Dialect = 'postgres' | 'mysql' | 'sqlite'

export interface CallOptions {
  signal?: AbortSignal
  timeoutMs?: number
}

export interface Result<T> {
  rows: T[]
  rowCount: number
  affectedRows: number
  insertId?: number | bigint | undefined
}

/** What the suite needs of a database handle (the shape of `@beaver-kit/database`'s Database). */
export interface DatabaseUnderTest {
  readonly dialect: Dialect
  readonly driver: string
  query<T = Row>(text: string, params?: readonly unknown[], options?: CallOptions): Promise<Result<T>>
  one<T = Row>(text: string, params?: readonly unknown[], options?: CallOptions): Promise<T>
  maybeOne<T = Row>(text: string, params?: readonly unknown[], options?: CallOptions): Promise<T | undefined>
  many<T = Row>(text: string, params?: readonly unknown[], options?: CallOptions): Promise<T[]>
  execute(
    text: string,
    params?: readonly unknown[],
    options?: CallOptions,
  ): Promise<{ affectedRows: number; insertId?: number | bigint | undefined }>
  exec(script: string): Promise<void>
  stream<T = Row>(
    text: string,
    params?: readonly unknown[],
    options?: CallOptions & { batchSize?: number },
  ): AsyncIterable<T>
  transaction<T>(
    fn: (tx: TransactionUnderTest) => Promise<T>,
    options?: {
      isolation?: 'read committed' | 'repeatable read' | 'serializable'
      readOnly?: boolean
      retries?: number
      onRetry?: (info: { attempt: number; error: unknown }) => void
    },
  ): Promise<T>
  migrator(options: { dir: string; table: string }): {
    up(options?: { dryRun?: boolean; to?: string }): Promise<{ steps: Array<{ id: string }> }>
    down(options?: { steps?: number; dryRun?: boolean }): Promise<{ steps: Array<{ id: string }> }>
    status(): Promise<Array<{ id: string; state: string }>>
  }
  stats(): { total: number; idle: number; waiting: number; idleErrors: number }
  ping(): Promise<number>
  close(): Promise<void>
}

export type TransactionUnderTest = Pick<
  DatabaseUnderTest,
  'query' | 'one' | 'maybeOne' | 'many' | 'execute' | 'exec' | 'transaction'
>

/** How each driver runs the suite. */
export interface DatabaseSuiteOptions {
  /** A handle on the same database as the subject with other pool settings (pool exhaustion). */
  create(
    namespace: string,
    overrides: { pool?: { max?: number; acquireTimeout?: number }; busyTimeout?: number },
  ): DatabaseUnderTest
  /**
   * Concurrency model: `rows` (row locks, real deadlocks: PostgreSQL, MySQL) or `database`
   * (one writer at a time, contention surfaces as BUSY: SQLite, libSQL).
   */
  locking: 'rows' | 'database'
  /** Whether a running statement can be interrupted (server drivers); SQLite statements run synchronously. */
  interruptible: boolean
  /** A statement that takes about `seconds` on the server, for timeouts and mid-query faults. */
  sleepSql?: (seconds: number) => string
  /**
   * A query answering `n`: how many statements containing `marker` run on the server, the
   * asking one excluded (pg_stat_activity, processlist): proves a cancel stopped a statement.
   */
  runningSql?: (marker: string) => string
  /** Runs `migrator.up()` on `dir` in a separate process; resolves with its exit code and output. */
  migrateInChild(
    namespace: string,
    dir: string,
    table: string,
  ): Promise<{ code: number | null; stdout: string; stderr: string }>
}

/** What each group of cases receives from the suite. */
export type DatabaseCaseContext = ConformanceContext<DatabaseUnderTest, DatabaseSuiteOptions>
