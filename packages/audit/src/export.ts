import { canonicalJson } from './canonical.ts'
import type { StoredRecord } from './record.ts'

/** Formats of `export()`. */
export type ExportFormat = 'jsonl' | 'csv'

/** The CSV columns, in order. */
export const CSV_COLUMNS = [
  'id',
  'stream',
  'seq',
  'at',
  'actor',
  'action',
  'target',
  'outcome',
  'ip',
  'user_agent',
  'request_id',
  'trace_id',
  'diff',
  'metadata',
  'prev_hash',
  'hash',
] as const

/**
 * One CSV cell, safe to open in a spreadsheet: a value starting with = + - @ or a tab or
 * carriage return is prefixed with ' so that it is never taken as a formula (OWASP's CSV
 * injection advice), then quoted as RFC 4180 says when it holds a quote, comma or line break.
 */
export function csvCell(value: string | number | null): string {
  if (value === null) return ''
  let text = String(value)
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

/** The header line of a CSV export. */
export const CSV_HEADER = `${CSV_COLUMNS.join(',')}\r\n`

/** One record as a CSV line (time as ISO 8601, diff and metadata as JSON). */
export function csvLine(r: StoredRecord): string {
  const cells = [
    r.id,
    r.stream,
    r.seq,
    new Date(r.at).toISOString(),
    r.actor,
    r.action,
    r.target,
    r.outcome,
    r.ip,
    r.userAgent,
    r.requestId,
    r.traceId,
    r.diff === null ? null : canonicalJson(r.diff),
    r.metadata === null ? null : canonicalJson(r.metadata),
    r.prevHash,
    r.hash,
  ]
  return `${cells.map(csvCell).join(',')}\r\n`
}

/**
 * One record as a JSON line, exactly as stored (time in ms since the epoch), so that a reader
 * can recompute every hash and check the chain outside the application.
 */
export function jsonLine(r: StoredRecord): string {
  return `${canonicalJson(r)}\n`
}
