import { resolveConfig, describeInstance, type InstanceDescription, type InstanceOptions } from '@beaver-kit/config'
import { traceAsync, type Instance } from '@beaver-kit/core'
import client from 'prom-client'
import { channels } from './channels.ts'
import { joinCluster, renderCluster } from './cluster.ts'
import { metricsSchema, type MetricsSettings } from './config.ts'
import { MetricsError } from './errors.ts'
import { activeTraceExemplar } from './exemplars.ts'
import { createHttpServerMetrics, type HttpServerMetrics } from './http-server.ts'
import {
  wrapCounter,
  wrapDistribution,
  wrapGauge,
  type Counter,
  type Gauge,
  type Histogram,
  type HistogramDefinition,
  type InstrumentContext,
  type MetricDefinition,
  type Summary,
  type SummaryDefinition,
} from './instruments.ts'
import { subscribeKitMetrics, type KitInstruments } from './kit.ts'
import { KitCounter, KitHistogram } from './kit-series.ts'
import { TimingBudget } from './kit-sampling.ts'
import { SourcedCounter, type SourcedSeries } from './kit-sources.ts'
import { CardinalityGuard } from './guard.ts'
import { createMetricsHandler, type MetricsHandler } from './handler.ts'

export interface MetricsOptions extends MetricsSettings, InstanceOptions {}

/** A metrics registry: create with `createMetrics()`, or use the default `metrics()`. */
export interface Metrics extends Instance<InstanceDescription>, HttpServerMetrics {
  /** The prom-client registry underneath, for collectors written against prom-client. */
  readonly registry: client.Registry<client.RegistryContentType>
  /** The Content-Type of `render()`'s output. */
  readonly contentType: string
  /** A counter; declaring the same name again with the same labels returns the same counter. */
  counter<L extends string = never>(definition: MetricDefinition<L>): Counter<L>
  gauge<L extends string = never>(definition: MetricDefinition<L>): Gauge<L>
  histogram<L extends string = never>(definition: HistogramDefinition<L>): Histogram<L>
  summary<L extends string = never>(definition: SummaryDefinition<L>): Summary<L>
  /** The exposition text (under `cluster`, in the primary: the sum over every worker). */
  render(): Promise<string>
  /** A node:http (and Express/Connect) handler serving `render()` on `path`; other paths go to `next` or get 404. */
  handler(): MetricsHandler
}

type Kind = 'counter' | 'gauge' | 'histogram' | 'summary'
interface Declared {
  kind: Kind
  labels: string
  instrument: unknown
}

/**
 * Builds a metrics registry from options, then `BEAVER_METRICS_*`, then defaults. Does no I/O;
 * invalid configuration throws one ConfigError naming every bad variable. Runtime metrics and
 * the kit's own metrics (from its diagnostics channels) are on unless turned off.
 * @example
 * const m = createMetrics({ prefix: 'shop_' })
 * const orders = m.counter({ name: 'orders_total', help: 'Orders placed', labelNames: ['channel'] })
 * orders.inc({ channel: 'web' })
 */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const { envPrefix, env, ...settings } = options
  const resolved = resolveConfig(metricsSchema, { options: settings, envPrefix, ...(env ? { env } : {}) })
  const config = resolved.values
  const openMetrics = config.format === 'openmetrics'
  const registry = new client.Registry<client.RegistryContentType>()
  if (openMetrics) registry.setContentType(client.Registry.OPENMETRICS_CONTENT_TYPE)
  const labels = config.labels ?? {}
  if (Object.keys(labels).length > 0) registry.setDefaultLabels({ ...labels })
  const declared = new Map<string, Declared>()
  let closed = false
  let overflowCounter: client.Counter<'metric' | 'label'> | undefined

  const context: InstrumentContext = {
    maxLabelValues: config.maxLabelValues,
    overflow(metric, label, first) {
      overflowCounter ??= new client.Counter({
        name: 'beaver_metrics_label_overflow_total',
        help: 'Label values recorded as "other" because the label had reached BEAVER_METRICS_MAX_LABEL_VALUES',
        labelNames: ['metric', 'label'],
        registers: [registry],
      })
      overflowCounter.inc({ metric, label })
      if (first && channels.labelOverflow.hasSubscribers)
        channels.labelOverflow.publish({ metric, label, max: config.maxLabelValues })
    },
    exemplar: openMetrics ? activeTraceExemplar : undefined,
  }

  function declare<T>(kind: Kind, name: string, labelNames: readonly string[], build: () => T): T {
    if (closed)
      throw new MetricsError('METRICS_CLOSED', `Cannot declare metric "${name}": this metrics registry is closed.`)
    const labels = [...labelNames].sort().join(',')
    const existing = declared.get(name)
    if (existing) {
      if (existing.kind === kind && existing.labels === labels) return existing.instrument as T
      throw new MetricsError(
        'METRICS_METRIC_CONFLICT',
        `Metric "${name}" is already declared as a ${existing.kind} with labels [${existing.labels}]; now asked as a ${kind} with labels [${labels}]. Use another name.`,
        { details: { name } },
      )
    }
    let instrument: T
    try {
      instrument = build()
    } catch (cause) {
      throw new MetricsError(
        'METRICS_METRIC_INVALID',
        `Metric "${name}" cannot be declared: ${(cause as Error).message}`,
        {
          cause,
          details: { name },
        },
      )
    }
    declared.set(name, { kind, labels, instrument })
    return instrument
  }

  function counter<L extends string>(def: MetricDefinition<L>, prefix: string): Counter<L> {
    const name = prefix + def.name
    const labelNames = def.labelNames ?? []
    return declare('counter', name, labelNames, () =>
      wrapCounter(
        name,
        new client.Counter<L>({ name, help: def.help, labelNames, registers: [registry], ...aggregate(def) }),
        labelNames,
        context,
      ),
    )
  }
  function gauge<L extends string>(def: MetricDefinition<L>, prefix: string): Gauge<L> {
    const name = prefix + def.name
    const labelNames = def.labelNames ?? []
    return declare('gauge', name, labelNames, () =>
      wrapGauge(
        name,
        new client.Gauge<L>({ name, help: def.help, labelNames, registers: [registry], ...aggregate(def) }),
        labelNames,
        context,
      ),
    )
  }
  function histogram<L extends string>(def: HistogramDefinition<L>, prefix: string): Histogram<L> {
    const name = prefix + def.name
    const labelNames = def.labelNames ?? []
    return declare('histogram', name, labelNames, () =>
      wrapDistribution(
        name,
        new client.Histogram<L>({
          name,
          help: def.help,
          labelNames,
          registers: [registry],
          enableExemplars: openMetrics,
          ...(def.buckets ? { buckets: [...def.buckets] } : {}),
          ...aggregate(def),
        }),
        labelNames,
        context,
        openMetrics,
      ),
    )
  }

  function summary<L extends string>(def: SummaryDefinition<L>): Summary<L> {
    const name = config.prefix + def.name
    const labelNames = def.labelNames ?? []
    return declare('summary', name, labelNames, () =>
      wrapDistribution(
        name,
        new client.Summary<L>({
          name,
          help: def.help,
          labelNames,
          registers: [registry],
          ...(def.percentiles ? { percentiles: [...def.percentiles] } : {}),
          ...(def.maxAgeSeconds ? { maxAgeSeconds: def.maxAgeSeconds, ageBuckets: def.ageBuckets ?? 5 } : {}),
          ...aggregate(def),
        }),
        labelNames,
        context,
        false,
      ),
    )
  }

  // The kit's counters and histograms record on every kit operation: plain cells (kit-series.ts)
  // rather than prom-client's per-call label hashing, except with OpenMetrics, whose exemplars
  // are prom-client's.
  function kitCounter<L extends string>(def: MetricDefinition<L>): Counter<L> {
    if (openMetrics) return counter(def, '')
    const labelNames = def.labelNames ?? []
    return declare('counter', def.name, labelNames, () => {
      const metric = new KitCounter(def.name, def.help, labelNames, def.aggregator)
      registry.registerMetric(metric as unknown as client.Metric)
      return wrapCounter(def.name, metric as unknown as client.Counter<L>, labelNames, context)
    })
  }
  function kitHistogram<L extends string>(def: HistogramDefinition<L>): Histogram<L> {
    if (openMetrics) return histogram(def, '')
    const labelNames = def.labelNames ?? []
    return declare('histogram', def.name, labelNames, () => {
      const metric = new KitHistogram(def.name, def.help, labelNames, def.buckets, def.aggregator)
      registry.registerMetric(metric as unknown as client.Metric)
      return wrapDistribution(def.name, metric as unknown as client.Histogram<L>, labelNames, context, false)
    })
  }
  // A counter read from the instances when scraped; past the guard's cap a label value is
  // recorded as `other` and counted once in the overflow counter (it is met again every scrape).
  function kitSourced<L extends string>(def: MetricDefinition<L>, collect: () => Iterable<SourcedSeries>): void {
    const labelNames = def.labelNames ?? []
    declare('counter', def.name, labelNames, () => {
      const guard = new CardinalityGuard(labelNames, config.maxLabelValues, (label, first) => {
        if (first) context.overflow(def.name, label, true)
      })
      const metric = new SourcedCounter(def.name, def.help, labelNames, collect, guard, def.aggregator)
      registry.registerMetric(metric as unknown as client.Metric)
      return metric
    })
  }
  const timing = new TimingBudget(config.timedPerSecond)
  const kitInstruments: KitInstruments = {
    counter: kitCounter,
    gauge: <L extends string>(def: MetricDefinition<L>) => gauge({ aggregator: 'max', ...def }, ''),
    histogram: kitHistogram,
    sourced: kitSourced,
    timed: (name, finish) => timing.observe(name, finish),
  }

  if (config.runtime) client.collectDefaultMetrics({ register: registry, prefix: config.prefix })
  const unsubscribe = config.kit ? subscribeKitMetrics(kitInstruments) : () => undefined
  const leaveCluster = config.cluster ? joinCluster(registry) : () => undefined
  const server = createHttpServerMetrics(
    (def) => histogram(def, config.prefix),
    (def) => gauge(def, config.prefix),
  )

  function render(): Promise<string> {
    if (closed)
      return Promise.reject(new MetricsError('METRICS_CLOSED', 'This metrics registry is closed; create a new one.'))
    return traceAsync(
      channels.render,
      () => ({ format: config.format, cluster: config.cluster }),
      () => (config.cluster ? renderCluster(registry, config.clusterTimeout) : registry.metrics()),
    )
  }

  const metrics: Metrics = {
    registry,
    contentType: registry.contentType,
    counter: (def) => counter(def, config.prefix),
    gauge: (def) => gauge(def, config.prefix),
    histogram: (def) => histogram(def, config.prefix),
    summary: (def) => summary(def),
    render,
    handler: () => createMetricsHandler({ path: config.path, render, contentType: registry.contentType }),
    httpServer: server.httpServer,
    observeHttpRequest: server.observeHttpRequest,
    ready: async () => {
      if (closed) throw new MetricsError('METRICS_CLOSED', 'This metrics registry is closed; create a new one.')
    },
    describe: () =>
      describeInstance('metrics', envPrefix, resolved.entries, {
        metrics: declared.size,
        closed,
      }),
    close: async () => {
      if (closed) return
      closed = true
      unsubscribe()
      timing.close()
      leaveCluster()
    },
    [Symbol.asyncDispose]: () => metrics.close(),
  }
  return metrics
}

function aggregate(def: MetricDefinition<string>): { aggregator?: client.Aggregator } {
  return def.aggregator ? { aggregator: def.aggregator } : {}
}
