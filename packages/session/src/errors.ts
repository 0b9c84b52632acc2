import { BeaverError, errorGuard } from '@beaver-kit/core'

/** Every code a SessionError can carry; stable, so callers may switch on them. */
export type SessionErrorCode =
  | 'SESSION_CLOSED'
  | 'SESSION_KEYS_MISSING'
  | 'SESSION_OPTIONS_INVALID'
  | 'SESSION_TOO_LARGE'
  | 'SESSION_DESTROYED'
  | 'SESSION_LOCK_TIMEOUT'

/** The one error class of @beaver-kit/session. A bad cookie is never an error: it is "no session". */
export class SessionError extends BeaverError<SessionErrorCode> {}

/** True for a SessionError (by brand, so it works across duplicate installs), optionally of the given codes. */
export const isSessionError = errorGuard<SessionErrorCode, SessionError>('SESSION_')
