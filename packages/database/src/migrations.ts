import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { sleep, backoffDelay } from '@beaver-kit/core'
import type { Database } from './database.ts'
import type { Session } from './types.ts'
import { DatabaseError, isDatabaseError } from './errors.ts'
import { quoteIdentifier } from './sql.ts'

/** One migration: an id that orders it, its up SQL and optional down SQL. */
export interface Migration {
  /** Sorts the migrations: the file name without `.sql`, e.g. `0001_create_links`. */
  id: string
  up: string
  down?: string | undefined
}

/** Where each known migration stands. */
export interface MigrationStatus {
  id: string
  /** `pending`; `applied`; `changed` (applied, then its file was edited); `missing` (applied, file gone). */
  state: 'pending' | 'applied' | 'changed' | 'missing'
  appliedAt?: string | undefined
}

/** What `up()`/`down()` did, or would do with `dryRun`. */
export interface MigrationPlan {
  direction: 'up' | 'down'
  dryRun: boolean
  /** The migrations run (or to run), in order, with the SQL of that direction. */
  steps: Array<{ id: string; sql: string; durationMs?: number }>
}

/** Options of `createMigrator()`. */
export interface MigratorOptions {
  /** Directory of `.sql` files (default `BEAVER_DB_MIGRATIONS_DIR`, `./migrations`). */
  dir?: string
  /** Migrations given in code instead of (or in addition to) a directory. */
  migrations?: readonly Migration[]
  /** Table recording what was applied (default `BEAVER_DB_MIGRATIONS_TABLE`). */
  table?: string
  /** Longest wait for another process holding the migration lock, in ms. */
  lockTimeoutMs?: number
  /** Progress lines (the CLI prints them). */
  log?: (line: string) => void
}

const MARKER = /^--\s*(?:migrate:)?\s*(up|down)\s*$/im

/** Splits a file into its `-- migrate:up` and `-- migrate:down` parts (no marker: all up). */
export function parseMigrationFile(text: string): { up: string; down: string | undefined } {
  const source = text.replace(/\r\n/g, '\n')
  if (!MARKER.test(source)) return { up: source.trim(), down: undefined }
  const parts: Record<string, string> = {}
  let current: string | undefined
  const lines: string[] = []
  const flush = (): void => {
    if (current) parts[current] = (parts[current] ?? '') + lines.join('\n')
    lines.length = 0
  }
  for (const line of source.split('\n')) {
    const m = /^--\s*(?:migrate:)?\s*(up|down)\s*$/i.exec(line.trim())
    if (m) {
      flush()
      current = (m[1] as string).toLowerCase()
    } else if (current) {
      lines.push(line)
    }
  }
  flush()
  const down = parts.down?.trim()
  return { up: (parts.up ?? '').trim(), down: down ? down : undefined }
}

function checksum(sql: string): string {
  return createHash('sha256').update(sql.replace(/\r\n/g, '\n').trim()).digest('hex')
}

/** A stable 31-bit key for PostgreSQL's advisory lock, from the table name. */
function lockKey(table: string): number {
  return createHash('sha256').update(`beaver-kit:migrations:${table}`).digest().readInt32BE(0)
}

type Step = MigrationPlan['steps'][number]

/** What the database gives its migrator: the configured defaults, and how to load its driver. */
export interface MigratorDefaults {
  dir: string
  table: string
  lockTimeoutMs: number
  /** Resolves once the driver definition is loaded, so the dialect is known. */
  loadDriver(): Promise<void>
}

interface AppliedRow {
  id: string
  checksum: string
  applied_at: string
}

/**
 * Applies SQL migrations in order, each in a transaction where the dialect allows (MySQL
 * commits DDL implicitly), recorded with a checksum, under a lock (PostgreSQL advisory lock,
 * MySQL GET_LOCK, SQLite write lock) so that processes starting together apply each exactly once.
 */
export class Migrator {
  readonly #db: Database
  readonly #dir: string | undefined
  readonly #extra: readonly Migration[]
  readonly #table: string
  readonly #lockTimeoutMs: number
  readonly #log: (line: string) => void
  readonly #loadDriver: () => Promise<void>

  /** @internal Use `db.migrator()` or `createMigrator()`. */
  constructor(db: Database, options: MigratorOptions, defaults: MigratorDefaults) {
    this.#db = db
    this.#loadDriver = defaults.loadDriver
    this.#dir = options.dir ?? (options.migrations ? undefined : defaults.dir)
    this.#extra = options.migrations ?? []
    this.#table = options.table ?? defaults.table
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(this.#table)) {
      throw new DatabaseError(
        'DB_CONFIG',
        `The migrations table name "${this.#table}" must be a plain identifier (letters, digits, _).`,
      )
    }
    this.#lockTimeoutMs = options.lockTimeoutMs ?? defaults.lockTimeoutMs
    this.#log = options.log ?? (() => undefined)
  }

  /** Every migration known, from the directory and from code, sorted by id. */
  async load(): Promise<Migration[]> {
    const byId = new Map<string, Migration>()
    if (this.#dir !== undefined) {
      const dir = resolve(this.#dir)
      let names: string[]
      try {
        names = (await readdir(dir)).filter((n) => n.endsWith('.sql')).sort()
      } catch (err) {
        throw new DatabaseError(
          'DB_MIGRATION',
          `Cannot read the migrations directory ${dir}; create it or set BEAVER_DB_MIGRATIONS_DIR.`,
          { cause: err },
        )
      }
      for (const name of names) {
        const text = await readFile(join(dir, name), 'utf8')
        const pair = /^(.*)\.(up|down)\.sql$/.exec(name)
        if (pair) {
          const id = pair[1] as string
          const m = byId.get(id) ?? { id, up: '' }
          if (pair[2] === 'up') m.up = text.trim()
          else m.down = text.trim()
          byId.set(id, m)
        } else {
          const id = name.slice(0, -4)
          byId.set(id, { id, ...parseMigrationFile(text) })
        }
      }
    }
    for (const m of this.#extra) byId.set(m.id, m)
    return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  }

  get #t(): string {
    return quoteIdentifier(this.#table, this.#db.dialect)
  }

  async #ensureTable(s: Session): Promise<void> {
    await s.query(
      `create table if not exists ${this.#t} (id varchar(191) not null primary key, checksum varchar(64) not null, applied_at varchar(40) not null, duration_ms integer not null)`,
    )
  }

  async #applied(s: Session): Promise<Map<string, AppliedRow>> {
    const rows = await s.many<AppliedRow>(`select id, checksum, applied_at from ${this.#t} order by id`)
    return new Map(rows.map((r) => [r.id, r]))
  }

  /** Each migration's state; reads the table without taking the lock. */
  async status(): Promise<MigrationStatus[]> {
    await this.#loadDriver()
    const migrations = await this.load()
    return this.#db.session(async (s) => {
      await this.#ensureTable(s)
      const applied = await this.#applied(s)
      const out: MigrationStatus[] = migrations.map((m) => {
        const row = applied.get(m.id)
        if (!row) return { id: m.id, state: 'pending' as const }
        return {
          id: m.id,
          state: row.checksum === checksum(m.up) ? ('applied' as const) : ('changed' as const),
          appliedAt: row.applied_at,
        }
      })
      for (const [id, row] of applied)
        if (!migrations.some((m) => m.id === id)) out.push({ id, state: 'missing', appliedAt: row.applied_at })
      return out.sort((a, b) => (a.id < b.id ? -1 : 1))
    })
  }

  /** Applies every pending migration (or up to and including `to`). */
  async up(options: { to?: string; dryRun?: boolean; signal?: AbortSignal } = {}): Promise<MigrationPlan> {
    await this.#loadDriver()
    const migrations = await this.load()
    const plan = (applied: Map<string, AppliedRow>): Step[] => {
      for (const m of migrations) {
        const row = applied.get(m.id)
        if (row && row.checksum !== checksum(m.up)) {
          throw new DatabaseError(
            'DB_MIGRATION_CHECKSUM',
            `Migration ${m.id} was applied and its file has changed since (checksum differs). Revert the edit and add a new migration instead.`,
            { details: { id: m.id } },
          )
        }
      }
      let pending = migrations.filter((m) => !applied.has(m.id))
      if (options.to !== undefined) pending = pending.filter((m) => m.id <= (options.to as string))
      return pending.map((m) => ({ id: m.id, sql: m.up }))
    }
    return this.#run(
      'up',
      options,
      plan,
      (applied, id) => !applied.has(id),
      async (tx, step, started) => {
        await tx.exec(step.sql, { signal: options.signal })
        await tx.query(
          `insert into ${this.#t} (id, checksum, applied_at, duration_ms) values (${this.#ph(1)}, ${this.#ph(2)}, ${this.#ph(3)}, ${this.#ph(4)})`,
          [step.id, checksum(step.sql), new Date().toISOString(), Date.now() - started],
        )
      },
    )
  }

  /** Reverts the last `steps` applied migrations (default 1), or every one after `to`. */
  async down(
    options: { steps?: number; to?: string; dryRun?: boolean; signal?: AbortSignal } = {},
  ): Promise<MigrationPlan> {
    await this.#loadDriver()
    const migrations = new Map((await this.load()).map((m) => [m.id, m]))
    const plan = (applied: Map<string, AppliedRow>): Step[] => {
      const ids = [...applied.keys()].reverse()
      const chosen =
        options.to !== undefined ? ids.filter((id) => id > (options.to as string)) : ids.slice(0, options.steps ?? 1)
      return chosen.map((id) => {
        const m = migrations.get(id)
        if (!m)
          throw new DatabaseError(
            'DB_MIGRATION',
            `Migration ${id} is applied but its file is missing, so it cannot be reverted.`,
            { details: { id } },
          )
        if (m.down === undefined || m.down === '') {
          throw new DatabaseError(
            'DB_MIGRATION',
            `Migration ${id} has no down part (-- migrate:down), so it cannot be reverted.`,
            { details: { id } },
          )
        }
        return { id, sql: m.down }
      })
    }
    return this.#run(
      'down',
      options,
      plan,
      (applied, id) => applied.has(id),
      async (tx, step) => {
        await tx.exec(step.sql, { signal: options.signal })
        await tx.query(`delete from ${this.#t} where id = ${this.#ph(1)}`, [step.id])
      },
    )
  }

  #ph(n: number): string {
    return this.#db.dialect === 'postgres' ? `$${n}` : '?'
  }

  /**
   * Plans under the lock, then applies step by step. PostgreSQL and MySQL hold a session
   * lock for the whole run and give each migration its own transaction. SQLite's lock is its
   * write transaction, so each migration is one write transaction that first checks, under
   * the lock, that no other process applied it meanwhile: exactly once either way.
   */
  async #run(
    direction: 'up' | 'down',
    options: { dryRun?: boolean; signal?: AbortSignal | undefined },
    plan: (applied: Map<string, AppliedRow>) => Step[],
    needed: (applied: Map<string, AppliedRow>, id: string) => boolean,
    apply: (tx: Session, step: Step, started: number) => Promise<void>,
  ): Promise<MigrationPlan> {
    const result: MigrationPlan = { direction, dryRun: options.dryRun === true, steps: [] }
    const verb = direction === 'up' ? 'applied' : 'reverted'
    const once = async (tx: Session, step: Step): Promise<void> => {
      const started = Date.now()
      try {
        await apply(tx, step, started)
      } catch (err) {
        throw new DatabaseError(
          'DB_MIGRATION',
          `Migration ${step.id} failed (${direction}) and was rolled back where the dialect allows: ${err instanceof Error ? err.message : String(err)}`,
          {
            cause: err,
            details: { id: step.id, direction },
          },
        )
      }
      result.steps.push({ ...step, durationMs: Date.now() - started })
      this.#log(`${verb} ${step.id} (${Date.now() - started} ms)`)
    }
    if (result.dryRun || this.#db.dialect === 'sqlite') {
      const steps = await this.#db.session(async (s) => {
        await this.#ensureTable(s)
        return plan(await this.#applied(s))
      })
      if (result.dryRun) return { ...result, steps }
      for (const step of steps) {
        await this.#sqliteWrite(options.signal, async (tx) => {
          if (needed(await this.#applied(tx), step.id)) await once(tx, step)
        })
      }
      return result
    }
    return this.#serverLocked(options.signal, async (s) => {
      for (const step of plan(await this.#applied(s))) await s.transaction((tx) => once(tx, step), { retries: 0 })
      return result
    })
  }

  /** One SQLite write transaction; waits (busy timeout, then backoff) while another process holds the lock. */
  async #sqliteWrite(signal: AbortSignal | undefined, fn: (tx: Session) => Promise<void>): Promise<void> {
    const deadline = Date.now() + this.#lockTimeoutMs
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#db.transaction(fn, { retries: 0, ...(signal ? { signal } : {}) })
        return
      } catch (err) {
        if (!isDatabaseError(err, 'DB_TIMEOUT', 'DB_SERIALIZATION') || !err.retryable || Date.now() >= deadline)
          throw this.#lockError(err)
        this.#log('waiting for the database write lock held by another process')
        await sleep(backoffDelay(attempt, { baseMs: 50, maxMs: 1000 }), signal)
      }
    }
  }

  /** Runs `fn` on one connection holding the migration lock (advisory lock, GET_LOCK). */
  async #serverLocked<T>(signal: AbortSignal | undefined, fn: (s: Session) => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.#lockTimeoutMs
    return this.#db.session(async (s) => {
      await this.#acquireLock(s, deadline, signal)
      try {
        await this.#ensureTable(s)
        return await fn(s)
      } finally {
        await this.#releaseLock(s)
      }
    })
  }

  #lockError(err: unknown): unknown {
    if (isDatabaseError(err, 'DB_TIMEOUT')) {
      return new DatabaseError(
        'DB_MIGRATION_LOCK',
        `Another process held the migration lock for more than ${this.#lockTimeoutMs} ms.`,
        { cause: err },
      )
    }
    return err
  }

  async #acquireLock(s: Session, deadline: number, signal: AbortSignal | undefined): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      let got: boolean
      if (this.#db.dialect === 'postgres') {
        const row = await s.one<{ ok: boolean }>('select pg_try_advisory_lock($1) as ok', [lockKey(this.#table)])
        got = row.ok
      } else {
        const row = await s.one<{ ok: number | null }>('select GET_LOCK(?, 0) as ok', [
          `beaver_migrations:${this.#table}`,
        ])
        got = row.ok === 1
      }
      if (got) return
      if (Date.now() >= deadline) {
        throw new DatabaseError(
          'DB_MIGRATION_LOCK',
          `Another process held the migration lock for more than ${this.#lockTimeoutMs} ms.`,
        )
      }
      this.#log('waiting for the migration lock held by another process')
      await sleep(
        Math.min(
          backoffDelay(attempt, { baseMs: 50, maxMs: 1000, jitter: 'equal' }),
          Math.max(0, deadline - Date.now()),
        ),
        signal,
      )
    }
  }

  async #releaseLock(s: Session): Promise<void> {
    if (this.#db.dialect === 'postgres') await s.query('select pg_advisory_unlock($1)', [lockKey(this.#table)])
    else await s.query('select RELEASE_LOCK(?)', [`beaver_migrations:${this.#table}`])
  }
}

/**
 * A migrator on `db`, from `BEAVER_DB_MIGRATIONS_*` unless options say otherwise.
 * @example
 * await createMigrator(db(), { dir: './migrations' }).up()
 */
export function createMigrator(db: Database, options: MigratorOptions = {}): Migrator {
  return db.migrator(options)
}
