import type { AuditOutcome, ChainPoint, PreparedRecord, StoredRecord } from './record.ts'

/** A signed statement that a stream's record `seq` had hash `hash` at time `at`. */
export interface AuditAnchor {
  stream: string
  seq: number
  hash: string
  /** When the anchor was made, ms since the epoch. */
  at: number
  /** JWS algorithm of the signature (HS256, EdDSA, ...). */
  alg: string
  /** base64url signature over the anchor's canonical JSON (without the signature). */
  signature: string
}

/** Where a stream stands: its last record and its checkpoint (the record before the first one kept). */
export interface StreamState {
  head: ChainPoint
  /** `{ seq: 0, hash: GENESIS_HASH }` until retention pruned the start of the chain. */
  base: ChainPoint
}

/** What a store filters on; the facade has checked and bounded every field. */
export interface StoreQuery {
  stream?: string | undefined
  actor?: string | undefined
  target?: string | undefined
  action?: string | undefined
  outcome?: AuditOutcome | undefined
  /** ms since the epoch, inclusive. */
  from?: number | undefined
  /** ms since the epoch, exclusive. */
  to?: number | undefined
  /** Position to continue after (exclusive), from a cursor. */
  after?: number | undefined
  order: 'asc' | 'desc'
  limit: number
}

/** A stored record with its position in the store (the query order and cursor). */
export interface PositionedRecord extends StoredRecord {
  pos: number
}

/**
 * Where records live. A store appends atomically per stream (no two writers ever get the same
 * seq, whatever the number of processes) and keeps rows exactly as given, so that the facade
 * can check their hashes later; everything else (redaction, hashing, verification, paging) is
 * the facade's.
 */
export interface AuditStore {
  /** `memory`, `database`, or a custom name. */
  readonly name: string
  /** Connects and migrates; rejects when the backend is away. */
  ready(): Promise<void>
  /**
   * Appends one record in one atomic step: reads the stream's head (`record.stream`) under a
   * lock, lets `seal` make the record that follows it, writes the record and the new head.
   */
  append(record: PreparedRecord, seal: (head: ChainPoint) => StoredRecord): Promise<StoredRecord>
  /** The stream's head and checkpoint; undefined for a stream never written. */
  state(stream: string): Promise<StreamState | undefined>
  /** Records of the stream with seq > `afterSeq`, by seq, at most `limit`. */
  chain(stream: string, afterSeq: number, limit: number): Promise<StoredRecord[]>
  /** Records matching the query, in position order, at most `limit`. */
  query(query: StoreQuery): Promise<PositionedRecord[]>
  /**
   * Deletes the stream's records up to `seq` (included) and makes that record the checkpoint,
   * in one step. Returns how many were deleted.
   */
  prune(stream: string, seq: number): Promise<number>
  /** The seq of the last record before the first one at or after `at` (the prefix older than `at`). */
  olderPrefix(stream: string, at: number): Promise<ChainPoint | undefined>
  /** Every stream written. */
  streams(): Promise<string[]>
  addAnchor(anchor: AuditAnchor): Promise<void>
  /** The stream's anchors, by seq. */
  anchors(stream: string): Promise<AuditAnchor[]>
  close(): Promise<void>
}
