import { importPeer } from '@beaver-kit/core'
import type { Database, Dialect, Queryable } from '@beaver-kit/database'
import { canonicalJson } from '../canonical.ts'
import { AuditError } from '../errors.ts'
import { GENESIS_HASH, type AuditOutcome, type ChainPoint, type PreparedRecord, type StoredRecord } from '../record.ts'
import type { AuditAnchor, AuditStore, PositionedRecord, StoreQuery, StreamState } from '../store.ts'
import { createBatchAppender, type BatchAppender } from './pg-batch.ts'
import { auditMigrations } from './sql-schema.ts'
import { SqliteChain } from './sqlite-chain.ts'

/** Options of the database store (`BEAVER_AUDIT_DB_*`). */
export interface SqlStoreOptions {
  /** A database of @beaver-kit/database of your own (never closed by the store). */
  database?: AuditDatabase | undefined
  /** A URL to open one from; default: the default `db()` of @beaver-kit/database. */
  url?: string | undefined
  /** Prefix of the audit tables. Default `beaver_audit`. */
  table?: string | undefined
}

type Row = Record<string, unknown>

/** A `Database` of @beaver-kit/database, typed by shape so this package's types do not need it installed. */
export interface AuditDatabase {
  readonly dialect: 'postgres' | 'mysql' | 'sqlite'
  ready(options?: { signal?: AbortSignal }): Promise<void>
}

const COLUMNS =
  'id, stream, seq, at, actor, action, target, outcome, ip, user_agent, request_id, trace_id, diff, metadata, prev_hash, hash'

const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v))
const json = (v: unknown): unknown => (v === null || v === undefined ? null : (JSON.parse(String(v)) as unknown))

function fromRow(row: Row): StoredRecord {
  return {
    id: String(row.id),
    stream: String(row.stream),
    seq: Number(row.seq),
    at: Number(row.at),
    actor: str(row.actor),
    action: String(row.action),
    target: str(row.target),
    outcome: String(row.outcome) as AuditOutcome,
    ip: str(row.ip),
    userAgent: str(row.user_agent),
    requestId: str(row.request_id),
    traceId: str(row.trace_id),
    diff: json(row.diff) as StoredRecord['diff'],
    metadata: json(row.metadata) as StoredRecord['metadata'],
    prevHash: String(row.prev_hash),
    hash: String(row.hash),
  }
}

/** The canonical JSON text a record's diff and metadata are stored as, so reading them back gives the same value. */
function params(r: StoredRecord): unknown[] {
  const [id, ...rest] = ownFields(r)
  return [id, r.stream, r.seq, ...rest, r.prevHash, r.hash]
}

/** The record's own fields, in COLUMNS order without stream, seq and the hashes (as params() writes them). */
function ownFields(p: PreparedRecord): unknown[] {
  return [
    p.id,
    p.at,
    p.actor,
    p.action,
    p.target,
    p.outcome,
    p.ip,
    p.userAgent,
    p.requestId,
    p.traceId,
    p.diff === null ? null : canonicalJson(p.diff),
    p.metadata === null ? null : canonicalJson(p.metadata),
  ]
}

interface Statements {
  lockHead: string[]
  insert: string
  updateHead: string
  /** PostgreSQL: appends grouped per stream, each group one call of the store's append function. */
  batch?: BatchAppender
  /** SQLite: records linked forward from the one before, without a head row per append. */
  chain?: SqliteChain
}

/**
 * PostgreSQL, MariaDB/MySQL or SQLite through @beaver-kit/database. An append is one
 * transaction: the stream's head row is locked (an upsert, so the first append of a stream
 * races safely too), the record is written with the next seq, and the head moves. Writers of
 * one stream queue on that row lock (SQLite serializes writers anyway), so concurrent
 * processes never fork a chain; the unique (stream, seq) key would refuse it if they did.
 */
export class SqlStore implements AuditStore {
  readonly name = 'database'
  readonly #options: SqlStoreOptions
  readonly #t: string
  #opening: Promise<Database> | undefined
  #owns = false
  #statements: Statements | undefined
  #dialect: Dialect = 'sqlite'

  constructor(options: SqlStoreOptions = {}) {
    this.#options = options
    this.#t = options.table ?? 'beaver_audit'
    if (!/^[a-z_][a-z0-9_]{0,40}$/.test(this.#t)) {
      throw new AuditError(
        'AUDIT_OPTIONS_INVALID',
        `BEAVER_AUDIT_DB_TABLE is "${this.#t}"; use lowercase letters, digits and _, up to 41 characters.`,
      )
    }
  }

  /** `?` placeholders become `$n` on PostgreSQL. */
  #q(text: string): string {
    if (this.#dialect !== 'postgres') return text
    let n = 0
    return text.replace(/\?/g, () => `$${++n}`)
  }

  #prepare(dialect: Dialect): Statements {
    const t = this.#t
    const values = COLUMNS.split(', ')
      .map(() => '?')
      .join(', ')
    const insertHead = `insert into ${t}_heads (stream, seq, hash, base_seq, base_hash) values (?, 0, ?, 0, ?)`
    const lockHead =
      dialect === 'mysql'
        ? // ON DUPLICATE KEY takes the row's exclusive lock at once; INSERT IGNORE would take a
          // shared one and deadlock with a concurrent writer upgrading it for FOR UPDATE.
          [
            `${insertHead} on duplicate key update stream = stream`,
            `select seq, hash from ${t}_heads where stream = ? for update`,
          ]
        : // The no-op DO UPDATE locks the row (PostgreSQL) and returns it in the same statement.
          [`${insertHead} on conflict (stream) do update set stream = excluded.stream returning seq, hash`]
    return {
      ...(dialect === 'postgres' ? { batch: createBatchAppender(t, ownFields) } : {}),
      ...(dialect === 'sqlite' ? { chain: new SqliteChain({ table: t, columns: COLUMNS, params }) } : {}),
      lockHead: lockHead.map((s) => this.#q(s)),
      insert: this.#q(`insert into ${t}_events (${COLUMNS}) values (${values})`),
      updateHead: this.#q(`update ${t}_heads set seq = ?, hash = ? where stream = ?`),
    }
  }

  #database(): Promise<Database> {
    this.#opening ??= (async () => {
      const dbm = await importPeer(
        '@beaver-kit/database',
        () => import('@beaver-kit/database'),
        'the database audit store',
      )
      const { database, owned } = await dbm.openStoreDatabase({
        database: this.#options.database as Database | undefined,
        url: this.#options.url,
        migrations: (dialect) => ({ migrations: auditMigrations(dialect, this.#t), table: `${this.#t}_migrations` }),
      })
      this.#owns = owned
      this.#dialect = database.dialect
      this.#statements = this.#prepare(database.dialect)
      return database
    })()
    this.#opening.catch(() => (this.#opening = undefined))
    return this.#opening
  }

  async #rows(text: string, values: readonly unknown[], on?: Queryable): Promise<Row[]> {
    const db = on ?? (await this.#database())
    return (await db.query(this.#q(text), values)).rows
  }

  async ready(): Promise<void> {
    await this.#database()
  }

  async append(prepared: PreparedRecord, seal: (head: ChainPoint) => StoredRecord): Promise<StoredRecord> {
    const db = await this.#database()
    const s = this.#statements as Statements
    const { stream } = prepared
    if (s.batch !== undefined) return s.batch.append(db, prepared, seal)
    if (s.chain !== undefined) return s.chain.append(db, prepared, seal)
    return db.transaction(
      async (tx) => {
        const [upsert, select] = s.lockHead as [string, string | undefined]
        let rows = (await tx.query(upsert, [stream, GENESIS_HASH, GENESIS_HASH])).rows
        if (select !== undefined) rows = (await tx.query(select, [stream])).rows
        const head = rows[0] as Row
        const record = seal({ seq: Number(head.seq), hash: String(head.hash) })
        await tx.execute(s.insert, params(record))
        await tx.execute(s.updateHead, [record.seq, record.hash, stream])
        return record
      },
      // Only the database is touched, so a deadlock or serialization failure is safe to retry.
      { retries: 5 },
    )
  }

  async state(stream: string): Promise<StreamState | undefined> {
    const db = await this.#database()
    const chain = this.#statements?.chain
    if (chain !== undefined) return chain.state(db, stream)
    const [row] = await this.#rows(`select seq, hash, base_seq, base_hash from ${this.#t}_heads where stream = ?`, [
      stream,
    ])
    if (!row) return undefined
    return {
      head: { seq: Number(row.seq), hash: String(row.hash) },
      base: { seq: Number(row.base_seq), hash: String(row.base_hash) },
    }
  }

  async chain(stream: string, afterSeq: number, limit: number): Promise<StoredRecord[]> {
    const rows = await this.#rows(
      `select ${COLUMNS} from ${this.#t}_events where stream = ? and seq > ? order by seq limit ${Math.floor(limit)}`,
      [stream, afterSeq],
    )
    return rows.map(fromRow)
  }

  async query(q: StoreQuery): Promise<PositionedRecord[]> {
    const where: string[] = []
    const values: unknown[] = []
    const eq = (column: string, value: unknown): void => {
      if (value === undefined) return
      where.push(`${column} = ?`)
      values.push(value)
    }
    eq('stream', q.stream)
    eq('actor', q.actor)
    eq('target', q.target)
    eq('action', q.action)
    eq('outcome', q.outcome)
    if (q.from !== undefined) {
      where.push('at >= ?')
      values.push(q.from)
    }
    if (q.to !== undefined) {
      where.push('at < ?')
      values.push(q.to)
    }
    if (q.after !== undefined) {
      where.push(q.order === 'asc' ? 'pos > ?' : 'pos < ?')
      values.push(q.after)
    }
    const rows = await this.#rows(
      `select pos, ${COLUMNS} from ${this.#t}_events${where.length > 0 ? ` where ${where.join(' and ')}` : ''} order by pos ${q.order} limit ${Math.floor(q.limit)}`,
      values,
    )
    return rows.map((row) => ({ ...fromRow(row), pos: Number(row.pos) }))
  }

  async olderPrefix(stream: string, at: number): Promise<ChainPoint | undefined> {
    const state = await this.state(stream)
    if (!state) return undefined
    const [young] = await this.#rows(`select min(seq) as seq from ${this.#t}_events where stream = ? and at >= ?`, [
      stream,
      at,
    ])
    let cut = young?.seq === null || young?.seq === undefined ? state.head.seq : Number(young.seq) - 1
    const chain = this.#statements?.chain
    if (chain !== undefined) cut = await chain.prunable(await this.#database(), stream, cut)
    if (cut <= state.base.seq) return undefined
    const [row] = await this.#rows(`select seq, hash from ${this.#t}_events where stream = ? and seq = ?`, [
      stream,
      cut,
    ])
    return row ? { seq: Number(row.seq), hash: String(row.hash) } : undefined
  }

  async prune(stream: string, seq: number): Promise<number> {
    const db = await this.#database()
    const s = this.#statements as Statements
    return db.transaction(
      async (tx) => {
        const [upsert, select] = s.lockHead as [string, string | undefined]
        await tx.query(upsert, [stream, GENESIS_HASH, GENESIS_HASH])
        if (select !== undefined) await tx.query(select, [stream])
        const [cut] = await this.#rows(
          `select hash from ${this.#t}_events where stream = ? and seq = ?`,
          [stream, seq],
          tx,
        )
        const [head] = await this.#rows(`select base_seq from ${this.#t}_heads where stream = ?`, [stream], tx)
        if (!cut || Number(head?.base_seq ?? 0) >= seq) return 0
        // The newest record became this stream's since olderPrefix() looked: a later prune takes it.
        if (s.chain !== undefined && (await s.chain.prunable(tx, stream, seq)) < seq) return 0
        const { affectedRows } = await tx.execute(
          this.#q(`delete from ${this.#t}_events where stream = ? and seq <= ?`),
          [stream, seq],
        )
        await tx.execute(this.#q(`update ${this.#t}_heads set base_seq = ?, base_hash = ? where stream = ?`), [
          seq,
          String(cut.hash),
          stream,
        ])
        await s.chain?.pruned(tx, stream, seq)
        return affectedRows
      },
      { retries: 5 },
    )
  }

  async streams(): Promise<string[]> {
    const rows = await this.#rows(`select stream from ${this.#t}_heads order by stream`, [])
    return rows.map((r) => String(r.stream))
  }

  async addAnchor(a: AuditAnchor): Promise<void> {
    const db = await this.#database()
    const insert = `insert into ${this.#t}_anchors (stream, seq, hash, at, alg, signature) values (?, ?, ?, ?, ?, ?)`
    const upsert =
      this.#dialect === 'mysql'
        ? `${insert} on duplicate key update hash = values(hash), at = values(at), alg = values(alg), signature = values(signature)`
        : `${insert} on conflict (stream, seq) do update set hash = excluded.hash, at = excluded.at, alg = excluded.alg, signature = excluded.signature`
    await db.execute(this.#q(upsert), [a.stream, a.seq, a.hash, a.at, a.alg, a.signature])
  }

  async anchors(stream: string): Promise<AuditAnchor[]> {
    const rows = await this.#rows(
      `select stream, seq, hash, at, alg, signature from ${this.#t}_anchors where stream = ? order by seq`,
      [stream],
    )
    return rows.map((r) => ({
      stream: String(r.stream),
      seq: Number(r.seq),
      hash: String(r.hash),
      at: Number(r.at),
      alg: String(r.alg),
      signature: String(r.signature),
    }))
  }

  async close(): Promise<void> {
    const pending = this.#opening
    this.#opening = undefined
    if (!pending || !this.#owns) return
    const db = await pending.catch(() => undefined)
    await db?.close()
  }
}
