import type * as prom from 'prom-client'
import { CardinalityGuard, type LabelValue, type Labels } from './guard.ts'

export type { LabelValue, Labels }

/** What every metric is declared with. Names and label names follow Prometheus rules (snake_case). */
export interface MetricDefinition<L extends string = never> {
  /** `http_requests_total`; the instance's `prefix` is put before it. */
  name: string
  help: string
  labelNames?: readonly L[]
  /** How the primary combines the workers' values under `cluster` (default sum; kit gauges use max). */
  aggregator?: 'sum' | 'first' | 'min' | 'max' | 'average' | 'omit'
}

export interface HistogramDefinition<L extends string = never> extends MetricDefinition<L> {
  /** Upper bounds in the metric's unit; default prom-client's (5 ms to 10 s, in seconds). */
  buckets?: readonly number[]
}

export interface SummaryDefinition<L extends string = never> extends MetricDefinition<L> {
  percentiles?: readonly number[]
  /** Sliding window of the quantiles, in seconds; default: since start. */
  maxAgeSeconds?: number
  ageBuckets?: number
}

/** A monotonic count. */
export interface Counter<L extends string = never> {
  readonly name: string
  inc(value?: number): void
  inc(labels: Labels<L>, value?: number): void
  /** A child bound to these labels: the fastest way to count on a hot path. */
  labels(labels: Labels<L>): { inc(value?: number): void }
  reset(): void
}

/** A value that goes up and down. */
export interface Gauge<L extends string = never> {
  readonly name: string
  set(value: number): void
  set(labels: Labels<L>, value: number): void
  inc(value?: number): void
  inc(labels: Labels<L>, value?: number): void
  dec(value?: number): void
  dec(labels: Labels<L>, value?: number): void
  labels(labels: Labels<L>): { set(value: number): void; inc(value?: number): void; dec(value?: number): void }
  reset(): void
}

/** A distribution in buckets (durations, sizes); `startTimer()` observes seconds. */
export interface Histogram<L extends string = never> {
  readonly name: string
  observe(value: number): void
  observe(labels: Labels<L>, value: number): void
  /** Starts a timer; calling the result observes the seconds since, with these and the later labels. */
  startTimer(labels?: Labels<L>): (labels?: Labels<L>) => number
  labels(labels: Labels<L>): { observe(value: number): void }
  reset(): void
}

/** Quantiles computed in the process (not aggregatable across instances: prefer a histogram). */
export interface Summary<L extends string = never> {
  readonly name: string
  observe(value: number): void
  observe(labels: Labels<L>, value: number): void
  startTimer(labels?: Labels<L>): (labels?: Labels<L>) => number
  labels(labels: Labels<L>): { observe(value: number): void }
  reset(): void
}

/** What the instruments need from their instance. */
export interface InstrumentContext {
  readonly maxLabelValues: number
  /** Counts a collapsed label value (and announces the first one of a label). */
  overflow(metric: string, label: string, first: boolean): void
  /** Exemplar labels (trace and span id) for the current context, when exemplars are on. */
  exemplar: (() => Record<string, string> | undefined) | undefined
}

type Args<L extends string> = [labelsOrValue?: Labels<L> | number, value?: number]

function split<L extends string>(
  args: Args<L>,
  fallback: number | undefined,
): [Labels<L> | undefined, number | undefined] {
  const [first, second] = args
  if (typeof first === 'number') return [undefined, first]
  return [first, second ?? fallback]
}

function guardFor(name: string, labelNames: readonly string[], ctx: InstrumentContext): CardinalityGuard {
  return new CardinalityGuard(labelNames, ctx.maxLabelValues, (label, first) => ctx.overflow(name, label, first))
}

/** Wraps a prom-client counter behind the guard. */
export function wrapCounter<L extends string>(
  name: string,
  metric: prom.Counter<L>,
  labelNames: readonly L[],
  ctx: InstrumentContext,
): Counter<L> {
  const guard = guardFor(name, labelNames, ctx)
  return {
    name,
    inc(...args: Args<L>) {
      const [labels, value] = split(args, 1)
      if (labels === undefined) metric.inc(value)
      else metric.inc(guard.apply(labels) as prom.LabelValues<L>, value)
    },
    labels(labels) {
      return metric.labels(guard.apply(labels) as prom.LabelValues<L>)
    },
    reset() {
      metric.reset()
      guard.clear()
    },
  } as Counter<L>
}

/** Wraps a prom-client gauge behind the guard. */
export function wrapGauge<L extends string>(
  name: string,
  metric: prom.Gauge<L>,
  labelNames: readonly L[],
  ctx: InstrumentContext,
): Gauge<L> {
  const guard = guardFor(name, labelNames, ctx)
  const call =
    (op: 'inc' | 'dec' | 'set', fallback: number | undefined) =>
    (...args: Args<L>): void => {
      const [labels, value] = split(args, fallback)
      if (labels === undefined) metric[op](value as number)
      else metric[op](guard.apply(labels) as prom.LabelValues<L>, value as number)
    }
  return {
    name,
    set: call('set', undefined),
    inc: call('inc', 1),
    dec: call('dec', 1),
    labels(labels: Labels<L>) {
      return metric.labels(guard.apply(labels) as prom.LabelValues<L>)
    },
    reset() {
      metric.reset()
      guard.clear()
    },
  } as Gauge<L>
}

/** Wraps a prom-client histogram or summary behind the guard; histograms carry exemplars when on. */
export function wrapDistribution<L extends string>(
  name: string,
  metric: prom.Histogram<L> | prom.Summary<L>,
  labelNames: readonly L[],
  ctx: InstrumentContext,
  exemplars: boolean,
): Histogram<L> {
  const guard = guardFor(name, labelNames, ctx)
  const exemplar = exemplars ? ctx.exemplar : undefined
  const record = (labels: Labels<L> | undefined, value: number): void => {
    const guarded = (labels === undefined ? {} : guard.apply(labels)) as prom.LabelValues<L>
    if (exemplar) {
      ;(metric as prom.Histogram<L>).observe({
        labels: guarded,
        value,
        exemplarLabels: (exemplar() ?? {}) as prom.LabelValues<L>,
      })
    } else metric.observe(guarded, value)
  }
  return {
    name,
    observe(...args: Args<L>) {
      const [labels, value] = split(args, undefined)
      record(labels, value as number)
    },
    startTimer(start?: Labels<L>) {
      const began = process.hrtime.bigint()
      return (end?: Labels<L>) => {
        const seconds = Number(process.hrtime.bigint() - began) / 1e9
        record(start && end ? { ...start, ...end } : (end ?? start), seconds)
        return seconds
      }
    },
    labels(labels: Labels<L>) {
      if (exemplar) return { observe: (value: number) => record(labels, value) }
      return metric.labels(guard.apply(labels) as prom.LabelValues<L>)
    },
    reset() {
      metric.reset()
      guard.clear()
    },
  } as Histogram<L>
}
