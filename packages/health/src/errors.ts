import { BeaverError, errorGuard } from '@beaver-kit/core'

/** Every code a HealthError can carry; stable, so callers may switch on them. */
export type HealthErrorCode =
  'HEALTH_CHECK_TIMEOUT' | 'HEALTH_CHECK_DUPLICATE' | 'HEALTH_CHECK_FAILED' | 'HEALTH_CLOSED'

/** The one error class of @beaver-kit/health. */
export class HealthError extends BeaverError<HealthErrorCode> {}

/** True for a HealthError (by brand, so it works across duplicate installs), optionally of the given codes. */
export const isHealthError = errorGuard<HealthErrorCode, HealthError>('HEALTH_')
