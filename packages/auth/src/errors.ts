import { BeaverError, errorGuard } from '@beaver-kit/core'

/** Every code an AuthError can carry; stable, so callers may switch on them. */
export type AuthErrorCode =
  | 'AUTH_OPTIONS_INVALID'
  | 'AUTH_CLOSED'
  | 'AUTH_STORE_MISMATCH'
  /** Wrong password, unknown account or a delayed (locked) account: one answer for all three. */
  | 'AUTH_INVALID_CREDENTIALS'
  | 'AUTH_RATE_LIMITED'
  | 'AUTH_PASSWORD_REJECTED'
  | 'AUTH_EMAIL_INVALID'
  | 'AUTH_EMAIL_TAKEN'
  /** A token (access, refresh, reset, verification, API key) that is unknown, expired, used or tampered with. */
  | 'AUTH_TOKEN_INVALID'
  /** A refresh token presented a second time: its whole family was revoked. */
  | 'AUTH_REFRESH_REUSED'
  | 'AUTH_UNAUTHENTICATED'
  | 'AUTH_FORBIDDEN'
  | 'AUTH_USER_NOT_FOUND'
  | 'AUTH_ROLE_UNKNOWN'
  /** The password was right and the account has TOTP on: send the login again with `otp`. */
  | 'AUTH_MFA_REQUIRED'
  /** TOTP enrollment called in the wrong order (already on, nothing to confirm). */
  | 'AUTH_MFA_STATE'

/** The one error class of @beaver-kit/auth. */
export class AuthError extends BeaverError<AuthErrorCode> {}

/** True for an AuthError (by brand, so it works across duplicate installs), optionally of the given codes. */
export const isAuthError = errorGuard<AuthErrorCode, AuthError>('AUTH_')

/** The HTTP status an AuthError maps to (401 for anything about who you are, 403 for what you may do). */
export function statusOf(code: AuthErrorCode): number {
  switch (code) {
    case 'AUTH_FORBIDDEN':
      return 403
    case 'AUTH_RATE_LIMITED':
      return 429
    case 'AUTH_PASSWORD_REJECTED':
    case 'AUTH_EMAIL_INVALID':
      return 400
    case 'AUTH_EMAIL_TAKEN':
    case 'AUTH_MFA_STATE':
      return 409
    case 'AUTH_MFA_REQUIRED':
    case 'AUTH_INVALID_CREDENTIALS':
    case 'AUTH_TOKEN_INVALID':
    case 'AUTH_REFRESH_REUSED':
    case 'AUTH_UNAUTHENTICATED':
      return 401
    default:
      return 500
  }
}

/** The single answer to a failed login, whatever the reason (the reason goes to audit events only). */
export function invalidCredentials(): AuthError {
  return new AuthError('AUTH_INVALID_CREDENTIALS', 'The e-mail or password is wrong, or the account is not available.')
}

/** The single answer to a token that does not pass, whatever the reason. */
export function invalidToken(kind: string): AuthError {
  return new AuthError('AUTH_TOKEN_INVALID', `The ${kind} is invalid, expired or already used.`, {
    details: { kind },
  })
}
