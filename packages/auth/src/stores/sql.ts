import type { Database, Queryable, SqlQuery, SqlTag } from '@beaver-kit/database'
import { AuthError } from '../errors.ts'
import type {
  ApiKeyRecord,
  AuthStore,
  FailureCounter,
  RefreshRecord,
  RefreshUse,
  UserPatch,
  UserRecord,
} from '../store.ts'
import { authMigrations } from './sql-schema.ts'
import { API_KEY_COLUMNS, insertOf, recordOf, REFRESH_COLUMNS, USER_COLUMNS, type Row } from './sql-rows.ts'

const userOf = (r: Row): UserRecord => recordOf(USER_COLUMNS, r)
const refreshOf = (r: Row): RefreshRecord => recordOf(REFRESH_COLUMNS, r)
const apiKeyOf = (r: Row): ApiKeyRecord => recordOf(API_KEY_COLUMNS, r)

/** Options of the database store (`BEAVER_AUTH_DB_*`). */
export interface SqlAuthStoreOptions {
  /** A database of your own (never closed by the store). */
  database?: Database | undefined
  /** A URL to open one from; default: the default `db()` of @beaver-kit/database. */
  url?: string | undefined
  /** Prefix of the tables. Default `beaver_auth`. */
  table?: string | undefined
}

const num = (v: unknown): number => Number(v)

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown } | undefined)?.code === 'DB_UNIQUE_VIOLATION'
}

interface Opened {
  db: Database
  sql: SqlTag
}

/**
 * The auth repositories on PostgreSQL, MariaDB/MySQL or SQLite through @beaver-kit/database.
 * The package migrates its own tables (history in `<table>_migrations`) on first use.
 */
export function createSqlAuthStore(options: SqlAuthStoreOptions = {}): AuthStore {
  const t = options.table ?? 'beaver_auth'
  if (!/^[a-z_][a-z0-9_]{0,40}$/.test(t)) {
    throw new AuthError(
      'AUTH_OPTIONS_INVALID',
      `The auth table prefix is "${t}"; use lowercase letters, digits and _, up to 41 characters (BEAVER_AUTH_DB_TABLE).`,
    )
  }
  let opening: Promise<Opened> | undefined
  let owns = false

  function open(): Promise<Opened> {
    opening ??= (async () => {
      // Loaded on first use, so a memory-only user never loads the database package.
      const dbm = await import('@beaver-kit/database')
      const { database, owned } = await dbm.openStoreDatabase({
        database: options.database,
        url: options.url,
        migrations: (dialect) => ({ migrations: authMigrations(dialect, t), table: `${t}_migrations` }),
      })
      owns = owned
      return { db: database, sql: dbm.sql }
    })()
    opening.catch(() => (opening = undefined))
    return opening
  }

  async function run<T>(fn: (o: Opened, tables: Tables) => Promise<T>): Promise<T> {
    const o = await open()
    return fn(o, tables(o.sql))
  }

  interface Tables {
    users: SqlQuery
    refresh: SqlQuery
    oneTime: SqlQuery
    failures: SqlQuery
    apiKeys: SqlQuery
  }
  let cached: Tables | undefined
  function tables(sql: SqlTag): Tables {
    cached ??= {
      users: sql.id(`${t}_users`),
      refresh: sql.id(`${t}_refresh`),
      oneTime: sql.id(`${t}_one_time`),
      failures: sql.id(`${t}_failures`),
      apiKeys: sql.id(`${t}_api_keys`),
    }
    return cached
  }

  async function lockCounter(tx: Queryable, sql: SqlTag, table: SqlQuery, key: string): Promise<Row> {
    const insert =
      tx.dialect === 'mysql'
        ? // ON DUPLICATE KEY takes the row's exclusive lock at once (INSERT IGNORE takes a shared
          // one, which deadlocks with a concurrent caller upgrading it for FOR UPDATE).
          sql`INSERT INTO ${table} (k, count, locked_until, updated_at) VALUES (${key}, 0, 0, 0) ON DUPLICATE KEY UPDATE k = k`
        : sql`INSERT INTO ${table} (k, count, locked_until, updated_at) VALUES (${key}, 0, 0, 0) ON CONFLICT (k) DO NOTHING`
    await tx.execute(insert)
    const lock = tx.dialect === 'sqlite' ? sql.empty : sql` FOR UPDATE`
    return tx.one<Row>(sql`SELECT count, locked_until, updated_at FROM ${table} WHERE k = ${key}${lock}`)
  }

  return {
    name: 'database',
    async ready() {
      await open()
    },
    async close() {
      const pending = opening
      opening = undefined
      if (!pending || !owns) return
      const o = await pending.catch(() => undefined)
      await o?.db.close()
    },

    createUser: (u) =>
      run(async ({ db, sql }, T) => {
        try {
          await db.execute(insertOf(sql, USER_COLUMNS, T.users, u))
          return true
        } catch (err) {
          if (isUniqueViolation(err)) return false
          throw err
        }
      }),
    findUserByEmail: (email) =>
      run(async ({ db, sql }, T) => {
        const r = await db.maybeOne<Row>(sql`SELECT * FROM ${T.users} WHERE email = ${email}`)
        return r && userOf(r)
      }),
    findUserById: (id) =>
      run(async ({ db, sql }, T) => {
        const r = await db.maybeOne<Row>(sql`SELECT * FROM ${T.users} WHERE id = ${id}`)
        return r && userOf(r)
      }),
    updateUser: (id, patch: UserPatch, now) =>
      run(async ({ db, sql }, T) => {
        const sets: SqlQuery[] = [sql`updated_at = ${now}`]
        if (patch.email !== undefined) sets.push(sql`email = ${patch.email}`)
        if (patch.passwordHash !== undefined) sets.push(sql`password_hash = ${patch.passwordHash}`)
        if (patch.emailVerifiedAt !== undefined) sets.push(sql`email_verified_at = ${patch.emailVerifiedAt}`)
        if (patch.roles !== undefined) sets.push(sql`roles = ${JSON.stringify(patch.roles)}`)
        if (patch.totpSecret !== undefined) sets.push(sql`totp_secret = ${patch.totpSecret}`)
        if (patch.totpEnabledAt !== undefined) sets.push(sql`totp_enabled_at = ${patch.totpEnabledAt}`)
        try {
          const r = await db.execute(sql`UPDATE ${T.users} SET ${sql.join(sets)} WHERE id = ${id}`)
          return r.affectedRows > 0
        } catch (err) {
          if (isUniqueViolation(err)) return false
          throw err
        }
      }),

    insertRefresh: (r) =>
      run(async ({ db, sql }, T) => {
        await db.execute(insertOf(sql, REFRESH_COLUMNS, T.refresh, r))
      }),
    findRefresh: (hash) =>
      run(async ({ db, sql }, T) => {
        const r = await db.maybeOne<Row>(sql`SELECT * FROM ${T.refresh} WHERE hash = ${hash}`)
        return r && refreshOf(r)
      }),
    useRefresh: (hash, now) =>
      run(async ({ db, sql }, T): Promise<RefreshUse> => {
        // The conditional UPDATE is the claim: of two requests racing with one token, one
        // changes the row and the other finds it used (and is treated as a reuse).
        const claimed = await db.execute(
          sql`UPDATE ${T.refresh} SET used_at = ${now} WHERE hash = ${hash} AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ${now} AND family_expires_at > ${now}`,
        )
        const row = await db.maybeOne<Row>(sql`SELECT * FROM ${T.refresh} WHERE hash = ${hash}`)
        if (!row) return { state: 'unknown' }
        const record = refreshOf(row)
        if (claimed.affectedRows > 0) return { state: 'fresh', record }
        if (record.revokedAt !== null) return { state: 'revoked', record }
        if (record.usedAt !== null) return { state: 'used', record }
        return { state: 'expired', record }
      }),
    revokeFamily: (familyId, now) =>
      run(async ({ db, sql }, T) => {
        const live = await db.execute(
          sql`UPDATE ${T.refresh} SET revoked_at = ${now} WHERE family_id = ${familyId} AND revoked_at IS NULL AND used_at IS NULL`,
        )
        await db.execute(
          sql`UPDATE ${T.refresh} SET revoked_at = ${now} WHERE family_id = ${familyId} AND revoked_at IS NULL`,
        )
        return live.affectedRows
      }),
    revokeUserFamilies: (userId, now, except) =>
      run(async ({ db, sql }, T) => {
        const notFamily = except === undefined ? sql.empty : sql` AND family_id <> ${except}`
        const live = await db.execute(
          sql`UPDATE ${T.refresh} SET revoked_at = ${now} WHERE user_id = ${userId} AND revoked_at IS NULL AND used_at IS NULL${notFamily}`,
        )
        await db.execute(
          sql`UPDATE ${T.refresh} SET revoked_at = ${now} WHERE user_id = ${userId} AND revoked_at IS NULL${notFamily}`,
        )
        return live.affectedRows
      }),

    insertOneTime: (r) =>
      run(async ({ db, sql }, T) => {
        await db.execute(
          sql`INSERT INTO ${T.oneTime} (hash, purpose, user_id, expires_at) VALUES (${r.hash}, ${r.purpose}, ${r.userId}, ${r.expiresAt})`,
        )
        // Expired tokens of the user are swept as new ones come, so the table stays small.
        await db.execute(
          sql`DELETE FROM ${T.oneTime} WHERE user_id = ${r.userId} AND expires_at < ${r.expiresAt - 2_592_000_000}`,
        )
      }),
    consumeOneTime: (hash, purpose, now) =>
      run(({ db, sql }, T) =>
        db.transaction(async (tx) => {
          const lock = tx.dialect === 'sqlite' ? sql.empty : sql` FOR UPDATE`
          const row = await tx.maybeOne<Row>(
            sql`SELECT user_id, expires_at FROM ${T.oneTime} WHERE hash = ${hash} AND purpose = ${purpose}${lock}`,
          )
          if (!row) return undefined
          const gone = await tx.execute(sql`DELETE FROM ${T.oneTime} WHERE hash = ${hash}`)
          return gone.affectedRows > 0 && num(row.expires_at) > now ? String(row.user_id) : undefined
        }),
      ),
    deleteOneTimeFor: (userId, purpose) =>
      run(async ({ db, sql }, T) => {
        await db.execute(sql`DELETE FROM ${T.oneTime} WHERE user_id = ${userId} AND purpose = ${purpose}`)
      }),

    claimTotpStep: (userId, step) =>
      run(async ({ db, sql }, T) => {
        // The conditional UPDATE is the guard: two servers given the same code, one wins.
        const r = await db.execute(
          sql`UPDATE ${T.users} SET totp_last_step = ${step} WHERE id = ${userId} AND (totp_last_step IS NULL OR totp_last_step < ${step})`,
        )
        return r.affectedRows > 0
      }),
    getFailures: (key) =>
      run(async ({ db, sql }, T) => {
        const r = await db.maybeOne<Row>(
          sql`SELECT count, locked_until, updated_at FROM ${T.failures} WHERE k = ${key}`,
        )
        return r && { count: num(r.count), lockedUntil: num(r.locked_until), updatedAt: num(r.updated_at) }
      }),
    updateFailures: (key, next) =>
      run(({ db, sql }, T) =>
        db.transaction(
          async (tx) => {
            const r = await lockCounter(tx, sql, T.failures, key)
            const previous: FailureCounter | undefined =
              num(r.updated_at) === 0
                ? undefined
                : { count: num(r.count), lockedUntil: num(r.locked_until), updatedAt: num(r.updated_at) }
            const c = next(previous)
            await tx.execute(
              sql`UPDATE ${T.failures} SET count = ${c.count}, locked_until = ${c.lockedUntil}, updated_at = ${c.updatedAt} WHERE k = ${key}`,
            )
            return c
          },
          { retries: 5 },
        ),
      ),
    clearFailures: (key) =>
      run(async ({ db, sql }, T) => {
        await db.execute(sql`DELETE FROM ${T.failures} WHERE k = ${key}`)
      }),

    insertApiKey: (k: ApiKeyRecord) =>
      run(async ({ db, sql }, T) => {
        await db.execute(insertOf(sql, API_KEY_COLUMNS, T.apiKeys, k))
      }),
    findApiKey: (id) =>
      run(async ({ db, sql }, T) => {
        const r = await db.maybeOne<Row>(sql`SELECT * FROM ${T.apiKeys} WHERE id = ${id}`)
        return r && apiKeyOf(r)
      }),
    listApiKeys: (userId) =>
      run(async ({ db, sql }, T) => {
        const rows = await db.many<Row>(sql`SELECT * FROM ${T.apiKeys} WHERE user_id = ${userId} ORDER BY created_at`)
        return rows.map(apiKeyOf)
      }),
    touchApiKey: (id, now) =>
      run(async ({ db, sql }, T) => {
        await db.execute(sql`UPDATE ${T.apiKeys} SET last_used_at = ${now} WHERE id = ${id}`)
      }),
    revokeApiKey: (id, userId, now) =>
      run(async ({ db, sql }, T) => {
        const r = await db.execute(
          sql`UPDATE ${T.apiKeys} SET revoked_at = ${now} WHERE id = ${id} AND user_id = ${userId} AND revoked_at IS NULL`,
        )
        return r.affectedRows > 0
      }),
  }
}
