/** One suppressed address or number, and why. */
export interface SuppressionEntry {
  readonly key: string
  /** `hard-bounce`, `complaint`, `opt-out`, `manual`, or your own word. */
  readonly reason: string
  /** Where it came from: the provider of the event, `inbound`, `api`. */
  readonly source: string | undefined
  readonly createdAt: Date
}

/**
 * The recipients a sender must not message again (hard bounces, complaints, SMS opt-outs).
 * Keys are normalized by the caller (lower-case addresses, E.164 numbers) before they get here.
 */
export interface SuppressionList {
  /** Which of `keys` are suppressed, in one round trip where the store allows. */
  check(keys: readonly string[]): Promise<Set<string>>
  get(key: string): Promise<SuppressionEntry | undefined>
  /** Adds or replaces the entry of `key`. */
  add(key: string, entry: { reason: string; source?: string | undefined }): Promise<void>
  /** Resolves whether the key was suppressed. */
  remove(key: string): Promise<boolean>
}

/**
 * A suppression list in process memory, for development and tests; it refuses to grow past
 * `maxEntries` instead of forgetting someone who asked not to be contacted.
 */
export function createMemorySuppressionList(options: { maxEntries?: number } = {}): SuppressionList {
  const { maxEntries = 100_000 } = options
  const entries = new Map<string, SuppressionEntry>()
  return {
    check: async (keys) => new Set(keys.filter((k) => entries.has(k))),
    get: async (key) => entries.get(key),
    async add(key, { reason, source }) {
      if (!entries.has(key) && entries.size >= maxEntries) {
        throw new RangeError(
          `The memory suppression list holds its maximum of ${maxEntries} entries; use a cache or database list.`,
        )
      }
      entries.set(key, Object.freeze({ key, reason, source, createdAt: new Date() }))
    },
    remove: async (key) => entries.delete(key),
  }
}

/** What the cache-backed list needs of a `@beaver-kit/cache` Cache (or a namespace of one). */
export interface SuppressionCache {
  get(key: string): Promise<unknown>
  getMany?(keys: readonly string[]): Promise<unknown[]>
  set(key: string, value: unknown, options?: { ttl?: number }): Promise<void>
  delete(key: string): Promise<boolean>
}

interface StoredEntry {
  reason: string
  source?: string
  createdAt: string
}

function fromStored(key: string, value: unknown): SuppressionEntry | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const v = value as Partial<StoredEntry>
  if (typeof v.reason !== 'string') return undefined
  return Object.freeze({
    key,
    reason: v.reason,
    source: typeof v.source === 'string' ? v.source : undefined,
    createdAt: new Date(typeof v.createdAt === 'string' ? v.createdAt : 0),
  })
}

/**
 * A suppression list in any `@beaver-kit/cache` store (Redis, database, Cloudflare KV...),
 * entries kept without expiry under `prefix` (default `suppressed:`).
 * @example const list = createCacheSuppressionList(cache().namespace('mail'))
 */
export function createCacheSuppressionList(
  cache: SuppressionCache,
  options: { prefix?: string } = {},
): SuppressionList {
  const { prefix = 'suppressed:' } = options
  return {
    async check(keys) {
      const full = keys.map((k) => prefix + k)
      const values = cache.getMany ? await cache.getMany(full) : await Promise.all(full.map((k) => cache.get(k)))
      return new Set(keys.filter((_, i) => values[i] !== undefined && values[i] !== null))
    },
    get: async (key) => fromStored(key, await cache.get(prefix + key)),
    async add(key, { reason, source }) {
      const value: StoredEntry = { reason, createdAt: new Date().toISOString(), ...(source ? { source } : {}) }
      await cache.set(prefix + key, value, { ttl: Infinity })
    },
    remove: (key) => cache.delete(prefix + key),
  }
}

/** What the database-backed list needs of a `@beaver-kit/database` Database. */
export interface SuppressionDatabase {
  readonly dialect: 'postgres' | 'mysql' | 'sqlite'
  query(text: string, params?: readonly unknown[]): Promise<{ rows: readonly unknown[] }>
  execute(text: string, params?: readonly unknown[]): Promise<{ affectedRows: number }>
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/

/**
 * A suppression list in a SQL table (PostgreSQL, MySQL/MariaDB, SQLite through
 * `@beaver-kit/database`), created on first use. `list` separates the lists of several senders
 * sharing the table (`mail`, `sms`).
 * @example const list = createDatabaseSuppressionList(db(), { list: 'mail' })
 */
export function createDatabaseSuppressionList(
  db: SuppressionDatabase,
  options: { table?: string; list?: string } = {},
): SuppressionList {
  const { table = 'beaver_suppressions', list = 'default' } = options
  if (!IDENTIFIER.test(table)) {
    throw new TypeError(`The suppression table name must be lower-case letters, digits and _, got "${table}"`)
  }
  const p = (n: number): string => (db.dialect === 'postgres' ? `$${n}` : '?')
  let created: Promise<unknown> | undefined
  const ready = (): Promise<unknown> =>
    (created ??= db
      .execute(
        `create table if not exists ${table} (list varchar(64) not null, entry varchar(320) not null, reason varchar(64) not null, source varchar(64), created_at varchar(32) not null, primary key (list, entry))`,
      )
      .catch((err: unknown) => {
        created = undefined
        throw err
      }))

  return {
    async check(keys) {
      if (keys.length === 0) return new Set()
      await ready()
      const found = new Set<string>()
      // Bounded IN lists: a batch of 10,000 recipients is 20 statements, not one huge one.
      for (let i = 0; i < keys.length; i += 500) {
        const chunk = keys.slice(i, i + 500)
        const { rows } = await db.query(
          `select entry from ${table} where list = ${p(1)} and entry in (${chunk.map((_, j) => p(j + 2)).join(', ')})`,
          [list, ...chunk],
        )
        for (const row of rows) found.add(String((row as { entry: unknown }).entry))
      }
      return found
    },
    async get(key) {
      await ready()
      const { rows } = await db.query(
        `select reason, source, created_at from ${table} where list = ${p(1)} and entry = ${p(2)}`,
        [list, key],
      )
      const row = rows[0] as { reason: string; source: string | null; created_at: string } | undefined
      if (!row) return undefined
      return Object.freeze({
        key,
        reason: row.reason,
        source: row.source ?? undefined,
        createdAt: new Date(row.created_at),
      })
    },
    async add(key, { reason, source }) {
      await ready()
      const values = [list, key, reason.slice(0, 64), source?.slice(0, 64) ?? null, new Date().toISOString()]
      const insert = `insert into ${table} (list, entry, reason, source, created_at) values (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)})`
      await db.execute(
        db.dialect === 'mysql'
          ? `${insert} on duplicate key update reason = values(reason), source = values(source)`
          : `${insert} on conflict (list, entry) do update set reason = excluded.reason, source = excluded.source`,
        values,
      )
    },
    async remove(key) {
      await ready()
      const { affectedRows } = await db.execute(`delete from ${table} where list = ${p(1)} and entry = ${p(2)}`, [
        list,
        key,
      ])
      return affectedRows > 0
    },
  }
}
