import { defineSchema, f, type SchemaOptions } from '@beaver-kit/config'

/**
 * The `DB` section: `BEAVER_DB_*` (also `DATABASE_URL`). A URL wins over the separate
 * host/port/user fields it overlaps; the driver comes from `BEAVER_DB_DRIVER` or the URL scheme,
 * and SQLite under `./data/` is the default when nothing is set.
 */
export const dbSchema = defineSchema(
  'DB',
  {
    url: f.url({
      aliases: ['DATABASE_URL'],
      protocols: ['postgres', 'postgresql', 'mysql', 'mariadb', 'sqlite', 'file', 'libsql'],
      doc: 'Connection URL: postgres://, mysql://, mariadb://, sqlite:./file.db, sqlite::memory:, libsql:/file:',
    }),
    driver: f.string({ doc: 'postgres, mysql, sqlite or libsql (default: from the URL scheme, else sqlite)' }),
    host: f.string({ doc: 'Server host when no URL is given' }),
    port: f.int({ min: 1, max: 65535, doc: 'Server port when no URL is given (default 5432 / 3306)' }),
    user: f.string({ doc: 'User name when no URL is given' }),
    password: f.string({ secret: true, doc: 'Password (overrides the one in the URL)' }),
    database: f.string({ doc: 'Database name (server drivers) when no URL is given' }),
    file: f.string({
      default: './data/beaver.db',
      doc: 'SQLite/libSQL database file when no URL is given (":memory:" for none)',
    }),
    ssl: f.enum({
      values: ['disable', 'prefer', 'require', 'verify-full'],
      default: 'disable',
      doc: 'TLS to the server: require encrypts, verify-full also checks the certificate and host name',
    }),
    applicationName: f.string({ default: 'beaver-kit', doc: 'Name the server shows for our sessions (PostgreSQL)' }),
    pool: {
      max: f.int({ default: 10, min: 1, doc: 'Most open connections per pool' }),
      idleTimeout: f.duration({ default: '60s', doc: 'Close a connection idle this long' }),
      maxLifetime: f.duration({ default: '30m', doc: 'Retire a connection after this age (0 = never)' }),
      acquireTimeout: f.duration({ default: '10s', doc: 'Longest wait for a free connection before DB_TIMEOUT' }),
      connectTimeout: f.duration({ default: '10s', doc: 'Longest wait for a new connection to open' }),
    },
    queryTimeout: f.duration({ default: 0, doc: 'Default per-query timeout, cancelled on the server (0 = none)' }),
    statementTimeout: f.duration({
      default: 0,
      doc: 'Server-side statement_timeout for PostgreSQL sessions (0 = none)',
    }),
    preparedStatements: f.boolean({
      default: true,
      doc: 'PostgreSQL: statements asked to be prepared (prepare: true) are named and kept per connection; false behind a pooler in transaction mode that does not keep them (PgBouncer before 1.21)',
    }),
    closeTimeout: f.duration({
      default: '10s',
      doc: 'How long close() waits for in-flight work before closing anyway',
    }),
    busyTimeout: f.duration({
      default: '5s',
      doc: 'SQLite/libSQL: how long to wait for a lock held by another connection',
    }),
    replicaUrls: f.list({ doc: 'Read replicas (same driver): reads outside transactions go there, round-robin' }),
    replicaProbeInterval: f.duration({
      default: '5s',
      doc: 'How often a failed replica is probed before it is taken back',
    }),
    migrations: {
      dir: f.string({ default: './migrations', doc: 'Directory of NNNN_name.sql migration files' }),
      table: f.string({
        default: 'beaver_migrations',
        pattern: /^[A-Za-z_][A-Za-z0-9_]*$/,
        doc: 'Table that records applied migrations',
      }),
      lockTimeout: f.duration({ default: '60s', doc: 'Longest wait for another process holding the migration lock' }),
      auto: f.boolean({
        default: false,
        doc: 'ready() also applies pending migrations (safe with several instances: they take the lock)',
      }),
    },
  },
  'database',
)

/** Every `BEAVER_DB_*` setting as an option of `createDatabase()`. */
export type DatabaseSettings = SchemaOptions<typeof dbSchema>
