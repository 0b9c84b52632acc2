export { createMetrics } from './metrics.ts'
export type { Metrics, MetricsOptions } from './metrics.ts'
export { metrics, initMetrics, resetMetrics, withPrefix } from './default.ts'
export { MetricsError, isMetricsError } from './errors.ts'
export type { MetricsErrorCode } from './errors.ts'
export { channels } from './channels.ts'
export { OTHER } from './guard.ts'
export type {
  Counter,
  Gauge,
  Histogram,
  HistogramDefinition,
  LabelValue,
  Labels,
  MetricDefinition,
  Summary,
  SummaryDefinition,
} from './instruments.ts'
export type { MetricsHandler } from './handler.ts'
export type { HttpRequestRecord, HttpServerMetrics, HttpServerMiddleware, HttpServerOptions } from './http-server.ts'
