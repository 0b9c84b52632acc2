import { BeaverError, errorGuard } from '@beaver-kit/core'

/** Every code a MetricsError can carry; stable, so callers may switch on them. */
export type MetricsErrorCode =
  'METRICS_METRIC_INVALID' | 'METRICS_METRIC_CONFLICT' | 'METRICS_CLUSTER_TIMEOUT' | 'METRICS_CLOSED'

/** The one error class of @beaver-kit/metrics. */
export class MetricsError extends BeaverError<MetricsErrorCode> {}

/** True for a MetricsError (by brand, so it works across duplicate installs), optionally of the given codes. */
export const isMetricsError = errorGuard<MetricsErrorCode, MetricsError>('METRICS_')
