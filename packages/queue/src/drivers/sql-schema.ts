import type { Dialect } from '@beaver-kit/database'

/** One migration of the queue's tables, for the database package's migrator. */
export interface QueueMigration {
  id: string
  up: string
}

// The queue owns its tables and migrates them itself (through @beaver-kit/database's migrator,
// in its own `<table>_migrations` history), so applications never copy its DDL.
// `dedupe_key` holds the key only while the message is pending (it is cleared when it
// finishes), so one unique index gives "no second pending message with this key" on every
// dialect, MariaDB included, which has no partial indexes.
export function queueMigrations(dialect: Dialect, table: string): QueueMigration[] {
  const t = table
  if (dialect === 'postgres') {
    return [
      {
        id: '0001_jobs',
        up: `
create table if not exists ${t}_jobs (
  seq bigserial primary key,
  id text not null,
  queue text not null,
  state text not null,
  priority integer not null default 0,
  run_at bigint not null,
  attempt integer not null default 0,
  max_attempts integer not null,
  backoff_base integer not null,
  backoff_max integer not null,
  timeout_ms integer not null default 0,
  group_key text,
  dedupe_key text,
  payload text not null,
  headers text,
  lease_until bigint,
  token text,
  last_error text,
  dead_reason text,
  progress text,
  cancel_requested smallint not null default 0,
  created_at bigint not null,
  finished_at bigint
);
create unique index if not exists ${t}_jobs_id on ${t}_jobs (queue, id);
create unique index if not exists ${t}_jobs_dedupe on ${t}_jobs (queue, dedupe_key);
create index if not exists ${t}_jobs_ready on ${t}_jobs (queue, priority desc, run_at, seq) where state = 'waiting';
create index if not exists ${t}_jobs_active on ${t}_jobs (queue, lease_until) where state = 'active';
create index if not exists ${t}_jobs_finished on ${t}_jobs (queue, state, finished_at) where finished_at is not null;
`,
      },
      topicsMigration(t, 'text'),
      dedupePartialMigration(t),
    ]
  }
  if (dialect === 'mysql') {
    return [
      {
        id: '0001_jobs',
        up: `
create table if not exists ${t}_jobs (
  seq bigint not null auto_increment primary key,
  id varchar(200) not null,
  queue varchar(200) not null,
  state varchar(10) not null,
  priority int not null default 0,
  run_at bigint not null,
  attempt int not null default 0,
  max_attempts int not null,
  backoff_base int not null,
  backoff_max int not null,
  timeout_ms int not null default 0,
  group_key varchar(200),
  dedupe_key varchar(200),
  payload longtext not null,
  headers text,
  lease_until bigint,
  token varchar(64),
  last_error text,
  dead_reason text,
  progress text,
  cancel_requested smallint not null default 0,
  created_at bigint not null,
  finished_at bigint,
  unique key ${t}_jobs_id (queue, id),
  unique key ${t}_jobs_dedupe (queue, dedupe_key),
  key ${t}_jobs_ready (queue, state, priority desc, run_at, seq),
  key ${t}_jobs_active (queue, state, lease_until),
  key ${t}_jobs_finished (queue, state, finished_at)
) engine=InnoDB default charset=utf8mb4 collate=utf8mb4_bin;
`,
      },
      topicsMigration(t, 'varchar(200)', ' engine=InnoDB default charset=utf8mb4 collate=utf8mb4_bin'),
    ]
  }
  return [
    {
      id: '0001_jobs',
      up: `
create table if not exists ${t}_jobs (
  seq integer primary key autoincrement,
  id text not null,
  queue text not null,
  state text not null,
  priority integer not null default 0,
  run_at integer not null,
  attempt integer not null default 0,
  max_attempts integer not null,
  backoff_base integer not null,
  backoff_max integer not null,
  timeout_ms integer not null default 0,
  group_key text,
  dedupe_key text,
  payload text not null,
  headers text,
  lease_until integer,
  token text,
  last_error text,
  dead_reason text,
  progress text,
  cancel_requested integer not null default 0,
  created_at integer not null,
  finished_at integer
);
create unique index if not exists ${t}_jobs_id on ${t}_jobs (queue, id);
create unique index if not exists ${t}_jobs_dedupe on ${t}_jobs (queue, dedupe_key);
create index if not exists ${t}_jobs_ready on ${t}_jobs (queue, priority desc, run_at, seq) where state = 'waiting';
create index if not exists ${t}_jobs_active on ${t}_jobs (queue, lease_until) where state = 'active';
create index if not exists ${t}_jobs_finished on ${t}_jobs (queue, state, finished_at) where finished_at is not null;
`,
    },
    topicsMigration(t, 'text'),
    dedupePartialMigration(t),
  ]
}

/**
 * PostgreSQL and SQLite: the dedupe index holds only keyed messages. Most messages have no key,
 * and every insert, claim and completion of one put a null entry in it (a claim or completion
 * rewrites every index entry of its row); ON CONFLICT without a target still honours it.
 * MariaDB has no partial indexes and keeps the full one.
 */
function dedupePartialMigration(t: string): QueueMigration {
  return {
    id: '0003_dedupe_partial',
    up: `
drop index if exists ${t}_jobs_dedupe;
create unique index if not exists ${t}_jobs_dedupe on ${t}_jobs (queue, dedupe_key) where dedupe_key is not null;
`,
  }
}

/** Fan-out: which group queues a topic copies each message to (one row per subscription). */
function topicsMigration(t: string, name: string, tableOptions = ''): QueueMigration {
  return {
    id: '0002_topics',
    up: `
create table if not exists ${t}_topics (
  topic ${name} not null,
  queue ${name} not null,
  primary key (topic, queue)
)${tableOptions};
`,
  }
}
