import { hash } from 'node:crypto'
import { canonicalJson } from './canonical.ts'
import type { StoredRecord } from './record.ts'

/** Version of the hashed form; a future change of what is hashed gets a new one. */
const FORMAT = 1

/** What a record's hash covers: every field but the hash itself, in canonical JSON. */
export function hashedContent(r: Omit<StoredRecord, 'hash'>): string {
  return canonicalJson({
    v: FORMAT,
    id: r.id,
    stream: r.stream,
    seq: r.seq,
    at: r.at,
    actor: r.actor,
    action: r.action,
    target: r.target,
    outcome: r.outcome,
    ip: r.ip,
    userAgent: r.userAgent,
    requestId: r.requestId,
    traceId: r.traceId,
    diff: r.diff,
    metadata: r.metadata,
    prevHash: r.prevHash,
  })
}

/**
 * SHA-256 (hex) of the record's canonical form. The one-shot `hash()` gives the same digest as
 * `createHash().update().digest()` without building a Hash object: that took ~20 µs of each
 * append's client CPU (profiled on Node 24), more than the canonical JSON it hashes.
 */
export function recordHash(r: Omit<StoredRecord, 'hash'>): string {
  return hash('sha256', hashedContent(r), 'hex')
}

/** A record's canonical text cut around its place in the chain: `before + prevHash + middle + seq + after`. */
export interface HashTemplate {
  before: string
  middle: string
  after: string
}

const PREV = 'p'.repeat(64)
const SEQ = 'SEQ'

/**
 * The canonical text of a record with the hole where prevHash and seq go, so that a database
 * can finish and hash it in the statement that takes the stream's place (PostgreSQL's
 * sha256()): one round trip instead of a transaction. Keys are sorted, so prevHash comes
 * before seq, and every field after them is a string, whose quotes JSON escapes: the last
 * occurrence of each marker is the record's own, whatever metadata holds.
 */
export function hashTemplate(r: Omit<StoredRecord, 'hash' | 'seq' | 'prevHash'>): HashTemplate {
  const text = hashedContent({ ...r, seq: SEQ as unknown as number, prevHash: PREV })
  const prevAt = text.lastIndexOf(`"prevHash":"${PREV}"`) + '"prevHash":"'.length
  const seqAt = text.lastIndexOf(`"seq":"${SEQ}"`) + '"seq":'.length
  return {
    before: text.slice(0, prevAt),
    middle: text.slice(prevAt + PREV.length, seqAt),
    after: text.slice(seqAt + SEQ.length + 2),
  }
}
