import type { SqlQuery, SqlTag } from '@beaver-kit/database'
import type { ApiKeyRecord, RefreshRecord, UserRecord } from '../store.ts'

/** How a field is stored: text, an epoch-ms number (BIGINT comes back as a string on some drivers), or a JSON list. */
type Kind = 'text' | 'text?' | 'number' | 'number?' | 'json'

/** A record type's columns: each field to its column and how it is stored; one table of truth for reads and inserts. */
type RowSpec<T> = { readonly [K in keyof T]-?: readonly [column: string, kind: Kind] }

export type Row = Record<string, unknown>

export const USER_COLUMNS: RowSpec<UserRecord> = {
  id: ['id', 'text'],
  email: ['email', 'text'],
  passwordHash: ['password_hash', 'text'],
  emailVerifiedAt: ['email_verified_at', 'number?'],
  roles: ['roles', 'json'],
  totpSecret: ['totp_secret', 'text?'],
  totpEnabledAt: ['totp_enabled_at', 'number?'],
  createdAt: ['created_at', 'number'],
  updatedAt: ['updated_at', 'number'],
}

export const REFRESH_COLUMNS: RowSpec<RefreshRecord> = {
  hash: ['hash', 'text'],
  familyId: ['family_id', 'text'],
  userId: ['user_id', 'text'],
  createdAt: ['created_at', 'number'],
  expiresAt: ['expires_at', 'number'],
  familyExpiresAt: ['family_expires_at', 'number'],
  usedAt: ['used_at', 'number?'],
  revokedAt: ['revoked_at', 'number?'],
}

export const API_KEY_COLUMNS: RowSpec<ApiKeyRecord> = {
  id: ['id', 'text'],
  userId: ['user_id', 'text'],
  name: ['name', 'text'],
  hash: ['hash', 'text'],
  scopes: ['scopes', 'json'],
  createdAt: ['created_at', 'number'],
  expiresAt: ['expires_at', 'number?'],
  lastUsedAt: ['last_used_at', 'number?'],
  revokedAt: ['revoked_at', 'number?'],
}

function read(value: unknown, kind: Kind): unknown {
  if (kind.endsWith('?') && (value === null || value === undefined)) return null
  if (kind === 'json') return JSON.parse(String(value)) as unknown
  return kind.startsWith('number') ? Number(value) : String(value)
}

/** The record of a row, field by field as the spec says. */
export function recordOf<T>(spec: RowSpec<T>, row: Row): T {
  const out: Record<string, unknown> = {}
  for (const [field, [column, kind]] of Object.entries(spec) as Array<[string, readonly [string, Kind]]>)
    out[field] = read(row[column], kind)
  return out as T
}

/** `INSERT INTO <table> (<every column>) VALUES (<every value, bound>)` for a record. */
export function insertOf<T>(sql: SqlTag, spec: RowSpec<T>, table: SqlQuery, record: T): SqlQuery {
  const entries = Object.entries(spec) as Array<[keyof T & string, readonly [string, Kind]]>
  const columns = entries.map(([, [column]]) => sql.id(column))
  const values = entries.map(([field, [, kind]]) => (kind === 'json' ? JSON.stringify(record[field]) : record[field]))
  return sql`INSERT INTO ${table} (${sql.join(columns)}) VALUES (${sql.list(values)})`
}
