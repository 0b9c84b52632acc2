import type { Dialect } from '@beaver-kit/database'

/** One migration of the audit tables, for the database package's migrator. */
export interface AuditMigration {
  id: string
  up: string
}

// The audit store owns its tables and migrates them itself (through @beaver-kit/database's
// migrator, in its own `<table>_migrations` history). `<t>_events` holds the records; the
// unique (stream, seq) key means two writers can never both land the same place of a chain,
// and `pos` (auto-increment) is the query order and cursor. `<t>_heads` holds one row per
// stream: the last seq and hash, locked by every append, and the retention checkpoint (base).
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
    ...(dialect === 'postgres' ? [appendFunction(t), batchAppendFunction(t)] : []),
  ]
}

/**
 * PostgreSQL's append as a function: the head row upserted (its row lock queues the stream's
 * writers; ON CONFLICT DO UPDATE always works on the latest committed version), the new hash
 * computed by sha256() over the record's canonical text with the previous hash and seq put in,
 * and the record inserted, in one call and one autocommitted transaction. The same work as one
 * CTE statement, but PL/pgSQL keeps both inner statements' plans per connection, where the
 * statement was parsed and planned again on every append (most of its cost when commits are
 * cheap).
 */
function appendFunction(t: string): AuditMigration {
  const sha = (prev: string, seq: string): string =>
    `encode(sha256(convert_to(p_before || ${prev} || p_middle || ${seq} || p_after, 'UTF8')), 'hex')`
  return {
    id: '0003_append_function',
    up: `
create or replace function ${t}_append(
  p_stream text, p_before text, p_middle text, p_after text, p_genesis text,
  p_id text, p_at bigint, p_actor text, p_action text, p_target text, p_outcome text, p_ip text,
  p_user_agent text, p_request_id text, p_trace_id text, p_diff text, p_metadata text,
  out o_seq bigint, out o_prev_hash text, out o_hash text
) language plpgsql as $$
begin
  insert into ${t}_heads as h0 (stream, seq, hash, base_seq, base_hash, prev_hash)
  values (p_stream, 1, ${sha('p_genesis', "'1'")}, 0, p_genesis, p_genesis)
  on conflict (stream) do update
    set prev_hash = h0.hash, seq = h0.seq + 1, hash = ${sha('h0.hash', '(h0.seq + 1)::text')}
  returning h0.seq, h0.prev_hash, h0.hash into o_seq, o_prev_hash, o_hash;
  insert into ${t}_events (id, stream, seq, at, actor, action, target, outcome, ip, user_agent, request_id,
    trace_id, diff, metadata, prev_hash, hash)
  values (p_id, p_stream, o_seq, p_at, p_actor, p_action, p_target, p_outcome, p_ip, p_user_agent, p_request_id,
    p_trace_id, p_diff, p_metadata, o_prev_hash, o_hash);
end
$$;
`,
  }
}

const BATCH_ARGS = [
  'p_before',
  'p_middle',
  'p_after',
  'p_id',
  'p_at',
  'p_actor',
  'p_action',
  'p_target',
  'p_outcome',
  'p_ip',
  'p_user_agent',
  'p_request_id',
  'p_trace_id',
  'p_diff',
  'p_metadata',
]

/**
 * The append function, taking a batch: the records waiting for one stream in this process are
 * chained and written in one call and one commit (one WAL flush for them all) instead of one
 * each, every one behind the previous one's commit. The first record moves the head in the
 * upsert that locks it, as before (a batch of one does exactly what migration 0003's function
 * did); the others are hashed in turn and inserted, and the head moves once more at the end.
 * A lone record still goes through the one-record function, which skips the arrays and the
 * returned set.
 */
function batchAppendFunction(t: string): AuditMigration {
  const sha = (before: string, prev: string, middle: string, seq: string, after: string): string =>
    `encode(sha256(convert_to(${before} || ${prev} || ${middle} || ${seq} || ${after}, 'UTF8')), 'hex')`
  const own = (i: string): string =>
    `p_id[${i}], p_stream, v_seq, p_at[${i}], p_actor[${i}], p_action[${i}], p_target[${i}], p_outcome[${i}], p_ip[${i}],
      p_user_agent[${i}], p_request_id[${i}], p_trace_id[${i}], p_diff[${i}], p_metadata[${i}], v_prev, v_hash`
  const cols =
    'id, stream, seq, at, actor, action, target, outcome, ip, user_agent, request_id, trace_id, diff, metadata, prev_hash, hash'
  return {
    id: '0004_batch_append_function',
    up: `
create or replace function ${t}_append_batch(
  p_stream text, p_genesis text,
  ${BATCH_ARGS.map((a) => `${a} ${a === 'p_at' ? 'bigint' : 'text'}[]`).join(', ')}
) returns table (o_seq bigint, o_prev_hash text, o_hash text) language plpgsql as $$
declare
  v_seq bigint;
  v_prev text;
  v_hash text;
  v_first bigint;
begin
  insert into ${t}_heads as h0 (stream, seq, hash, base_seq, base_hash, prev_hash)
  values (p_stream, 1, ${sha('p_before[1]', 'p_genesis', 'p_middle[1]', "'1'", 'p_after[1]')}, 0, p_genesis, p_genesis)
  on conflict (stream) do update
    set prev_hash = h0.hash, seq = h0.seq + 1,
      hash = ${sha('p_before[1]', 'h0.hash', 'p_middle[1]', '(h0.seq + 1)::text', 'p_after[1]')}
  returning h0.seq, h0.prev_hash, h0.hash into v_seq, v_prev, v_hash;
  v_first := v_seq;
  insert into ${t}_events (${cols}) values (${own('1')});
  o_seq := v_seq; o_prev_hash := v_prev; o_hash := v_hash;
  return next;
  for i in 2 .. cardinality(p_id) loop
    v_prev := v_hash;
    v_seq := v_seq + 1;
    v_hash := ${sha('p_before[i]', 'v_prev', 'p_middle[i]', 'v_seq::text', 'p_after[i]')};
    insert into ${t}_events (${cols}) values (${own('i')});
    o_seq := v_seq; o_prev_hash := v_prev; o_hash := v_hash;
    return next;
  end loop;
  if v_seq > v_first then
    update ${t}_heads set seq = v_seq, hash = v_hash, prev_hash = v_prev where stream = p_stream;
  end if;
end
$$;
`,
  }
}
