import { randomUUID } from 'node:crypto'
import { activeTraceHeaders } from '@beaver-kit/core'
import { getLogContext, type Redactor } from '@beaver-kit/logger'
import { canonicalJson, toJsonValue } from './canonical.ts'
import { recordHash } from './chain.ts'
import { STREAM_NAME } from './config.ts'
import { diffValues } from './diff.ts'
import { AuditError } from './errors.ts'
import { OUTCOMES, type AuditEvent, type ChainPoint, type PreparedRecord, type StoredRecord } from './record.ts'

/** Longest value of each free-text field (the SQL column sizes); longer values are cut, not refused. */
export const FIELD_LIMITS = {
  actor: 255,
  target: 255,
  ip: 64,
  userAgent: 512,
  requestId: 128,
  traceId: 64,
} as const

export interface PrepareContext {
  defaultStream: string
  maxEventSize: number
  redactor: Redactor
  clock: () => number
}

function text(value: unknown, field: keyof typeof FIELD_LIMITS): string | null {
  if (value === undefined || value === null) return null
  if (typeof value !== 'string') {
    throw new AuditError('AUDIT_EVENT_INVALID', `An audit event's ${field} is a string, got ${typeof value}`, {
      details: { field },
    })
  }
  const max = FIELD_LIMITS[field]
  // Cut at a code point, never between the halves of a surrogate pair; NUL (which PostgreSQL
  // text cannot hold, and a user agent may carry) becomes U+FFFD on every store alike.
  const cut = value.length > max ? value.slice(0, max).replace(/[\uD800-\uDBFF]$/, '') : value
  return wellFormed(cut.includes('\0') ? cut.replaceAll('\0', '\uFFFD') : cut)
}

/**
 * A lone surrogate as U+FFFD. UTF-8 cannot hold one, so every driver stores U+FFFD in its place
 * while the hash, over JSON's `\ud800` escape, covered the surrogate: verify() would then call
 * the untouched record altered. Replaced here, before hashing, the record is what is stored.
 */
function wellFormed(value: string): string {
  return value.isWellFormed() ? value : value.toWellFormed()
}

function objectOrNull(value: unknown, field: string): Record<string, unknown> | null {
  if (value === undefined || value === null) return null
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new AuditError(
      'AUDIT_EVENT_INVALID',
      `An audit event's ${field} is an object, got ${Array.isArray(value) ? 'an array' : typeof value}`,
      {
        details: { field },
      },
    )
  }
  return value as Record<string, unknown>
}

function timeOf(at: AuditEvent['at'], clock: () => number): number {
  if (at === undefined) return clock()
  const ms = at instanceof Date ? at.getTime() : at
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw new AuditError(
      'AUDIT_EVENT_INVALID',
      `An audit event's at is a Date or ms since the epoch, got ${String(at)}`,
    )
  }
  return ms
}

function traceIdFromContext(): string | null {
  const parent = activeTraceHeaders()?.traceparent
  return parent ? (parent.split('-')[1] ?? null) : null
}

function requestIdFromContext(): string | null {
  const id = getLogContext()?.requestId
  return typeof id === 'string' ? id : null
}

/**
 * Checks an event and turns it into what is stored: short fields cut to their column, before
 * and after reduced to their difference, secrets censored (by the logger's redactor, the same
 * rule as the logs), everything as JSON, the size bounded. Redaction happens here, before the
 * record is hashed, so a secret is never stored and the hash covers what is.
 */
export function prepareEvent(event: AuditEvent, ctx: PrepareContext): PreparedRecord {
  if (typeof event !== 'object' || event === null) {
    throw new AuditError('AUDIT_EVENT_INVALID', 'record() takes an event object such as { action: "user.login" }')
  }
  const { action: given } = event
  if (typeof given !== 'string' || given.length === 0 || given.length > 128 || given.includes('\0')) {
    throw new AuditError(
      'AUDIT_EVENT_INVALID',
      'An audit event needs an action of 1 to 128 characters, such as "link.delete"',
    )
  }
  const action = wellFormed(given)
  const stream = event.stream ?? ctx.defaultStream
  if (typeof stream !== 'string' || !STREAM_NAME.test(stream)) {
    throw new AuditError(
      'AUDIT_EVENT_INVALID',
      `An audit stream is 1 to 128 letters, digits, _ . : or -; got ${JSON.stringify(String(stream).slice(0, 140))}`,
    )
  }
  const outcome = event.outcome ?? 'success'
  if (!OUTCOMES.includes(outcome)) {
    throw new AuditError(
      'AUDIT_EVENT_INVALID',
      `An audit event's outcome is one of ${OUTCOMES.join(', ')}; got ${JSON.stringify(String(outcome).slice(0, 40))}`,
    )
  }
  const { redactor } = ctx
  const before = objectOrNull(toJsonValue(objectOrNull(event.before, 'before'), 'before'), 'before')
  const after = objectOrNull(toJsonValue(objectOrNull(event.after, 'after'), 'after'), 'after')
  const diff =
    before === null && after === null
      ? null
      : diffValues(before, after, (path, value) =>
          path.some((segment) => redactor.matchesKey(segment))
            ? redactor.censor
            : typeof value === 'object' && value !== null
              ? redactor.redact({ value }).value
              : value,
        )
  const rawMetadata = objectOrNull(event.metadata, 'metadata')
  const metadata =
    rawMetadata === null ? null : (toJsonValue(redactor.redact(rawMetadata), 'metadata') as Record<string, unknown>)
  const size = Buffer.byteLength(canonicalJson(diff)) + Buffer.byteLength(canonicalJson(metadata))
  if (size > ctx.maxEventSize) {
    throw new AuditError(
      'AUDIT_EVENT_TOO_LARGE',
      `An audit event's diff and metadata take ${size} bytes, more than BEAVER_AUDIT_MAX_EVENT_SIZE (${ctx.maxEventSize}); keep less, or raise it`,
      { details: { size, max: ctx.maxEventSize } },
    )
  }
  return {
    id: randomUUID(),
    stream,
    at: timeOf(event.at, ctx.clock),
    actor: text(event.actor, 'actor'),
    action,
    target: text(event.target, 'target'),
    outcome,
    ip: text(event.ip, 'ip'),
    userAgent: text(event.userAgent, 'userAgent'),
    requestId: text(event.requestId === undefined ? requestIdFromContext() : event.requestId, 'requestId'),
    traceId: text(event.traceId === undefined ? traceIdFromContext() : event.traceId, 'traceId'),
    diff,
    metadata,
  }
}

/** The record at the place after `head` in its chain, with its hash. */
export function sealRecord(prepared: PreparedRecord, head: ChainPoint): StoredRecord {
  const unsealed = { ...prepared, seq: head.seq + 1, prevHash: head.hash }
  return { ...unsealed, hash: recordHash(unsealed) }
}
