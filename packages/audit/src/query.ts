import { STREAM_NAME } from './config.ts'
import { AuditError } from './errors.ts'
import { OUTCOMES, type AuditOutcome, type AuditRecord } from './record.ts'
import type { StoreQuery } from './store.ts'

/** What `query()` filters on; every field is optional and they combine with AND. */
export interface AuditQuery {
  stream?: string | undefined
  actor?: string | undefined
  target?: string | undefined
  action?: string | undefined
  outcome?: AuditOutcome | undefined
  /** Records at or after this time. */
  from?: Date | number | undefined
  /** Records before this time. */
  to?: Date | number | undefined
  /** Records per page. Default `BEAVER_AUDIT_PAGE_SIZE`, at most `BEAVER_AUDIT_MAX_PAGE_SIZE`. */
  limit?: number | undefined
  /** `desc` (newest written first, the default) or `asc`. */
  order?: 'asc' | 'desc' | undefined
  /** The `cursor` of the previous page, to read the next one. */
  cursor?: string | undefined
}

/** One page of records; `cursor` reads the next page and is absent on the last. */
export interface AuditPage {
  records: AuditRecord[]
  cursor?: string
}

const MAX_FILTER = 255

function filterText(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value.length > MAX_FILTER) {
    throw new AuditError('AUDIT_EVENT_INVALID', `query(): ${field} is a string of at most ${MAX_FILTER} characters`)
  }
  return value
}

function time(value: Date | number | undefined, field: string): number | undefined {
  if (value === undefined) return undefined
  const ms = value instanceof Date ? value.getTime() : value
  if (!Number.isFinite(ms))
    throw new AuditError('AUDIT_EVENT_INVALID', `query(): ${field} is a Date or ms since the epoch`)
  return Math.floor(ms)
}

/** An opaque position: the order it was made for and the last position of the page. */
export function encodeCursor(order: 'asc' | 'desc', pos: number): string {
  return Buffer.from(`${order}:${pos}`).toString('base64url')
}

function decodeCursor(cursor: string, order: 'asc' | 'desc'): number {
  const text = cursor.length <= 64 ? Buffer.from(cursor, 'base64url').toString('utf8') : ''
  const m = /^(asc|desc):(\d{1,16})$/.exec(text)
  if (!m) throw new AuditError('AUDIT_CURSOR_INVALID', 'query(): the cursor is not one a previous page returned')
  if (m[1] !== order) {
    throw new AuditError('AUDIT_CURSOR_INVALID', `query(): the cursor was made for order ${m[1]}, not ${order}`)
  }
  return Number(m[2])
}

/** Checks and bounds a query; the store gets one more row than the page to know whether another follows. */
export function toStoreQuery(q: AuditQuery, pageSize: number, maxPageSize: number): StoreQuery {
  const order = q.order ?? 'desc'
  if (order !== 'asc' && order !== 'desc') {
    throw new AuditError('AUDIT_EVENT_INVALID', 'query(): order is asc or desc')
  }
  const limit = q.limit ?? pageSize
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > maxPageSize) {
    throw new AuditError(
      'AUDIT_EVENT_INVALID',
      `query(): limit is a whole number from 1 to ${maxPageSize} (BEAVER_AUDIT_MAX_PAGE_SIZE); got ${String(limit)}`,
    )
  }
  if (q.stream !== undefined && !STREAM_NAME.test(q.stream)) {
    throw new AuditError('AUDIT_EVENT_INVALID', 'query(): stream is 1 to 128 letters, digits, _ . : or -')
  }
  if (q.outcome !== undefined && !OUTCOMES.includes(q.outcome)) {
    throw new AuditError('AUDIT_EVENT_INVALID', `query(): outcome is one of ${OUTCOMES.join(', ')}`)
  }
  return {
    stream: q.stream,
    actor: filterText(q.actor, 'actor'),
    target: filterText(q.target, 'target'),
    action: filterText(q.action, 'action'),
    outcome: q.outcome,
    from: time(q.from, 'from'),
    to: time(q.to, 'to'),
    after: q.cursor === undefined ? undefined : decodeCursor(q.cursor, order),
    order,
    limit: limit + 1,
  }
}
