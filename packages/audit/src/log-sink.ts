import { logger as defaultLogger } from '@beaver-kit/logger'
import type { StoredRecord } from './record.ts'

/** What the log sink needs of a logger: `info(fields, message)` (a @beaver-kit/logger or pino logger fits). */
export interface AuditLogger {
  info(fields: object, message?: string): void
}

/**
 * Writes each record as one log line (`msg: "audit"`, the record under `audit`, time as ISO
 * 8601), after it is stored: what the log shows is what the chain holds, hashes included.
 */
export function logSink(given: AuditLogger | undefined): (record: StoredRecord) => void {
  let target = given
  return (record) => {
    target ??= defaultLogger()
    target.info({ audit: { ...record, at: new Date(record.at).toISOString() } }, 'audit')
  }
}
