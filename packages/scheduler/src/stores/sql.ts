import { importPeer } from '@beaver-kit/core'
import type { Database, Dialect } from '@beaver-kit/database'
import { SchedulerError } from '../errors.ts'
import {
  defineSchedulerStore,
  type ClaimRequest,
  type ControlPatch,
  type RunEnd,
  type RunOutcome,
  type RunRecord,
  type ScheduleControl,
  type SchedulerStore,
  type SchedulerStoreContext,
} from '../store.ts'
import { schedulerMigrations } from './sql-schema.ts'

/** Options of the sqlite, postgres and mysql stores (`BEAVER_SCHEDULER_DB_*`). */
export interface SqlStoreOptions {
  /** Database URL; default: the default `db()` of @beaver-kit/database. */
  url?: string | undefined
  /** Prefix of the scheduler's tables. Default `beaver_scheduler`. */
  table?: string | undefined
  /** A database to use (never closed by the scheduler). */
  database?: Database | undefined
}

type Row = Record<string, unknown>
const num = (v: unknown): number => Number(v)
const optNum = (v: unknown): number | undefined => (v === null || v === undefined ? undefined : Number(v))

/** The scheduler store over @beaver-kit/database: a unique key per (schedule, slot) is the claim. */
export class SqlStore implements SchedulerStore {
  readonly name: string
  readonly distributed = true
  readonly #dialect: Dialect
  readonly #options: SqlStoreOptions
  readonly #ns: string
  readonly #t: string
  #db: Database | undefined
  #owns = false
  #opening: Promise<Database> | undefined

  constructor(dialect: Dialect, options: SqlStoreOptions, ctx: SchedulerStoreContext) {
    this.name = dialect
    this.#dialect = dialect
    this.#options = options
    this.#ns = ctx.namespace
    this.#t = options.table ?? 'beaver_scheduler'
    if (!/^[a-z_][a-z0-9_]{0,40}$/.test(this.#t)) {
      throw new SchedulerError(
        'SCHEDULER_OPTIONS_INVALID',
        `BEAVER_SCHEDULER_DB_TABLE is "${this.#t}"; use lowercase letters, digits and _, up to 41 characters.`,
      )
    }
  }

  /** `?` placeholders become `$n` on PostgreSQL. */
  #q(text: string): string {
    if (this.#dialect !== 'postgres') return text
    let n = 0
    return text.replace(/\?/g, () => `$${++n}`)
  }

  #database(): Promise<Database> {
    this.#opening ??= (async () => {
      const dbm = await importPeer(
        '@beaver-kit/database',
        () => import('@beaver-kit/database'),
        `the ${this.name} scheduler store`,
      )
      const { database, owned } = await dbm.openStoreDatabase({
        database: this.#options.database,
        url: this.#options.url,
        dialect: {
          expected: this.#dialect,
          mismatch: (actual) =>
            new SchedulerError(
              'SCHEDULER_OPTIONS_INVALID',
              `BEAVER_SCHEDULER_STORE is "${this.name}" but its database speaks ${actual}; set BEAVER_SCHEDULER_DB_URL (or BEAVER_DB_URL) to a ${this.#dialect} database, or pick the ${actual} store.`,
              { details: { store: this.name, dialect: actual } },
            ),
        },
        migrations: (dialect) => ({
          migrations: schedulerMigrations(dialect, this.#t),
          table: `${this.#t}_migrations`,
        }),
      })
      this.#owns = owned
      this.#db = database
      return database
    })()
    this.#opening.catch(() => (this.#opening = undefined))
    return this.#opening
  }

  async #rows(text: string, params: unknown[]): Promise<Row[]> {
    const db = await this.#database()
    return (await db.query(this.#q(text), params)).rows
  }

  async #exec(text: string, params: unknown[]): Promise<number> {
    const db = await this.#database()
    return (await db.execute(this.#q(text), params)).affectedRows
  }

  #insertIgnore(table: string, cols: string, values: string): string {
    return this.#dialect === 'mysql'
      ? `insert ignore into ${table} (${cols}) values (${values})`
      : `insert into ${table} (${cols}) values (${values}) on conflict do nothing`
  }

  async register(schedule: string, now: number): Promise<ScheduleControl> {
    await this.#exec(
      this.#insertIgnore(`${this.#t}_control`, 'ns, name, paused, removed, created_at', '?, ?, 0, 0, ?'),
      [this.#ns, schedule, now],
    )
    await this.#exec(`update ${this.#t}_control set removed = 0 where ns = ? and name = ? and removed <> 0`, [
      this.#ns,
      schedule,
    ])
    const [row] = await this.#rows(
      `select paused, trigger_at, removed, created_at from ${this.#t}_control where ns = ? and name = ?`,
      [this.#ns, schedule],
    )
    return controlOf(row as Row)
  }

  async claim(r: ClaimRequest): Promise<number | undefined> {
    const ended = r.outcome !== undefined && r.outcome !== 'running'
    const cols = 'ns, schedule, slot, due_at, trig, instance, started_at, ended_at, lease_until, outcome'
    const params = [
      this.#ns,
      r.schedule,
      r.slot,
      r.dueAt,
      r.trigger,
      r.instance,
      r.now,
      ended ? r.now : null,
      r.now + r.leaseMs,
      r.outcome ?? 'running',
    ]
    const sql = this.#insertIgnore(`${this.#t}_runs`, cols, '?, ?, ?, ?, ?, ?, ?, ?, ?, ?')
    if (this.#dialect === 'mysql') {
      const db = await this.#database()
      const result = await db.execute(sql, params)
      return result.affectedRows === 1 ? Number(result.insertId) : undefined
    }
    const [row] = await this.#rows(`${sql} returning id`, params)
    return row ? num(row.id) : undefined
  }

  async renew(schedule: string, slot: string, token: number, until: number): Promise<boolean> {
    const n = await this.#exec(
      `update ${this.#t}_runs set lease_until = ? where id = ? and ns = ? and schedule = ? and slot = ? and outcome = 'running'`,
      [until, token, this.#ns, schedule, slot],
    )
    if (n > 0) return true
    // MariaDB counts changed rows only: an identical lease_until is "0 rows"; look before saying lost.
    if (this.#dialect !== 'mysql') return false
    const rows = await this.#rows(`select 1 as ok from ${this.#t}_runs where id = ? and outcome = 'running'`, [token])
    return rows.length > 0
  }

  async finish(schedule: string, slot: string, token: number, end: RunEnd): Promise<void> {
    await this.#exec(
      `update ${this.#t}_runs set outcome = ?, ended_at = ?, error = ? where id = ? and ns = ? and schedule = ? and slot = ? and outcome = 'running'`,
      [end.outcome, end.endedAt, end.error ?? null, token, this.#ns, schedule, slot],
    )
  }

  async running(schedule: string, now: number, exceptToken: number): Promise<number> {
    const [row] = await this.#rows(
      `select count(*) as n from ${this.#t}_runs where ns = ? and schedule = ? and outcome = 'running' and lease_until > ? and id <> ?`,
      [this.#ns, schedule, now, exceptToken],
    )
    return num(row?.n ?? 0)
  }

  async lastDue(schedule: string): Promise<number | undefined> {
    const [row] = await this.#rows(
      `select max(due_at) as due from ${this.#t}_runs where ns = ? and schedule = ? and trig <> 'manual'`,
      [this.#ns, schedule],
    )
    return optNum(row?.due)
  }

  async history(schedule: string, options: { limit: number; outcome?: RunOutcome | undefined }): Promise<RunRecord[]> {
    const filter = options.outcome ? ' and outcome = ?' : ''
    const params: unknown[] = [this.#ns, schedule, ...(options.outcome ? [options.outcome] : [])]
    const rows = await this.#rows(
      `select id, schedule, slot, due_at, trig, instance, started_at, ended_at, outcome, error from ${this.#t}_runs
       where ns = ? and schedule = ?${filter} order by due_at desc, started_at desc, id desc limit ${Math.floor(options.limit)}`,
      params,
    )
    return rows.map((row) => {
      const endedAt = optNum(row.ended_at)
      return {
        schedule: String(row.schedule),
        slot: String(row.slot),
        dueAt: num(row.due_at),
        trigger: String(row.trig) as RunRecord['trigger'],
        instance: String(row.instance),
        token: num(row.id),
        startedAt: num(row.started_at),
        endedAt,
        durationMs: endedAt === undefined ? undefined : Math.max(0, endedAt - num(row.started_at)),
        outcome: String(row.outcome) as RunOutcome,
        error: row.error === null || row.error === undefined ? undefined : String(row.error),
      }
    })
  }

  async controls(): Promise<Map<string, ScheduleControl>> {
    const rows = await this.#rows(
      `select name, paused, trigger_at, removed, created_at from ${this.#t}_control where ns = ?`,
      [this.#ns],
    )
    return new Map(rows.map((row) => [String(row.name), controlOf(row)]))
  }

  async control(schedule: string, patch: ControlPatch, now: number): Promise<void> {
    await this.#exec(
      this.#insertIgnore(`${this.#t}_control`, 'ns, name, paused, removed, created_at', '?, ?, 0, 0, ?'),
      [this.#ns, schedule, now],
    )
    const sets: string[] = []
    const params: unknown[] = []
    const add = (column: string, value: unknown): void => {
      sets.push(`${column} = ?`)
      params.push(value)
    }
    if (patch.paused !== undefined) add('paused', patch.paused ? 1 : 0)
    if (patch.triggerAt !== undefined) add('trigger_at', patch.triggerAt)
    if (patch.removed !== undefined) add('removed', patch.removed ? 1 : 0)
    if (sets.length === 0) return
    await this.#exec(`update ${this.#t}_control set ${sets.join(', ')} where ns = ? and name = ?`, [
      ...params,
      this.#ns,
      schedule,
    ])
  }

  sweep(now: number): Promise<number> {
    return this.#exec(
      `update ${this.#t}_runs set outcome = 'abandoned', ended_at = lease_until where ns = ? and outcome = 'running' and lease_until <= ?`,
      [this.#ns, now],
    )
  }

  async prune(schedule: string, before: number, keep: number): Promise<number> {
    // The latest row stays whatever its age: it is the cursor that missed-run detection reads.
    const [cut] = await this.#rows(
      `select due_at from ${this.#t}_runs where ns = ? and schedule = ? order by due_at desc limit 1 offset ${Math.max(0, Math.floor(keep) - 1)}`,
      [this.#ns, schedule],
    )
    const [latest] = await this.#rows(`select max(due_at) as due from ${this.#t}_runs where ns = ? and schedule = ?`, [
      this.#ns,
      schedule,
    ])
    if (latest?.due === null || latest?.due === undefined) return 0
    let n = await this.#exec(
      `delete from ${this.#t}_runs where ns = ? and schedule = ? and outcome <> 'running' and due_at < ? and due_at < ?`,
      [this.#ns, schedule, before, num(latest.due)],
    )
    if (cut) {
      n += await this.#exec(
        `delete from ${this.#t}_runs where ns = ? and schedule = ? and outcome <> 'running' and due_at < ?`,
        [this.#ns, schedule, num(cut.due_at)],
      )
    }
    return n
  }

  async ping(): Promise<void> {
    const db = await this.#database()
    await db.query('select 1')
  }

  async close(): Promise<void> {
    const db = this.#db
    this.#db = undefined
    this.#opening = undefined
    if (db && this.#owns) await db.close()
  }
}

function controlOf(row: Row): ScheduleControl {
  return {
    paused: num(row.paused) === 1,
    triggerAt: optNum(row.trigger_at),
    removed: num(row.removed) === 1,
    createdAt: num(row.created_at),
  }
}

/**
 * A SQLite file through @beaver-kit/database (`node:sqlite`): every process opening the same
 * file shares claims, history and controls.
 * @example createScheduler({ store: sqliteStore, db: { url: 'sqlite:./data/app.db' } })
 */
export const sqliteStore = defineSchedulerStore<SqlStoreOptions>({
  name: 'sqlite',
  peers: ['@beaver-kit/database'],
  section: 'db',
  create: (options, ctx) => new SqlStore('sqlite', options ?? {}, ctx),
})

/** PostgreSQL through @beaver-kit/database. @example createScheduler({ store: 'postgres', db: { url } }) */
export const postgresStore = defineSchedulerStore<SqlStoreOptions>({
  name: 'postgres',
  peers: ['@beaver-kit/database'],
  section: 'db',
  create: (options, ctx) => new SqlStore('postgres', options ?? {}, ctx),
})

/** MySQL or MariaDB through @beaver-kit/database. @example createScheduler({ store: 'mysql', db: { url } }) */
export const mysqlStore = defineSchedulerStore<SqlStoreOptions>({
  name: 'mysql',
  peers: ['@beaver-kit/database'],
  section: 'db',
  create: (options, ctx) => new SqlStore('mysql', options ?? {}, ctx),
})
