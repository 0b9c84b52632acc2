/** How an audited action ended. */
export type AuditOutcome = 'success' | 'failure' | 'denied' | 'error'

/** The outcomes `record()` accepts. */
export const OUTCOMES: readonly AuditOutcome[] = ['success', 'failure', 'denied', 'error']

/** What `record()` takes: who did what to which target, how it ended, and from where. */
export interface AuditEvent {
  /** What was done, e.g. `link.delete` or `auth.login` (1 to 128 characters). */
  action: string
  /** The chain this record joins. Default: `BEAVER_AUDIT_STREAM` (`default`). */
  stream?: string | undefined
  /** Who did it, e.g. `user:42` (longer than 255 characters is cut). */
  actor?: string | null | undefined
  /** What it was done to, e.g. `link:7` (longer than 255 characters is cut). */
  target?: string | null | undefined
  /** Default `success`. */
  outcome?: AuditOutcome | undefined
  ip?: string | null | undefined
  userAgent?: string | null | undefined
  /** Default: the `requestId` of the logger's context (`withLogContext`), if any. */
  requestId?: string | null | undefined
  /** Default: the trace id of the active OpenTelemetry span, if any. */
  traceId?: string | null | undefined
  /** The target before the change; only the difference with `after` is kept, secrets censored. */
  before?: Record<string, unknown> | null | undefined
  /** The target after the change. */
  after?: Record<string, unknown> | null | undefined
  /** Anything else worth keeping (JSON), secrets censored. */
  metadata?: Record<string, unknown> | null | undefined
  /** When it happened. Default: now. */
  at?: Date | number | undefined
}

/** One changed field of a before/after diff; `before` or `after` is absent when the field was. */
export interface AuditChange {
  /** Dotted path of the field (`address.city`); arrays change as a whole. */
  path: string
  before?: unknown
  after?: unknown
}

/** A record as kept: the event, its place in its stream's chain, and the hashes that link it. */
export interface AuditRecord {
  /** A random UUID. */
  id: string
  stream: string
  /** 1, 2, 3... within the stream, without gaps. */
  seq: number
  at: Date
  actor: string | null
  action: string
  target: string | null
  outcome: AuditOutcome
  ip: string | null
  userAgent: string | null
  requestId: string | null
  traceId: string | null
  diff: AuditChange[] | null
  metadata: Record<string, unknown> | null
  /** SHA-256 of the previous record of the stream (64 zeros for the first). */
  prevHash: string
  /** SHA-256 of this record's canonical JSON (prevHash included). */
  hash: string
}

/** A record as stores keep it: time in ms since the epoch. */
export interface StoredRecord extends Omit<AuditRecord, 'at'> {
  at: number
}

/** A record checked, redacted and ready, before it has a place (seq, prevHash, hash) in its chain. */
export type PreparedRecord = Omit<StoredRecord, 'seq' | 'prevHash' | 'hash'>

/** A point of a chain: a sequence number and the hash of the record there. */
export interface ChainPoint {
  seq: number
  hash: string
}

/** The hash before the first record of a stream. */
export const GENESIS_HASH = '0'.repeat(64)

/** The public form of a stored record. */
export function toAuditRecord(r: StoredRecord): AuditRecord {
  return { ...r, at: new Date(r.at) }
}
