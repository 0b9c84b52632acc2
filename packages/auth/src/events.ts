/** What happened, as audit events name it (`auth.<flow>`). */
export type AuthEventType =
  | 'auth.register'
  | 'auth.login'
  | 'auth.logout'
  | 'auth.refresh'
  | 'auth.passwordChange'
  | 'auth.passwordRehash'
  | 'auth.passwordResetRequest'
  | 'auth.passwordReset'
  | 'auth.emailVerify'
  | 'auth.emailChange'
  | 'auth.lockout'
  | 'auth.unlock'
  | 'auth.apiKeyCreate'
  | 'auth.apiKeyRevoke'
  | 'auth.apiKeyUse'
  | 'auth.rolesChange'
  | 'auth.mfaEnroll'
  | 'auth.mfaDisable'
  | 'auth.accessDenied'

/**
 * One audit event. It never carries a password, a token, a key or a hash: only who, what,
 * the outcome and a reason code. `email` is set only where an account was not found, so the
 * audit trail can show attempts against unknown accounts; keep that trail as private as the
 * user table.
 */
export interface AuthEvent {
  type: AuthEventType
  outcome: 'success' | 'failure'
  /** The account concerned, when one is known. */
  userId?: string | undefined
  /** The e-mail tried, for failures against unknown accounts. */
  email?: string | undefined
  /** Why it failed (`wrong-password`, `unknown-user`, `locked`, `reused`, ...) or a detail of a success. */
  reason?: string | undefined
  /** Refresh family, API key id or role concerned. */
  target?: string | undefined
  ip?: string | undefined
  userAgent?: string | undefined
  /** Milliseconds since the epoch. */
  at: number
}

/**
 * Where audit events go: `@beaver-kit/audit`'s `record`, a logger, a queue. It is awaited, so
 * a sink that fails makes the flow fail (an audit trail with holes is worse than an error).
 */
export type AuthEventSink = (event: AuthEvent) => void | Promise<void>

/** Who is calling, as a flow records it: pass what the HTTP request gives. */
export interface RequestContext {
  ip?: string | undefined
  userAgent?: string | undefined
}
