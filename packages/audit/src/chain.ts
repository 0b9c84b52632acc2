import { createHash } from 'node:crypto'
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

/** SHA-256 (hex) of the record's canonical form. */
export function recordHash(r: Omit<StoredRecord, 'hash'>): string {
  return createHash('sha256').update(hashedContent(r)).digest('hex')
}
