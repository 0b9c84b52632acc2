import type { Database, Queryable } from '@beaver-kit/database'
import { GENESIS_HASH, type ChainPoint, type PreparedRecord, type StoredRecord } from '../record.ts'
import type { StreamState } from '../store.ts'

// SQLite keeps a stream's head without a head row written by every append. Each record is
// linked forward from the record before it: a trigger sets the previous record's `next_hash`
// to the new record's hash in the same statement, and that record sits on the table page the
// insert writes anyway (the head row was a page of its own, and a second one for its key).
// `<t>_heads` keeps the stream's checkpoint (base) and a head point written only when a record
// has no previous record to hold its link (the first of a stream, after a cut-off tail, or
// the first one after a prune). A tail deleted behind the store's back leaves a forward link
// pointing at nothing; the last record altered and re-hashed no longer matches the link of
// the one before it: both are found as the head row found them.

type Row = Record<string, unknown>

// The events table's columns after 0007, in table order, as 0001 and 0007 made them on SQLite.
const EVENT_COLUMNS = `
  id text not null,
  stream text not null,
  seq integer not null,
  at integer not null,
  actor text,
  action text not null,
  target text,
  outcome text not null,
  ip text,
  user_agent text,
  request_id text,
  trace_id text,
  diff text,
  metadata text,
  prev_hash text not null,
  hash text not null,
  next_hash text`

/**
 * Migrations 0007 and 0008 (SQLite). 0007: the forward link and the trigger that sets it.
 * 0008: `pos` without AUTOINCREMENT (SQLite cannot drop it in place, so the table is rebuilt
 * in the migration's transaction, rows, indexes and trigger as they were). AUTOINCREMENT keeps
 * `pos` from being reused by writing the table's counter row in `sqlite_sequence` with every
 * insert: one WAL page more per append. A rowid is reused only when the largest one is
 * deleted, and prune() never deletes the table's newest record (`SqliteChain.prunable`), so `pos`
 * stays a position no later record takes.
 */
export function sqliteLinkMigrations(t: string): Array<{ id: string; up: string }> {
  const columns = EVENT_COLUMNS.split(',')
    .map((c) => c.trim().split(' ')[0])
    .join(', ')
  return [
    {
      id: '0007_sqlite_forward_links',
      up: `
alter table ${t}_events add column next_hash text;
create trigger if not exists ${t}_events_link after insert on ${t}_events begin
  update ${t}_events set next_hash = new.hash where stream = new.stream and seq = new.seq - 1;
end;
`,
    },
    {
      id: '0008_sqlite_pos_without_autoincrement',
      up: `
create table ${t}_events_rebuilt (
  pos integer primary key,${EVENT_COLUMNS}
);
insert into ${t}_events_rebuilt (pos, ${columns}) select pos, ${columns} from ${t}_events order by pos;
drop table ${t}_events;
alter table ${t}_events_rebuilt rename to ${t}_events;
create unique index ${t}_events_chain on ${t}_events (stream, seq);
create index ${t}_events_actor on ${t}_events (actor, pos);
create index ${t}_events_target on ${t}_events (target, pos);
create index ${t}_events_action on ${t}_events (action, pos);
create index ${t}_events_at on ${t}_events (stream, at);
create trigger ${t}_events_link after insert on ${t}_events begin
  update ${t}_events set next_hash = new.hash where stream = new.stream and seq = new.seq - 1;
end;
`,
    },
  ]
}

/** The store's SQL hooks this module needs: the row parameters of a record, in column order. */
export interface SqliteChainOptions {
  table: string
  columns: string
  params(record: StoredRecord): unknown[]
}

/**
 * Appends on SQLite. A trail remembers the head its last append left per stream and writes the
 * next record in one autocommitted statement that inserts only if that record is still the
 * stream's last, unlinked (another writer, a prune or a cut-off tail make it insert nothing);
 * otherwise, and for a stream's first append in the process, a `BEGIN IMMEDIATE` transaction
 * reads the head as the rows give it.
 */
export class SqliteChain {
  readonly #t: string
  readonly #params: (record: StoredRecord) => unknown[]
  readonly #insert: string
  readonly #insertAfter: string
  readonly #heads = new Map<string, ChainPoint>()

  constructor(options: SqliteChainOptions) {
    const t = (this.#t = options.table)
    this.#params = options.params
    const n = options.columns.split(', ').length
    const values = Array.from({ length: n }, () => '?').join(', ')
    this.#insert = `insert into ${t}_events (${options.columns}) values (${values})`
    this.#insertAfter =
      `insert into ${t}_events (${options.columns}) select ${values} where (select hash from ` +
      `(select seq, hash, next_hash from ${t}_events where stream = ? order by seq desc limit 1) ` +
      `where seq = ? and next_hash is null) = ?`
  }

  async append(
    db: Database,
    prepared: PreparedRecord,
    seal: (head: ChainPoint) => StoredRecord,
  ): Promise<StoredRecord> {
    const { stream } = prepared
    const known = this.#heads.get(stream)
    if (known !== undefined) {
      const record = seal(known)
      const { affectedRows } = await db.execute(this.#insertAfter, [
        ...this.#params(record),
        stream,
        known.seq,
        known.hash,
      ])
      if (affectedRows === 1) return this.#remember(record)
    }
    const record = await db.transaction((tx) => this.#appendAtHead(tx, prepared, seal), { retries: 5 })
    return this.#remember(record)
  }

  #remember(record: StoredRecord): StoredRecord {
    this.#heads.set(record.stream, { seq: record.seq, hash: record.hash })
    return record
  }

  async #appendAtHead(
    tx: Queryable,
    prepared: PreparedRecord,
    seal: (head: ChainPoint) => StoredRecord,
  ): Promise<StoredRecord> {
    const { stream } = prepared
    const t = this.#t
    let head = await this.#headRow(tx, stream)
    if (head === undefined) {
      await tx.execute(`insert into ${t}_heads (stream, seq, hash, base_seq, base_hash) values (?, 0, ?, 0, ?)`, [
        stream,
        GENESIS_HASH,
        GENESIS_HASH,
      ])
      head = { point: { seq: 0, hash: GENESIS_HASH }, base: { seq: 0, hash: GENESIS_HASH } }
    }
    const checkpoint = head.point.seq >= head.base.seq ? head.point : head.base
    const last = await this.#last(tx, stream, head.base.seq)
    // After the last record when it is the head; after the record its link names when the
    // tail was cut off (the gap stays for verify() to find); after the checkpoint otherwise.
    let after: ChainPoint
    if (last !== undefined && last.seq >= checkpoint.seq)
      after = last.next === null ? last : { seq: last.seq + 1, hash: last.next }
    else after = checkpoint
    const record = seal(after)
    await tx.execute(this.#insert, this.#params(record))
    // The trigger linked the record from the one before it, when that one is there.
    if (after !== last) {
      await tx.execute(`update ${t}_heads set seq = ?, hash = ? where stream = ?`, [record.seq, record.hash, stream])
    }
    return record
  }

  async #headRow(db: Queryable, stream: string): Promise<{ point: ChainPoint; base: ChainPoint } | undefined> {
    const [row] = (
      await db.query(`select seq, hash, base_seq, base_hash from ${this.#t}_heads where stream = ?`, [stream])
    ).rows
    if (!row) return undefined
    return {
      point: { seq: Number(row.seq), hash: String(row.hash) },
      base: { seq: Number(row.base_seq), hash: String(row.base_hash) },
    }
  }

  async #last(
    db: Queryable,
    stream: string,
    afterSeq: number,
  ): Promise<(ChainPoint & { next: string | null }) | undefined> {
    const [row] = (
      await db.query(
        `select seq, hash, next_hash from ${this.#t}_events where stream = ? and seq > ? order by seq desc limit 1`,
        [stream, afterSeq],
      )
    ).rows as Row[]
    if (!row) return undefined
    return { seq: Number(row.seq), hash: String(row.hash), next: row.next_hash === null ? null : String(row.next_hash) }
  }

  /**
   * Where the stream stands: its checkpoint, and the head as the links give it. A last record
   * that links forward means its successors were deleted; otherwise the head's hash is the one
   * the record before it links to (or the head point, for a record that had none before it).
   */
  state(db: Database, stream: string): Promise<StreamState | undefined> {
    // One snapshot: the rows read one after another must not straddle another writer's append.
    return db.transaction((tx) => this.#state(tx, stream), { readOnly: true })
  }

  async #state(db: Queryable, stream: string): Promise<StreamState | undefined> {
    const row = await this.#headRow(db, stream)
    if (row === undefined) return undefined
    const { base } = row
    const checkpoint = row.point.seq >= base.seq ? row.point : base
    const last = await this.#last(db, stream, base.seq)
    let head: ChainPoint
    if (last === undefined || (last.next === null && last.seq <= checkpoint.seq)) head = checkpoint
    else if (last.next !== null) head = { seq: last.seq + 1, hash: last.next }
    else {
      const [before] = (
        await db.query(`select next_hash from ${this.#t}_events where stream = ? and seq = ?`, [stream, last.seq - 1])
      ).rows as Row[]
      // No record before it: the chain walk finds that gap before it reaches the head.
      head = { seq: last.seq, hash: before?.next_hash === null || before === undefined ? '' : String(before.next_hash) }
    }
    return { head, base }
  }

  /** After a prune to `seq`: the record after the cut lost the record that linked to it, so the head point holds it. */
  async pruned(tx: Queryable, stream: string, seq: number): Promise<void> {
    const [next] = (
      await tx.query(`select hash from ${this.#t}_events where stream = ? and seq = ?`, [stream, seq + 1])
    ).rows as Row[]
    if (next === undefined) return
    await tx.execute(`update ${this.#t}_heads set seq = ?, hash = ? where stream = ? and seq < ?`, [
      seq + 1,
      String(next.hash),
      stream,
      seq + 1,
    ])
  }

  /**
   * The last place up to which a prune of `stream` may cut, given the cut it wants: before the
   * table's newest record when that record is the stream's and the cut would take it. Without
   * AUTOINCREMENT (0008) the next record would take that record's `pos` again, and a reader
   * paging by cursor past it would miss the new one; kept, it goes with a later prune.
   */
  async prunable(db: Queryable, stream: string, cut: number): Promise<number> {
    const [newest] = (await db.query(`select stream, seq from ${this.#t}_events order by pos desc limit 1`, []))
      .rows as Row[]
    if (newest === undefined || String(newest.stream) !== stream) return cut
    return Math.min(cut, Number(newest.seq) - 1)
  }

  /** Forgets the heads this trail remembers (the store closed). */
  clear(): void {
    this.#heads.clear()
  }
}
