import type { Dialect } from '@beaver-kit/database'
import { pgAppendMigrations } from './pg-append-sql.ts'
import { sqliteLinkMigrations } from './sqlite-chain.ts'

/** One migration of the audit tables, for the database package's migrator. */
export interface AuditMigration {
  id: string
  up: string
}

// The audit store owns its tables and migrates them itself (through @beaver-kit/database's
// migrator, in its own `<table>_migrations` history). `<t>_events` holds the records; the
// unique (stream, seq) key means two writers can never both land the same place of a chain,
// and `pos` (auto-increment; on SQLite a plain rowid from 0008) is the query order and cursor.
// `<t>_heads` holds one row per stream: the last seq and hash, locked by every append, and the
// retention checkpoint (base).
export function auditMigrations(dialect: Dialect, t: string): AuditMigration[] {
  const pos =
    dialect === 'postgres'
      ? 'pos bigserial primary key'
      : dialect === 'mysql'
        ? 'pos bigint not null auto_increment primary key'
        : 'pos integer primary key autoincrement'
  const str = (n: number): string => (dialect === 'mysql' ? `varchar(${n})` : 'text')
  const big = dialect === 'sqlite' ? 'integer' : 'bigint'
  const long = dialect === 'mysql' ? 'mediumtext' : 'text'
  // Exact (binary) comparison and 4-byte UTF-8 on MariaDB/MySQL, whatever the server's defaults.
  const tableOptions = dialect === 'mysql' ? ' character set utf8mb4 collate utf8mb4_bin' : ''
  const ine = dialect === 'mysql' ? '' : 'if not exists '
  return [
    {
      id: '0001_events',
      up: `
create table if not exists ${t}_events (
  ${pos},
  id ${str(36)} not null,
  stream ${str(128)} not null,
  seq ${big} not null,
  at ${big} not null,
  actor ${str(255)},
  action ${str(128)} not null,
  target ${str(255)},
  outcome ${str(16)} not null,
  ip ${str(64)},
  user_agent ${str(512)},
  request_id ${str(128)},
  trace_id ${str(64)},
  diff ${long},
  metadata ${long},
  prev_hash ${str(64)} not null,
  hash ${str(64)} not null
)${tableOptions};
create unique index ${ine}${t}_events_chain on ${t}_events (stream, seq);
create index ${ine}${t}_events_actor on ${t}_events (actor, pos);
create index ${ine}${t}_events_target on ${t}_events (target, pos);
create index ${ine}${t}_events_action on ${t}_events (action, pos);
create index ${ine}${t}_events_at on ${t}_events (stream, at);
create table if not exists ${t}_heads (
  stream ${str(128)} not null primary key,
  seq ${big} not null,
  hash ${str(64)} not null,
  base_seq ${big} not null,
  base_hash ${str(64)} not null
)${tableOptions};
create table if not exists ${t}_anchors (
  stream ${str(128)} not null,
  seq ${big} not null,
  hash ${str(64)} not null,
  at ${big} not null,
  alg ${str(16)} not null,
  signature ${str(1024)} not null,
  primary key (stream, seq)
)${tableOptions};
`,
    },
    {
      // The hash the head had before its last move: PostgreSQL appends in one statement (an
      // upsert of the head whose RETURNING gives the new place and, from this column, the
      // link to the previous record).
      id: '0002_head_prev_hash',
      up: `alter table ${t}_heads add column prev_hash ${str(64)};`,
    },
    ...(dialect === 'postgres' ? pgAppendMigrations(t) : []),
    ...(dialect === 'sqlite' ? sqliteLinkMigrations(t) : []),
  ]
}
