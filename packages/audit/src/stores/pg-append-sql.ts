import type { AuditMigration } from './sql-schema.ts'

// PostgreSQL's append functions, one migration each time they change (an applied migration's
// text never changes: the migrator checks it). The single and batch functions share their
// bodies here; only how the stream's head moves differs between migrations.

/** The hash of the record whose canonical text is `before || prev || middle || seq || after`. */
const sha = (before: string, prev: string, middle: string, seq: string, after: string): string =>
  `encode(sha256(convert_to(${before} || ${prev} || ${middle} || ${seq} || ${after}, 'UTF8')), 'hex')`

const COLUMNS =
  'id, stream, seq, at, actor, action, target, outcome, ip, user_agent, request_id, trace_id, diff, metadata, prev_hash, hash'

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

/** Statements that move p_stream's head for the record (before, middle, after) and put its place `into` variables. */
type MoveHead = (before: string, middle: string, after: string, into: string) => string

/**
 * The append function: the head moved (its row lock queues the stream's writers), the new hash
 * computed by sha256() over the record's canonical text with the previous hash and seq put in,
 * and the record inserted, in one call and one autocommitted transaction. PL/pgSQL keeps both
 * inner statements' plans per connection, where one CTE statement was parsed and planned again
 * on every append (most of its cost when commits are cheap).
 */
function appendFunction(t: string, moveHead: MoveHead): string {
  return `
create or replace function ${t}_append(
  p_stream text, p_before text, p_middle text, p_after text, p_genesis text,
  p_id text, p_at bigint, p_actor text, p_action text, p_target text, p_outcome text, p_ip text,
  p_user_agent text, p_request_id text, p_trace_id text, p_diff text, p_metadata text,
  out o_seq bigint, out o_prev_hash text, out o_hash text
) language plpgsql as $$
begin${moveHead('p_before', 'p_middle', 'p_after', 'o_seq, o_prev_hash, o_hash')}
  insert into ${t}_events (id, stream, seq, at, actor, action, target, outcome, ip, user_agent, request_id,
    trace_id, diff, metadata, prev_hash, hash)
  values (p_id, p_stream, o_seq, p_at, p_actor, p_action, p_target, p_outcome, p_ip, p_user_agent, p_request_id,
    p_trace_id, p_diff, p_metadata, o_prev_hash, o_hash);
end
$$;
`
}

/**
 * The append function, taking a batch: the records waiting for one stream in this process are
 * chained and written in one call and one commit (one WAL flush for them all) instead of one
 * each, every one behind the previous one's commit. The first record moves the head as the
 * one-record function does; the others are hashed in turn and inserted, and the head moves
 * once more at the end. A lone record still goes through the one-record function, which skips
 * the arrays and the returned set.
 */
function batchAppendFunction(t: string, moveHead: MoveHead): string {
  const own = (i: string): string =>
    `p_id[${i}], p_stream, v_seq, p_at[${i}], p_actor[${i}], p_action[${i}], p_target[${i}], p_outcome[${i}], p_ip[${i}],
      p_user_agent[${i}], p_request_id[${i}], p_trace_id[${i}], p_diff[${i}], p_metadata[${i}], v_prev, v_hash`
  return `
create or replace function ${t}_append_batch(
  p_stream text, p_genesis text,
  ${BATCH_ARGS.map((a) => `${a} ${a === 'p_at' ? 'bigint' : 'text'}[]`).join(', ')}
) returns table (o_seq bigint, o_prev_hash text, o_hash text) language plpgsql as $$
declare
  v_seq bigint;
  v_prev text;
  v_hash text;
  v_first bigint;
begin${moveHead('p_before[1]', 'p_middle[1]', 'p_after[1]', 'v_seq, v_prev, v_hash')}
  v_first := v_seq;
  insert into ${t}_events (${COLUMNS}) values (${own('1')});
  o_seq := v_seq; o_prev_hash := v_prev; o_hash := v_hash;
  return next;
  for i in 2 .. cardinality(p_id) loop
    v_prev := v_hash;
    v_seq := v_seq + 1;
    v_hash := ${sha('p_before[i]', 'v_prev', 'p_middle[i]', 'v_seq::text', 'p_after[i]')};
    insert into ${t}_events (${COLUMNS}) values (${own('i')});
    o_seq := v_seq; o_prev_hash := v_prev; o_hash := v_hash;
    return next;
  end loop;
  if v_seq > v_first then
    update ${t}_heads set seq = v_seq, hash = v_hash, prev_hash = v_prev where stream = p_stream;
  end if;
end
$$;
`
}

/** Migrations 0003-0004: the head moved by an upsert (ON CONFLICT DO UPDATE locks and returns the row). */
const upsertHead =
  (t: string, batch: boolean): MoveHead =>
  (before, middle, after, into) => `
  insert into ${t}_heads as h0 (stream, seq, hash, base_seq, base_hash, prev_hash)
  values (p_stream, 1, ${sha(before, 'p_genesis', middle, "'1'", after)}, 0, p_genesis, p_genesis)
  on conflict (stream) do update
    set prev_hash = h0.hash, seq = h0.seq + 1,${batch ? '\n      ' : ' '}hash = ${sha(before, 'h0.hash', middle, '(h0.seq + 1)::text', after)}
  returning h0.seq, h0.prev_hash, h0.hash into ${into};`

/**
 * Migration 0005: an existing head moves by a plain UPDATE; only a stream's first record
 * upserts. The upsert probed the key, locked the row (a WAL record of its own) and then updated
 * it, and computed its VALUES hash only to throw it away on every append but a stream's first.
 * The UPDATE takes the same row lock and re-reads the latest version when it waited for it, so
 * writers of a stream queue on it as before; two first appends of a new stream both find no row
 * and meet in the upsert, whose ON CONFLICT serializes them. What is hashed and stored is the same.
 */
const updateHead =
  (t: string): MoveHead =>
  (before, middle, after, into) => `
  update ${t}_heads as h0
    set prev_hash = h0.hash, seq = h0.seq + 1, hash = ${sha(before, 'h0.hash', middle, '(h0.seq + 1)::text', after)}
    where h0.stream = p_stream
    returning h0.seq, h0.prev_hash, h0.hash into ${into};
  if not found then${upsertHead(t, false)(before, middle, after, into).replaceAll('\n  ', '\n    ')}
  end if;`

// The batch function's record arguments after the hash template, then each record's hash.
const AFTER_ARGS = [...BATCH_ARGS.slice(3), 'p_hashes']

/**
 * Migration 0006: records chained by the kit after a head it knows (the one its last append
 * left), written only if the stream's head is still there. The UPDATE's condition on seq and
 * hash is checked under the head row's lock (re-read after waiting for another writer), so a
 * head that moved meanwhile writes nothing and answers false, and the kit appends through the
 * functions above, which chain after whatever the head is. The database neither rebuilds the
 * records' canonical text nor hashes it: half the bytes on the wire and no sha256() per record.
 * One record takes plain parameters (arrays cost both sides ~15-50 µs); a batch, arrays.
 */
function appendAfterFunction(t: string): string {
  const own = AFTER_ARGS.slice(0, -1)
  const u = own.map((a) => `u.${a.slice(2)}`)
  const condition = 'where stream = p_stream and seq = p_seq and hash = p_hash'
  return `
create or replace function ${t}_append_after(
  p_stream text, p_seq bigint, p_hash text,
  ${own.map((a) => `${a} ${a === 'p_at' ? 'bigint' : 'text'}`).join(', ')}, p_new_hash text
) returns boolean language plpgsql as $$
begin
  update ${t}_heads set seq = p_seq + 1, hash = p_new_hash, prev_hash = p_hash ${condition};
  if not found then
    return false;
  end if;
  insert into ${t}_events (${COLUMNS})
  values (p_id, p_stream, p_seq + 1, ${own.slice(1).join(', ')}, p_hash, p_new_hash);
  return true;
end
$$;

create or replace function ${t}_append_after_batch(
  p_stream text, p_seq bigint, p_hash text,
  ${AFTER_ARGS.map((a) => `${a} ${a === 'p_at' ? 'bigint' : 'text'}[]`).join(', ')}
) returns boolean language plpgsql as $$
declare
  n int := cardinality(p_id);
begin
  update ${t}_heads set seq = p_seq + n, hash = p_hashes[n], prev_hash = case when n > 1 then p_hashes[n - 1] else p_hash end ${condition};
  if not found then
    return false;
  end if;
  insert into ${t}_events (${COLUMNS})
  select ${u[0]}, p_stream, p_seq + u.i, ${u.slice(1).join(', ')},
      case when u.i = 1 then p_hash else p_hashes[u.i - 1] end, u.hashes
    from unnest(${AFTER_ARGS.join(', ')}) with ordinality
      as u(${AFTER_ARGS.map((a) => a.slice(2)).join(', ')}, i)
    order by u.i;
  return true;
end
$$;
`
}

/** PostgreSQL's append functions, in the order they were added. */
export function pgAppendMigrations(t: string): AuditMigration[] {
  return [
    { id: '0003_append_function', up: appendFunction(t, upsertHead(t, false)) },
    { id: '0004_batch_append_function', up: batchAppendFunction(t, upsertHead(t, true)) },
    {
      id: '0005_head_update_first',
      up: appendFunction(t, updateHead(t)) + batchAppendFunction(t, updateHead(t)),
    },
    { id: '0006_append_after_known_head', up: appendAfterFunction(t) },
  ]
}
