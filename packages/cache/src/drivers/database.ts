import type { Database, Dialect, Migration, Queryable, SqlQuery, SqlTag } from '@beaver-kit/database'
import { importPeer } from '@beaver-kit/core'
import { CacheError } from '../errors.ts'
import {
  defineCacheDriver,
  type CacheDriver,
  storeCapabilities,
  type DriverEntry,
  type DriverRow,
  type EntriesQuery,
} from '../driver.ts'
import { expiresAt, isLive, remaining, systemClock, type Clock } from '../expiry.ts'
import { utf8 } from '../serializers.ts'

/** Options of the database driver: the `BEAVER_CACHE_DB_*` settings (durations in ms) and a database you own. */
export interface DatabaseCacheOptions {
  /** `postgres://`, `mysql://`, `sqlite:./file.db`; unset uses the default `db()` of @beaver-kit/database. */
  url?: string | undefined
  /** Table holding the entries. Default `beaver_cache`. */
  table?: string | undefined
  /** Run the table's migration on first use. Default true. */
  migrate?: boolean | undefined
  /** ms between sweeps of expired rows; 0 disables them. */
  sweepInterval?: number | undefined
  /** Most rows one sweep statement deletes. */
  sweepBatch?: number | undefined
  /** Send reads to a replica when the database has one. */
  readFromReplica?: boolean | undefined
  /** A database you own: reused as it is, never closed by the cache. */
  database?: Database | undefined
  /** The clock expiries are written and checked with; default the wall clock. */
  now?: Clock | undefined
}

/** Longest key and namespace the table holds (MySQL index limits: 191 + 512 utf8mb4 characters). */
export const DATABASE_MAX_KEY_LENGTH = 512
export const DATABASE_MAX_NAMESPACE_LENGTH = 191
const ROWS_PER_STATEMENT = 500
// Every transaction here only touches the cache table, so running it again after a deadlock or
// serialization failure is safe (the database package retries only when asked).
const RETRY_SAFE = { retries: 3 } as const

interface Row {
  key: string
  value: Uint8Array
  expires_at: number | string | bigint | null
}

/**
 * The migration that creates the cache table and its indexes for a dialect: key and
 * namespace (primary key), value bytes, expires_at (ms since epoch, indexed, NULL = never),
 * created_at and updated_at (ms, indexed with the namespace for `entries()`).
 * Add it to your own migrations instead when BEAVER_CACHE_DB_MIGRATE=false.
 */
export function cacheTableMigration(table: string, dialect: Dialect): Migration {
  const q = (name: string): string => (dialect === 'mysql' ? `\`${name}\`` : `"${name}"`)
  const t = q(table)
  let up: string
  if (dialect === 'mysql') {
    up = `CREATE TABLE IF NOT EXISTS ${t} (
  ${q('namespace')} varchar(${DATABASE_MAX_NAMESPACE_LENGTH}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  ${q('key')} varchar(${DATABASE_MAX_KEY_LENGTH}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  ${q('value')} longblob NOT NULL,
  ${q('expires_at')} bigint NULL,
  ${q('created_at')} bigint NOT NULL,
  ${q('updated_at')} bigint NOT NULL,
  PRIMARY KEY (${q('namespace')}, ${q('key')}),
  KEY ${q(`${table}_expires_at_idx`)} (${q('expires_at')}),
  KEY ${q(`${table}_updated_at_idx`)} (${q('namespace')}, ${q('updated_at')})
) ENGINE=InnoDB;`
  } else {
    const pg = dialect === 'postgres'
    up = `CREATE TABLE IF NOT EXISTS ${t} (
  ${q('namespace')} ${pg ? `varchar(${DATABASE_MAX_NAMESPACE_LENGTH})` : 'TEXT'} NOT NULL,
  ${q('key')} ${pg ? `varchar(${DATABASE_MAX_KEY_LENGTH})` : 'TEXT'} NOT NULL,
  ${q('value')} ${pg ? 'bytea' : 'BLOB'} NOT NULL,
  ${q('expires_at')} ${pg ? 'bigint' : 'INTEGER'},
  ${q('created_at')} ${pg ? 'bigint' : 'INTEGER'} NOT NULL,
  ${q('updated_at')} ${pg ? 'bigint' : 'INTEGER'} NOT NULL,
  PRIMARY KEY (${q('namespace')}, ${q('key')})
)${pg ? '' : ' WITHOUT ROWID'};
CREATE INDEX IF NOT EXISTS ${q(`${table}_expires_at_idx`)} ON ${t} (${q('expires_at')});
CREATE INDEX IF NOT EXISTS ${q(`${table}_updated_at_idx`)} ON ${t} (${q('namespace')}, ${q('updated_at')});`
  }
  return { id: `beaver_cache_${table}_0001_create`, up, down: `DROP TABLE IF EXISTS ${t};` }
}

/**
 * The migrator of a cache table. Its history lives in `<table>_migrations`, not in the
 * application's migrations table, whose own migrator would otherwise find an applied
 * migration without a file.
 */
export function cacheTableMigrator(db: Database, table = 'beaver_cache'): ReturnType<Database['migrator']> {
  return db.migrator({ migrations: [cacheTableMigration(table, db.dialect)], table: `${table}_migrations` })
}

/** Drops a cache table and its migration history (uninstall, tests). */
export async function dropCacheTable(db: Database, table = 'beaver_cache'): Promise<void> {
  await cacheTableMigrator(db, table).down()
  await db.exec(`DROP TABLE IF EXISTS ${db.dialect === 'mysql' ? `\`${table}_migrations\`` : `"${table}_migrations"`}`)
}

function msOf(v: number | string | bigint | null): number | undefined {
  return v === null ? undefined : Number(v)
}

function likeEscape(text: string): string {
  return text.replace(/[\\%_]/g, '\\$&')
}

/**
 * Entries in a table of PostgreSQL, MySQL/MariaDB or SQLite through @beaver-kit/database:
 * upserts, multi-row batches, atomic increments in a transaction, expired rows hidden at
 * once and deleted by a bounded background sweep, and audit-style `entries()` queries.
 */
export class DatabaseStore implements CacheDriver {
  readonly name = 'database'
  readonly capabilities = storeCapabilities({ atomicIncrement: true, query: true })
  readonly db: Database
  readonly #sql: SqlTag
  readonly #owned: boolean
  readonly #table: SqlQuery
  readonly #tableName: string
  readonly #read: { replica: boolean }
  readonly #sweepBatch: number
  readonly #migrate: boolean
  readonly #now: Clock
  #ready: Promise<void> | undefined
  #timer: NodeJS.Timeout | undefined
  #sweeping = false
  #closing: Promise<void> | undefined

  constructor(db: Database, sql: SqlTag, owned: boolean, options: DatabaseCacheOptions) {
    this.db = db
    this.#sql = sql
    this.#owned = owned
    this.#tableName = options.table ?? 'beaver_cache'
    this.#table = sql.id(this.#tableName)
    this.#read = { replica: options.readFromReplica === true }
    this.#sweepBatch = options.sweepBatch ?? 500
    this.#migrate = options.migrate !== false
    this.#now = options.now ?? systemClock
    const interval = options.sweepInterval ?? 60_000
    if (interval > 0) {
      this.#timer = setInterval(() => {
        if (this.#sweeping || this.#ready === undefined) return
        this.#sweeping = true
        this.sweep()
          .catch(() => undefined)
          .finally(() => {
            this.#sweeping = false
          })
      }, interval)
      this.#timer.unref()
    }
  }

  get #dialect(): Dialect {
    return this.db.dialect
  }

  /** Runs the table's migration once (when `migrate` is on). */
  ready(): Promise<void> {
    this.#ready ??= (async () => {
      if (!this.#migrate) return
      await cacheTableMigrator(this.db, this.#tableName).up()
    })().catch((err: unknown) => {
      this.#ready = undefined
      throw err
    })
    return this.#ready
  }

  #check(ns: string, key?: string): void {
    if (ns.length > DATABASE_MAX_NAMESPACE_LENGTH) {
      throw new CacheError(
        'CACHE_KEY_INVALID',
        `A namespace of ${ns.length} characters is longer than the ${DATABASE_MAX_NAMESPACE_LENGTH} the cache table holds.`,
        { details: { length: ns.length, max: DATABASE_MAX_NAMESPACE_LENGTH } },
      )
    }
    if (key !== undefined && key.length > DATABASE_MAX_KEY_LENGTH) {
      throw new CacheError(
        'CACHE_KEY_INVALID',
        `A key of ${key.length} characters is longer than the ${DATABASE_MAX_KEY_LENGTH} the cache table holds; hash long keys.`,
        {
          details: { length: key.length, max: DATABASE_MAX_KEY_LENGTH },
        },
      )
    }
  }

  #live(now: number): SqlQuery {
    const sql = this.#sql
    return sql`(${sql.id('expires_at')} IS NULL OR ${sql.id('expires_at')} > ${now})`
  }

  async get(ns: string, key: string): Promise<Uint8Array | undefined> {
    this.#check(ns, key)
    await this.ready()
    const sql = this.#sql
    const row = await this.db.maybeOne<Row>(
      sql`SELECT ${sql.id('value')} AS ${sql.id('value')} FROM ${this.#table} WHERE ${sql.id('namespace')} = ${ns} AND ${sql.id('key')} = ${key} AND ${this.#live(this.#now())}`,
      this.#read,
    )
    return row === undefined ? undefined : bytes(row.value)
  }

  async has(ns: string, key: string): Promise<boolean> {
    const v = await this.get(ns, key)
    return v !== undefined && v.byteLength > 0
  }

  async set(ns: string, key: string, value: unknown, ttlMs: number | undefined): Promise<void> {
    await this.setMany(ns, [{ key, value, ttlMs }])
  }

  #upsert(ns: string, list: readonly DriverEntry[], now: number): SqlQuery {
    const sql = this.#sql
    const rows = list.map(
      (e) =>
        sql`(${ns}, ${e.key}, ${toBuffer(e.value as Uint8Array)}, ${expiresAt(e.ttlMs, now) ?? null}, ${now}, ${now})`,
    )
    const cols = sql.join(['namespace', 'key', 'value', 'expires_at', 'created_at', 'updated_at'].map((c) => sql.id(c)))
    const head = sql`INSERT INTO ${this.#table} (${cols}) VALUES ${sql.join(rows)}`
    const [value, expires, updated] = [sql.id('value'), sql.id('expires_at'), sql.id('updated_at')]
    if (this.#dialect === 'mysql') {
      return sql`${head} ON DUPLICATE KEY UPDATE ${value} = VALUES(${value}), ${expires} = VALUES(${expires}), ${updated} = VALUES(${updated})`
    }
    return sql`${head} ON CONFLICT (${sql.id('namespace')}, ${sql.id('key')}) DO UPDATE SET ${value} = excluded.${value}, ${expires} = excluded.${expires}, ${updated} = excluded.${updated}`
  }

  async setMany(ns: string, entries: readonly DriverEntry[]): Promise<void> {
    this.#check(ns)
    for (const e of entries) this.#check(ns, e.key)
    await this.ready()
    const now = this.#now()
    if (entries.length <= ROWS_PER_STATEMENT) {
      await this.db.execute(this.#upsert(ns, entries, now))
      return
    }
    await this.db.transaction(async (tx) => {
      for (let i = 0; i < entries.length; i += ROWS_PER_STATEMENT)
        await tx.execute(this.#upsert(ns, entries.slice(i, i + ROWS_PER_STATEMENT), now))
    }, RETRY_SAFE)
  }

  async getMany(ns: string, keys: readonly string[]): Promise<Array<Uint8Array | undefined>> {
    this.#check(ns)
    for (const k of keys) this.#check(ns, k)
    await this.ready()
    const sql = this.#sql
    const found = new Map<string, Uint8Array>()
    const now = this.#now()
    for (let i = 0; i < keys.length; i += ROWS_PER_STATEMENT) {
      const chunk = keys.slice(i, i + ROWS_PER_STATEMENT)
      const rows = await this.db.many<Row>(
        sql`SELECT ${sql.id('key')} AS ${sql.id('key')}, ${sql.id('value')} AS ${sql.id('value')} FROM ${this.#table} WHERE ${sql.id('namespace')} = ${ns} AND ${sql.id('key')} IN (${sql.list(chunk)}) AND ${this.#live(now)}`,
        this.#read,
      )
      for (const r of rows) found.set(r.key, bytes(r.value))
    }
    return keys.map((k) => found.get(k))
  }

  async delete(ns: string, key: string): Promise<boolean> {
    return (await this.deleteMany(ns, [key])) > 0
  }

  async deleteMany(ns: string, keys: readonly string[]): Promise<number> {
    this.#check(ns)
    await this.ready()
    const sql = this.#sql
    let n = 0
    const now = this.#now()
    for (let i = 0; i < keys.length; i += ROWS_PER_STATEMENT) {
      const chunk = keys.slice(i, i + ROWS_PER_STATEMENT)
      const r = await this.db.execute(
        sql`DELETE FROM ${this.#table} WHERE ${sql.id('namespace')} = ${ns} AND ${sql.id('key')} IN (${sql.list(chunk)}) AND ${this.#live(now)}`,
      )
      n += r.affectedRows
    }
    return n
  }

  async pull(ns: string, key: string): Promise<Uint8Array | undefined> {
    this.#check(ns, key)
    await this.ready()
    const sql = this.#sql
    return this.db.transaction(async (tx) => {
      const row = await tx.maybeOne<Row>(this.#selectForUpdate(ns, key))
      if (row === undefined) return undefined
      await tx.execute(
        sql`DELETE FROM ${this.#table} WHERE ${sql.id('namespace')} = ${ns} AND ${sql.id('key')} = ${key}`,
      )
      return isLive(msOf(row.expires_at), this.#now()) ? bytes(row.value) : undefined
    }, RETRY_SAFE)
  }

  #selectForUpdate(ns: string, key: string): SqlQuery {
    const sql = this.#sql
    const lock = this.#dialect === 'sqlite' ? sql`` : sql` FOR UPDATE`
    return sql`SELECT ${sql.id('key')} AS ${sql.id('key')}, ${sql.id('value')} AS ${sql.id('value')}, ${sql.id('expires_at')} AS ${sql.id('expires_at')} FROM ${this.#table} WHERE ${sql.id('namespace')} = ${ns} AND ${sql.id('key')} = ${key}${lock}`
  }

  async increment(ns: string, key: string, by: number, ttlMs: number | undefined): Promise<number> {
    this.#check(ns, key)
    await this.ready()
    const sql = this.#sql
    return this.db.transaction(async (tx) => {
      const now = this.#now()
      // Make sure the row exists first, so the locking read below always has a row to lock
      // (two first increments must not both start from zero).
      await this.#insertIfMissing(tx, ns, key, now, ttlMs)
      const row = (await tx.maybeOne<Row>(this.#selectForUpdate(ns, key))) as Row
      const expired = !isLive(msOf(row.expires_at), now)
      const text = utf8(bytes(row.value))
      if (!expired && !/^-?\d{1,16}$/.test(text)) {
        throw new CacheError(
          'CACHE_NOT_A_NUMBER',
          'The value is not an integer, so it cannot be incremented; delete it or use set().',
        )
      }
      const next = (expired ? 0 : Number(text)) + by
      const expires = expired ? (expiresAt(ttlMs, now) ?? null) : (msOf(row.expires_at) ?? null)
      await tx.execute(
        sql`UPDATE ${this.#table} SET ${sql.id('value')} = ${Buffer.from(String(next))}, ${sql.id('expires_at')} = ${expires}, ${sql.id('updated_at')} = ${now} WHERE ${sql.id('namespace')} = ${ns} AND ${sql.id('key')} = ${key}`,
      )
      return next
    }, RETRY_SAFE)
  }

  async #insertIfMissing(
    tx: Queryable,
    ns: string,
    key: string,
    now: number,
    ttlMs: number | undefined,
  ): Promise<void> {
    const sql = this.#sql
    const cols = sql.join(['namespace', 'key', 'value', 'expires_at', 'created_at', 'updated_at'].map((c) => sql.id(c)))
    const values = sql`(${ns}, ${key}, ${Buffer.from('0')}, ${expiresAt(ttlMs, now) ?? null}, ${now}, ${now})`
    if (this.#dialect === 'mysql') {
      await tx.execute(
        sql`INSERT INTO ${this.#table} (${cols}) VALUES ${values} ON DUPLICATE KEY UPDATE ${sql.id('namespace')} = ${sql.id('namespace')}`,
      )
    } else {
      await tx.execute(
        sql`INSERT INTO ${this.#table} (${cols}) VALUES ${values} ON CONFLICT (${sql.id('namespace')}, ${sql.id('key')}) DO NOTHING`,
      )
    }
  }

  async ttl(ns: string, key: string): Promise<number | undefined> {
    this.#check(ns, key)
    await this.ready()
    const sql = this.#sql
    const now = this.#now()
    const row = await this.db.maybeOne<Row>(
      sql`SELECT ${sql.id('expires_at')} AS ${sql.id('expires_at')} FROM ${this.#table} WHERE ${sql.id('namespace')} = ${ns} AND ${sql.id('key')} = ${key} AND ${this.#live(now)}`,
      this.#read,
    )
    if (row === undefined) return undefined
    return remaining(msOf(row.expires_at), now)
  }

  async touch(ns: string, key: string, ttlMs: number | undefined): Promise<boolean> {
    this.#check(ns, key)
    await this.ready()
    const sql = this.#sql
    const now = this.#now()
    const r = await this.db.execute(
      sql`UPDATE ${this.#table} SET ${sql.id('expires_at')} = ${expiresAt(ttlMs, now) ?? null}, ${sql.id('updated_at')} = ${now} WHERE ${sql.id('namespace')} = ${ns} AND ${sql.id('key')} = ${key} AND ${this.#live(now)}`,
    )
    return r.affectedRows > 0
  }

  async clear(ns: string): Promise<void> {
    await this.ready()
    const sql = this.#sql
    if (ns === '') {
      await this.db.execute(sql`DELETE FROM ${this.#table}`)
      return
    }
    const nested = `${likeEscape(ns)}:%`
    await this.db.execute(
      sql`DELETE FROM ${this.#table} WHERE ${sql.id('namespace')} = ${ns} OR ${sql.id('namespace')} LIKE ${nested} ESCAPE ${'\\'}`,
    )
  }

  async entries(ns: string, query: EntriesQuery): Promise<DriverRow[]> {
    this.#check(ns)
    await this.ready()
    const sql = this.#sql
    const now = this.#now()
    const limit = Math.min(Math.max(1, Math.floor(query.limit ?? 1000)), 10_000)
    const where = [sql`${sql.id('namespace')} = ${ns}`, this.#live(now)]
    if (query.prefix) where.push(sql`${sql.id('key')} LIKE ${`${likeEscape(query.prefix)}%`} ESCAPE ${'\\'}`)
    if (query.updatedSince) where.push(sql`${sql.id('updated_at')} >= ${query.updatedSince.getTime()}`)
    const cols = sql.join(
      ['namespace', 'key', 'value', 'expires_at', 'created_at', 'updated_at'].map(
        (c) => sql`${sql.id(c)} AS ${sql.id(c)}`,
      ),
    )
    const rows = await this.db.many<
      Row & { namespace: string; created_at: number | string; updated_at: number | string }
    >(
      sql`SELECT ${cols} FROM ${this.#table} WHERE ${sql.join(where, sql` AND `)} ORDER BY ${sql.id('updated_at')} DESC LIMIT ${limit}`,
      this.#read,
    )
    return rows.map((r) => ({
      namespace: r.namespace,
      key: r.key,
      value: bytes(r.value),
      expiresAt: msOf(r.expires_at),
      createdAt: Number(r.created_at),
      updatedAt: Number(r.updated_at),
    }))
  }

  /** Deletes up to `sweepBatch` expired rows per statement, at most `rounds` statements; resolves how many. */
  async sweep(rounds = 10): Promise<number> {
    await this.ready()
    const sql = this.#sql
    let total = 0
    for (let i = 0; i < rounds; i++) {
      const now = this.#now()
      const expired = sql`${sql.id('expires_at')} IS NOT NULL AND ${sql.id('expires_at')} <= ${now}`
      const statement =
        this.#dialect === 'mysql'
          ? sql`DELETE FROM ${this.#table} WHERE ${expired} LIMIT ${this.#sweepBatch}`
          : sql`DELETE FROM ${this.#table} WHERE (${sql.id('namespace')}, ${sql.id('key')}) IN (SELECT ${sql.id('namespace')}, ${sql.id('key')} FROM ${this.#table} WHERE ${expired} LIMIT ${this.#sweepBatch})`
      const r = await this.db.execute(statement)
      total += r.affectedRows
      if (r.affectedRows < this.#sweepBatch) break
    }
    return total
  }

  /** Deletes every expired row, `sweepBatch` rows per statement. */
  purgeExpired(): Promise<number> {
    return this.sweep(Number.MAX_SAFE_INTEGER)
  }

  async ping(): Promise<void> {
    await this.db.ping()
    await this.ready()
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#timer) clearInterval(this.#timer)
      this.#timer = undefined
      if (this.#owned) await this.db.close()
    })()
    return this.#closing
  }
}

function bytes(v: Uint8Array | string): Uint8Array {
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : v
}

function toBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength)
}

/**
 * The database driver definition (registered as `database`; needs the optional peer
 * `@beaver-kit/database` and that package's driver for your database).
 * @example
 * import { databaseDriver } from '@beaver-kit/cache/database'
 * const cache = createCache({ driver: databaseDriver, db: { url: 'postgres://app@db/app', table: 'app_cache' } })
 */
export const databaseDriver = defineCacheDriver<DatabaseCacheOptions>({
  name: 'database',
  peers: ['@beaver-kit/database'],
  section: 'db',
  async create(options) {
    const m = await importPeer(
      '@beaver-kit/database',
      () => import('@beaver-kit/database'),
      'the database cache driver',
    )
    const owned = options.database === undefined && options.url !== undefined
    const db =
      options.database ??
      (options.url !== undefined ? m.createDatabase({ url: options.url, envPrefix: false }) : m.db())
    return new DatabaseStore(db, m.sql, owned, options)
  },
})
