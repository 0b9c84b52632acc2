import { BeaverError, errorGuard } from '@beaver-kit/core'

/** Every code a RateLimitError can carry; stable, so callers may switch on them. */
export type RateLimitErrorCode =
  | 'RATELIMIT_CLOSED'
  | 'RATELIMIT_COST_INVALID'
  | 'RATELIMIT_KEY_INVALID'
  | 'RATELIMIT_OPTIONS_INVALID'
  | 'RATELIMIT_STORE_UNAVAILABLE'

/** The one error class of @beaver-kit/ratelimit. Store failures are never thrown by limit(): see the failure policy. */
export class RateLimitError extends BeaverError<RateLimitErrorCode> {}

/** True for a RateLimitError (by brand, so it works across duplicate installs), optionally of the given codes. */
export const isRateLimitError = errorGuard<RateLimitErrorCode, RateLimitError>('RATELIMIT_')
