import type { ConnectionSettings } from './driver.ts'
import { DatabaseError } from './errors.ts'
import type { dbSchema } from './config.ts'
import { maskUrl, type SchemaConfig } from '@beaver-kit/config'

type Values = SchemaConfig<typeof dbSchema>

const SCHEME_DRIVER: Record<string, string> = {
  postgres: 'postgres',
  postgresql: 'postgres',
  mysql: 'mysql',
  mariadb: 'mysql',
  sqlite: 'sqlite',
  file: 'sqlite',
  libsql: 'libsql',
}

const DEFAULT_PORT: Record<string, number> = { postgres: 5432, mysql: 3306 }

/** The driver a URL's scheme implies, or undefined. */
export function driverFromUrl(url: string): string | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase()
  return scheme === undefined ? undefined : SCHEME_DRIVER[scheme]
}

/** `sqlite::memory:`, `sqlite:./data/app.db`, `sqlite:///abs/app.db`, `file:app.db` → the file part. */
export function fileFromUrl(url: string): string {
  const rest = url.replace(/^[a-z][a-z0-9+.-]*:/i, '').replace(/\?.*$/, '')
  if (rest.startsWith('//')) return decodeURIComponent(rest.slice(2)) || ':memory:'
  return decodeURIComponent(rest) || ':memory:'
}

/** Resolves the driver name and connection settings from one URL plus the schema's values. */
export function connectionSettings(
  values: Values,
  url: string | undefined,
  driverName: string | undefined,
): ConnectionSettings {
  const driver = driverName ?? (url ? driverFromUrl(url) : undefined) ?? 'sqlite'
  const settings: ConnectionSettings = {
    driver,
    ssl: values.ssl,
    applicationName: values.applicationName,
    pool: {
      max: values.pool.max,
      idleTimeoutMs: values.pool.idleTimeout,
      maxLifetimeMs: values.pool.maxLifetime,
      acquireTimeoutMs: values.pool.acquireTimeout,
      connectTimeoutMs: values.pool.connectTimeout,
    },
    statementTimeoutMs: values.statementTimeout,
    busyTimeoutMs: values.busyTimeout,
    params: {},
  }
  const urlDriver = url ? driverFromUrl(url) : undefined
  if (driver === 'sqlite' || driver === 'libsql') {
    if (url && /^(libsql|https?|wss?):\/\/[^/]/i.test(url)) {
      settings.params = { url }
    } else {
      settings.file = url && (urlDriver === 'sqlite' || urlDriver === 'libsql') ? fileFromUrl(url) : values.file
    }
    return settings
  }
  if (url) {
    let u: URL
    try {
      u = new URL(url)
    } catch (err) {
      throw new DatabaseError('DB_CONFIG', `The database URL ${maskUrl(url)} is not a valid URL.`, { cause: err })
    }
    settings.host = decodeURIComponent(u.hostname.replace(/^\[|\]$/g, '')) || undefined
    settings.port = u.port ? Number(u.port) : undefined
    settings.user = u.username ? decodeURIComponent(u.username) : undefined
    settings.password = u.password ? decodeURIComponent(u.password) : undefined
    settings.database = u.pathname.length > 1 ? decodeURIComponent(u.pathname.slice(1)) : undefined
    const params: Record<string, string> = {}
    for (const [k, v] of u.searchParams) params[k] = v
    settings.params = params
    const sslmode = params.sslmode ?? params.ssl
    if (sslmode === 'require' || sslmode === 'true') settings.ssl = 'require'
    else if (sslmode === 'verify-full' || sslmode === 'verify-ca') settings.ssl = 'verify-full'
    else if (sslmode === 'disable' || sslmode === 'false') settings.ssl = 'disable'
  }
  // Separate fields win over the URL's parts, so a password can come from a secret file.
  settings.host = values.host ?? settings.host ?? '127.0.0.1'
  settings.port = values.port ?? settings.port ?? DEFAULT_PORT[driver]
  settings.user = values.user ?? settings.user
  settings.password = values.password ?? settings.password
  settings.database = values.database ?? settings.database
  return settings
}

// Settings that only one kind of driver reads: describe() leaves out the other kind's defaults.
const FILE_ONLY = new Set(['file', 'busyTimeout'])
const SERVER_ONLY = new Set([
  'host',
  'port',
  'user',
  'password',
  'database',
  'ssl',
  'applicationName',
  'statementTimeout',
])

/**
 * The settings `describe()` lists: those of the other kind of driver (a SQLite file for a
 * PostgreSQL database, a port for SQLite) are left out unless someone set them.
 */
export function describedSettings<E extends { path: string; source: string }>(
  entries: readonly E[],
  fileDriver: boolean,
): E[] {
  const skip = fileDriver ? SERVER_ONLY : FILE_ONLY
  return entries.filter((e) => !(skip.has(e.path) && (e.source === 'default' || e.source === 'unset')))
}
