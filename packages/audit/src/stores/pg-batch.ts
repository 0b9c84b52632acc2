import type { Database } from '@beaver-kit/database'
import { hashTemplate } from '../chain.ts'
import { AuditError } from '../errors.ts'
import { GENESIS_HASH, type ChainPoint, type PreparedRecord, type StoredRecord } from '../record.ts'

/** Most records one call chains and writes; the rest wait for the next call. */
export const MAX_BATCH = 256

/** The record's own fields, in the order of the append function's arrays after the hash template. */
export type OwnFields = (prepared: PreparedRecord) => unknown[]

/** Appends records to PostgreSQL through the batch append function, grouped per stream. */
export interface BatchAppender {
  append(db: Database, prepared: PreparedRecord, seal: (head: ChainPoint) => StoredRecord): Promise<StoredRecord>
}

interface Job {
  prepared: PreparedRecord
  seal: (head: ChainPoint) => StoredRecord
  resolve: (record: StoredRecord) => void
  reject: (err: unknown) => void
}

type Row = Record<string, unknown>

/** Every statement here runs often with the same text: kept prepared on each connection. */
const PREPARED = { prepare: true } as const

const COLUMNS =
  'id, stream, seq, at, actor, action, target, outcome, ip, user_agent, request_id, trace_id, diff, metadata, prev_hash, hash'

/**
 * PostgreSQL appends, grouped per stream. A stream's first append goes at once; appends that
 * arrive while it is in flight wait and go together in the next call, of `<table>_append_batch`
 * (migration 0004): one round trip and one commit for all of them, where each would otherwise
 * wait for the previous one's commit on the head row lock. A stream has at most one call in
 * flight from this store, so the order of the chain is the order of arrival here; writers in
 * other processes still queue on the head row lock. Once a call has shown where the stream's head
 * is, the next records are chained here after it and written only if the head has not moved (one
 * record by one statement that moves the head row and inserts, several by
 * `<table>_append_after_batch`, migration 0006); when it has, they go through the functions that
 * chain after the head as it is. Every statement is prepared once per connection (`prepare`
 * of @beaver-kit/database). When the database refuses a batch, each of its records is tried
 * alone, so one bad record fails only its own `record()`.
 */
export function createBatchAppender(table: string, ownFields: OwnFields): BatchAppender {
  // Bare parameters, typed by each function's one signature (a cast names its type, which the
  // server resolved on every parse when these statements went unnamed).
  const params = (n: number): string => Array.from({ length: n }, (_, i) => `$${i + 1}`).join(', ')
  const returned = 'select o_seq as seq, o_prev_hash as prev_hash, o_hash as hash from'
  // The stream, the genesis hash, then columns: the hash template and the own fields (migration 0004).
  const batchStatement = `${returned} ${table}_append_batch(${params(2 + 15)}) order by o_seq`
  // Migration 0003's function takes the stream, the template, the genesis hash, then the fields.
  const singleStatement = `${returned} ${table}_append(${params(5 + 12)})`
  // After a known head: the stream, the head, then the own fields and the hash. One record is
  // one statement doing what migration 0006's _append_after does: the head row moved only if
  // it is still at the known head (checked again under its lock after waiting for another
  // writer), and the record inserted only if it moved, in one autocommitted statement.
  // Prepared, it runs with neither a parse nor a function call: ~90 µs of server CPU per append
  // where the unnamed call of _append_after took ~150 µs (a plain INSERT of the row ~90-110 µs;
  // synchronous_commit off, load 2.8).
  const own = Array.from({ length: 12 }, (_, i) => `$${i + 4}`)
  const afterOne =
    `with moved as (update ${table}_heads set seq = $2::bigint + 1, hash = $16::text, prev_hash = $3::text ` +
    `where stream = $1::text and seq = $2::bigint and hash = $3::text returning seq) ` +
    `insert into ${table}_events (${COLUMNS}) select ${own[0]}, $1, moved.seq, ${own.slice(1).join(', ')}, $3, $16 from moved`
  const afterBatch = `select ${table}_append_after_batch(${params(3 + 13)}) as written`
  const queues = new Map<string, Job[]>()
  // Where this store's last append left each stream: the next records are chained here and
  // written only if the head is still there (another writer moving it costs one round trip).
  const heads = new Map<string, ChainPoint>()

  /** The records chained after `head` and written, or undefined when the head has moved. */
  async function appendAfter(
    db: Database,
    stream: string,
    head: ChainPoint,
    jobs: readonly Job[],
  ): Promise<StoredRecord[] | undefined> {
    if (jobs.length === 1) {
      // One record (the common case, one append at a time): its values as they are, no columns.
      const { prepared, seal } = jobs[0] as Job
      const record = seal(head)
      const values = [stream, head.seq, head.hash, ...ownFields(prepared), record.hash]
      const { affectedRows } = await db.execute(afterOne, values, PREPARED)
      return affectedRows === 1 ? [record] : undefined
    }
    const records: StoredRecord[] = []
    const columns: unknown[][] = Array.from({ length: 13 }, () => [])
    let place = head
    for (const { prepared, seal } of jobs) {
      const record = seal(place)
      records.push(record)
      place = { seq: record.seq, hash: record.hash }
      ;[...ownFields(prepared), record.hash].forEach((value, i) => (columns[i] as unknown[]).push(value))
    }
    const { rows } = await db.query(afterBatch, [stream, head.seq, head.hash, ...columns], PREPARED)
    return rows[0]?.written === true ? records : undefined
  }

  async function call(db: Database, stream: string, jobs: readonly Job[]): Promise<Row[]> {
    if (jobs.length === 1) {
      const { prepared } = jobs[0] as Job
      const { before, middle, after } = hashTemplate(prepared)
      const values = [stream, before, middle, after, GENESIS_HASH, ...ownFields(prepared)]
      return (await db.query(singleStatement, values, PREPARED)).rows
    }
    const columns: unknown[][] = Array.from({ length: 15 }, () => [])
    for (const { prepared } of jobs) {
      const { before, middle, after } = hashTemplate(prepared)
      ;[before, middle, after, ...ownFields(prepared)].forEach((value, i) => (columns[i] as unknown[]).push(value))
    }
    return (await db.query(batchStatement, [stream, GENESIS_HASH, ...columns], PREPARED)).rows
  }

  function settle(job: Job, written: Row | undefined): boolean {
    try {
      if (!written) throw new Error('the append function returned fewer rows than records')
      const record = job.seal({ seq: Number(written.seq) - 1, hash: String(written.prev_hash) })
      if (record.hash !== String(written.hash)) {
        // Never expected (the text and the hash are the same bytes on both sides); said loudly
        // rather than leaving a record verify() would call altered without a reason.
        throw new AuditError(
          'AUDIT_STORE_UNAVAILABLE',
          `PostgreSQL hashed record #${record.seq} of ${record.stream} differently from the kit; check that the database encoding is UTF8`,
          { details: { stream: record.stream, seq: record.seq } },
        )
      }
      job.resolve(record)
      return true
    } catch (err) {
      job.reject(err)
      return false
    }
  }

  async function write(db: Database, stream: string, jobs: readonly Job[]): Promise<void> {
    const head = heads.get(stream)
    heads.delete(stream)
    let rows: Row[]
    try {
      if (head !== undefined) {
        const records = await appendAfter(db, stream, head, jobs)
        if (records !== undefined) {
          const last = records[records.length - 1] as StoredRecord
          heads.set(stream, { seq: last.seq, hash: last.hash })
          jobs.forEach((job, i) => job.resolve(records[i] as StoredRecord))
          return
        }
      }
      rows = await call(db, stream, jobs)
    } catch (err) {
      if (jobs.length === 1) return (jobs[0] as Job).reject(err)
      for (const job of jobs) await write(db, stream, [job])
      return
    }
    const settled = jobs.map((job, i) => settle(job, rows[i])).every(Boolean)
    const last = rows[jobs.length - 1]
    // The head is known only when every record came back as the kit chained it.
    if (settled && last) heads.set(stream, { seq: Number(last.seq), hash: String(last.hash) })
  }

  async function drain(db: Database, stream: string, first: Job): Promise<void> {
    const waiting = queues.get(stream) as Job[]
    let batch = [first]
    while (batch.length > 0) {
      await write(db, stream, batch)
      // The callers of a batch just answered often append again at once, a few promise turns
      // later: one event-loop turn lets them join the records already waiting, so that the
      // batches stay whole (without it, eight callers settle into batches of seven and one,
      // in turn). A lone caller does not wait for it.
      if (batch.length > 1) await new Promise((resolve) => setImmediate(resolve))
      batch = waiting.splice(0, MAX_BATCH)
    }
    queues.delete(stream)
  }

  return {
    append(db, prepared, seal) {
      return new Promise((resolve, reject) => {
        const job: Job = { prepared, seal, resolve, reject }
        const waiting = queues.get(prepared.stream)
        if (waiting) {
          waiting.push(job)
          return
        }
        queues.set(prepared.stream, [])
        void drain(db, prepared.stream, job)
      })
    },
  }
}
