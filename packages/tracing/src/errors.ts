import { BeaverError, errorGuard } from '@beaver-kit/core'

/** Every code a TracingError can carry; stable, so callers may switch on them. */
export type TracingErrorCode = 'TRACING_ALREADY_ACTIVE' | 'TRACING_EXPORT_FAILED' | 'TRACING_CLOSED'

/** The one error class of @beaver-kit/tracing. */
export class TracingError extends BeaverError<TracingErrorCode> {}

/** True for a TracingError (by brand, so it works across duplicate installs), optionally of the given codes. */
export const isTracingError = errorGuard<TracingErrorCode, TracingError>('TRACING_')
