import { importPeer } from '@beaver-kit/core'
import type { Database, Queryable } from '@beaver-kit/database'
import type { Mode, State } from '../algorithms.ts'
import { evaluate, type LimitRequest, type StoreResult, type StoredRecord } from '../evaluate.ts'
import type { RateLimitStore } from '../store.ts'

/** Options of the database store. */
export interface DatabaseStoreOptions {
  /** A database of your own (not closed by the store). */
  database?: Database
  /** A URL to open one from; default: the default `db()` of @beaver-kit/database. */
  url?: string
  /** Table name. Default `beaver_ratelimit`. */
  table?: string
}

interface Row {
  state: string | null
  expires_at: number | string
  blocked_until: number | string
}

/** Expired rows are swept at most this often. */
const SWEEP_EVERY_MS = 60_000

/**
 * PostgreSQL, MariaDB/MySQL or SQLite through @beaver-kit/database: one row per key, read
 * under a row lock (`FOR UPDATE`; SQLite serializes writers) in one transaction with every
 * limit of the call, keys locked in sorted order so two calls never deadlock.
 */
export class DatabaseStore implements RateLimitStore {
  readonly name = 'database'
  readonly #options: DatabaseStoreOptions
  readonly #table: string
  #opening: Promise<Database> | undefined
  #owns = false
  #lastSweep = 0

  constructor(options: DatabaseStoreOptions = {}) {
    this.#options = options
    this.#table = options.table ?? 'beaver_ratelimit'
  }

  #db(): Promise<Database> {
    this.#opening ??= (async () => {
      const dbm = await importPeer(
        '@beaver-kit/database',
        () => import('@beaver-kit/database'),
        'the database rate-limit store',
      )
      const { database, owned } = await dbm.openStoreDatabase({
        database: this.#options.database,
        url: this.#options.url,
      })
      this.#owns = owned
      const { sql } = dbm
      await database.ready()
      const text = database.dialect === 'mysql' ? 'VARCHAR(255)' : 'TEXT'
      const create = () =>
        database.execute(
          sql`CREATE TABLE IF NOT EXISTS ${sql.id(this.#table)} (k ${sql.raw(text)} PRIMARY KEY, state TEXT, expires_at BIGINT NOT NULL, blocked_until BIGINT NOT NULL)`,
        )
      // Two processes creating the table at once: PostgreSQL fails the loser on its catalog's
      // unique index even with IF NOT EXISTS; once the winner committed, a second try is a no-op.
      await create().catch(() => create())
      return database
    })()
    this.#opening.catch(() => (this.#opening = undefined))
    return this.#opening
  }

  async #lock(tx: Queryable, key: string): Promise<StoredRecord & { expiresAt: number }> {
    const { sql } = await import('@beaver-kit/database')
    const t = sql.id(this.#table)
    const insert =
      tx.dialect === 'mysql'
        ? // ON DUPLICATE KEY takes the row's exclusive lock at once; INSERT IGNORE would take a
          // shared one and deadlock with a concurrent caller upgrading it for FOR UPDATE.
          sql`INSERT INTO ${t} (k, state, expires_at, blocked_until) VALUES (${key}, NULL, 0, 0) ON DUPLICATE KEY UPDATE k = k`
        : sql`INSERT INTO ${t} (k, state, expires_at, blocked_until) VALUES (${key}, NULL, 0, 0) ON CONFLICT (k) DO NOTHING`
    await tx.execute(insert)
    const lock = tx.dialect === 'sqlite' ? sql.empty : sql` FOR UPDATE`
    const row = await tx.one<Row>(sql`SELECT state, expires_at, blocked_until FROM ${t} WHERE k = ${key}${lock}`)
    const expiresAt = Number(row.expires_at)
    return {
      state: row.state ? (JSON.parse(row.state) as State) : undefined,
      blockedUntil: Number(row.blocked_until),
      expiresAt,
    }
  }

  async apply(requests: readonly LimitRequest[], now: number, mode: Mode): Promise<StoreResult[]> {
    const db = await this.#db()
    const { sql } = await import('@beaver-kit/database')
    const t = sql.id(this.#table)
    const results = await db.transaction(
      async (tx) => {
        const order = [...new Set(requests.map((r) => r.key))].sort()
        const locked = new Map<string, StoredRecord & { expiresAt: number }>()
        for (const key of order) locked.set(key, await this.#lock(tx, key))
        const records = requests.map((r) => {
          const rec = locked.get(r.key) as StoredRecord & { expiresAt: number }
          return { state: rec.expiresAt > now ? rec.state : undefined, blockedUntil: rec.blockedUntil }
        })
        const { results, writes } = evaluate(requests, records, now, mode)
        for (const [i, w] of writes.entries()) {
          if (!w) continue
          const key = (requests[i] as LimitRequest).key
          await tx.execute(
            sql`UPDATE ${t} SET state = ${JSON.stringify(w.state)}, expires_at = ${now + w.ttlMs} WHERE k = ${key}`,
          )
        }
        return results
      },
      { retries: 5 },
    )
    if (now - this.#lastSweep > SWEEP_EVERY_MS) {
      this.#lastSweep = now
      await db
        .execute(sql`DELETE FROM ${t} WHERE expires_at < ${now} AND blocked_until < ${now}`)
        .catch(() => undefined)
    }
    return results
  }

  async block(key: string, ms: number, now: number): Promise<void> {
    const db = await this.#db()
    const { sql } = await import('@beaver-kit/database')
    await db.transaction(async (tx) => {
      await this.#lock(tx, key)
      await tx.execute(sql`UPDATE ${sql.id(this.#table)} SET blocked_until = ${ms > 0 ? now + ms : 0} WHERE k = ${key}`)
    })
  }

  async reset(key: string): Promise<void> {
    const db = await this.#db()
    const { sql } = await import('@beaver-kit/database')
    await db.execute(sql`DELETE FROM ${sql.id(this.#table)} WHERE k = ${key}`)
  }

  async ready(): Promise<void> {
    await this.#db()
  }

  async close(): Promise<void> {
    const pending = this.#opening
    this.#opening = undefined
    if (!pending || !this.#owns) return
    const db = await pending.catch(() => undefined)
    await db?.close()
  }
}
