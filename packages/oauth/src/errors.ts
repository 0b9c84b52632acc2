import { BeaverError, errorGuard } from '@beaver-kit/core'

/** Every code an OAuthError can carry; stable, so callers may switch on them. */
export type OAuthErrorCode =
  | 'OAUTH_CLOSED'
  | 'OAUTH_PROVIDER_UNKNOWN'
  | 'OAUTH_PROVIDER_INVALID'
  | 'OAUTH_STATE_MISSING'
  | 'OAUTH_STATE_INVALID'
  | 'OAUTH_STATE_EXPIRED'
  | 'OAUTH_STATE_MISMATCH'
  | 'OAUTH_STATE_REPLAYED'
  | 'OAUTH_RETURN_URL_INVALID'
  | 'OAUTH_ACCESS_DENIED'
  | 'OAUTH_PROVIDER_ERROR'
  | 'OAUTH_DISCOVERY_FAILED'
  | 'OAUTH_TOKEN_REQUEST_FAILED'
  | 'OAUTH_ID_TOKEN_INVALID'
  | 'OAUTH_USERINFO_FAILED'
  | 'OAUTH_REFRESH_UNAVAILABLE'
  | 'OAUTH_REVOKE_UNSUPPORTED'
  | 'OAUTH_TOKEN_NOT_FOUND'
  | 'OAUTH_TOKEN_UNREADABLE'
  | 'OAUTH_LINK_CONFIRMATION_REQUIRED'

/** The one error class of @beaver-kit/oauth. */
export class OAuthError extends BeaverError<OAuthErrorCode> {}

/** True for an OAuthError (by brand, so it works across duplicate installs), optionally of the given codes. */
export const isOAuthError = errorGuard<OAuthErrorCode, OAuthError>('OAUTH_')
