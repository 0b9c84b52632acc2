import { defineDefaultInstance } from '@beaver-kit/core'
import { createMetrics, type Metrics, type MetricsOptions } from './metrics.ts'

const slot = defineDefaultInstance<Metrics, MetricsOptions>('metrics', createMetrics)

/** The default metrics, built on first use from `BEAVER_METRICS_*`; rethrows its configuration error until fixed. */
export const metrics: () => Metrics = slot.get
/** Configures the default metrics before its first use; throws once it exists. */
export const initMetrics: (options?: MetricsOptions) => Metrics = slot.init
/** Closes and forgets the default metrics (tests); the next `metrics()` builds a new one. */
export const resetMetrics: () => Promise<void> = slot.reset
/** A new metrics configured from another env prefix: `withPrefix('USER_')` reads `USER_METRICS_*`. */
export const withPrefix: (prefix: string, options?: Omit<MetricsOptions, 'envPrefix'>) => Metrics = slot.withPrefix
