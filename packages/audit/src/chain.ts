import { hash } from 'node:crypto'
import { canonicalJson } from './canonical.ts'
import type { StoredRecord } from './record.ts'

/** Version of the hashed form; a future change of what is hashed gets a new one. */
const FORMAT = 1

/** The hashed fields, sorted as canonical JSON sorts keys (UTF-16 code units); `v` sorts last. */
const FIELDS = [
  'action',
  'actor',
  'at',
  'diff',
  'id',
  'ip',
  'metadata',
  'outcome',
  'prevHash',
  'requestId',
  'seq',
  'stream',
  'target',
  'traceId',
  'userAgent',
] as const

/**
 * What a record's hash covers: every field but the hash itself, and the format version `v`,
 * in canonical JSON. Written field by field in their sorted order, which is the text
 * `canonicalJson({ v, ...fields })` gives, without building that object and sorting its keys
 * on every append (a third of an append's client CPU).
 */
export function hashedContent(r: Omit<StoredRecord, 'hash'>): string {
  let text = '{'
  for (const field of FIELDS) {
    const value = r[field]
    if (value !== undefined) text += `"${field}":${canonicalJson(value)},`
  }
  return `${text}"v":${FORMAT}}`
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
