export { createAudit } from './audit.ts'
export type { Audit, AuditOptions, PruneResult, StreamOptions } from './audit.ts'
export { audit, initAudit, resetAudit, withPrefix } from './default.ts'
export { AuditError, isAuditError } from './errors.ts'
export type { AuditErrorCode } from './errors.ts'
export { channels } from './channels.ts'
export { auditSchema } from './config.ts'
export type { AuditSettings } from './config.ts'
export { GENESIS_HASH, OUTCOMES } from './record.ts'
export type {
  AuditChange,
  AuditEvent,
  AuditOutcome,
  AuditRecord,
  ChainPoint,
  PreparedRecord,
  StoredRecord,
} from './record.ts'
export type { AuditPage, AuditQuery } from './query.ts'
export type { ChainProblem, ChainProblemKind, VerifyResult } from './verify.ts'
export type { AuditAnchor, AuditStore, PositionedRecord, StoreQuery, StreamState } from './store.ts'
export type { AuditLogger } from './log-sink.ts'
export type { ExportFormat } from './export.ts'
export { canonicalJson } from './canonical.ts'
export { recordHash } from './chain.ts'
export { MemoryStore } from './stores/memory.ts'
export { SqlStore } from './stores/sql.ts'
export type { AuditDatabase, SqlStoreOptions } from './stores/sql.ts'
