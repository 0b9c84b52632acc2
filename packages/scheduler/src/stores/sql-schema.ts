import type { Dialect } from '@beaver-kit/database'

/** One migration of the scheduler's tables, for the database package's migrator. */
export interface SchedulerMigration {
  id: string
  up: string
}

// The scheduler owns its tables and migrates them itself (through @beaver-kit/database's
// migrator, in its own `<table>_migrations` history). The unique (namespace, schedule, slot)
// key is the claim: of N instances inserting one occurrence, exactly one insert lands; its
// auto-increment id is the fencing token.
export function schedulerMigrations(dialect: Dialect, t: string): SchedulerMigration[] {
  const id =
    dialect === 'postgres'
      ? 'id bigserial primary key'
      : dialect === 'mysql'
        ? 'id bigint not null auto_increment primary key'
        : 'id integer primary key autoincrement'
  const text = (n: number): string => (dialect === 'mysql' ? `varchar(${n})` : 'text')
  const int = dialect === 'sqlite' ? 'integer' : 'bigint'
  const small = dialect === 'sqlite' ? 'integer' : 'smallint'
  return [
    {
      id: '0001_runs',
      up: `
create table if not exists ${t}_runs (
  ${id},
  ns ${text(64)} not null,
  schedule ${text(128)} not null,
  slot ${text(40)} not null,
  due_at ${int} not null,
  trig ${text(10)} not null,
  instance ${text(200)} not null,
  started_at ${int} not null,
  ended_at ${int},
  lease_until ${int} not null,
  outcome ${text(10)} not null,
  error ${dialect === 'mysql' ? 'text' : 'text'}
);
create unique index ${dialect === 'mysql' ? '' : 'if not exists '}${t}_runs_slot on ${t}_runs (ns, schedule, slot);
create index ${dialect === 'mysql' ? '' : 'if not exists '}${t}_runs_due on ${t}_runs (ns, schedule, due_at);
create index ${dialect === 'mysql' ? '' : 'if not exists '}${t}_runs_lease on ${t}_runs (ns, outcome, lease_until);
create table if not exists ${t}_control (
  ns ${text(64)} not null,
  name ${text(128)} not null,
  paused ${small} not null default 0,
  trigger_at ${int},
  removed ${small} not null default 0,
  created_at ${int} not null,
  primary key (ns, name)
);
`,
    },
  ]
}
