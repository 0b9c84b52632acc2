import { BeaverError, errorGuard } from '@beaver-kit/core'

/** Every code an AuditError can carry; stable, so callers may switch on them. */
export type AuditErrorCode =
  | 'AUDIT_CHAIN_BROKEN'
  | 'AUDIT_CLOSED'
  | 'AUDIT_EVENT_INVALID'
  | 'AUDIT_EVENT_TOO_LARGE'
  | 'AUDIT_OPTIONS_INVALID'
  | 'AUDIT_CURSOR_INVALID'
  | 'AUDIT_STORE_UNAVAILABLE'
  | 'AUDIT_NOT_SUPPORTED'

/** The one error class of @beaver-kit/audit. */
export class AuditError extends BeaverError<AuditErrorCode> {}

/** True for an AuditError (by brand, so it works across duplicate installs), optionally of the given codes. */
export const isAuditError = errorGuard<AuditErrorCode, AuditError>('AUDIT_')
