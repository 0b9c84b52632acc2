import { context, propagation, trace, type TextMapPropagator, type Tracer } from '@opentelemetry/api'
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core'
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources'
import {
  BatchSpanProcessor,
  SimpleSpanProcessor,
  TracerProvider,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace'
import {
  ConfigError,
  describeInstance,
  resolveConfig,
  type InstanceDescription,
  type InstanceOptions,
} from '@beaver-kit/config'
import { traceAsync, type Instance } from '@beaver-kit/core'
import { channels } from './channels.ts'
import { tracingSchema, type TracingSettings } from './config.ts'
import { KitContextManager } from './context-manager.ts'
import { TracingError } from './errors.ts'
import { buildExporter, CountingExporter, otlpTracesUrl, parsePairs, type ExportStats } from './exporters.ts'
import { traceKitChannels } from './kit-spans.ts'
import { RecordingGate } from './recording-gate.ts'
import { buildSampler, certainDrop, recordedOnlyInTrace, samplerText } from './sampler.ts'

// How long the gated channels stay subscribed after the last recording span ended, so that
// back-to-back traces do not subscribe and unsubscribe for each one.
const GATE_LINGER_MS = 1000

export interface TracingOptions extends Omit<TracingSettings, 'exporter'>, InstanceOptions {
  /** `otlp`, `console`, `none`, or an exporter of your own (any OpenTelemetry `SpanExporter`). */
  exporter?: TracingSettings['exporter'] | SpanExporter
  /** More span processors, after the exporter's. */
  spanProcessors?: SpanProcessor[]
  /**
   * Register the provider, context manager and propagator as OpenTelemetry's globals (default
   * true). Kit spans are made either way; the globals make them visible to `trace.getActiveSpan()`,
   * the logger's trace ids and third-party instrumentation.
   */
  global?: boolean
}

/** What `stats()` returns. */
export interface TracingStats extends ExportStats {
  /** Whether kit spans are the active context inside kit operations (the kit's context manager is registered). */
  readonly activated: boolean
}

/** A tracing: the OpenTelemetry SDK set up from `OTEL_*`/`BEAVER_TRACING_*`, fed by every kit channel. */
export interface Tracing extends Instance<InstanceDescription> {
  /** A tracer for spans of your own (`tracer.startActiveSpan('checkout', (span) => ...)`). */
  readonly tracer: Tracer
  /** The SDK provider (undefined when disabled). */
  readonly provider: TracerProvider | undefined
  /** Exports every finished span now. */
  flush(): Promise<void>
  stats(): TracingStats
}

const ACTIVE = Symbol.for('beaver-kit.tracing.active')
const registry = globalThis as typeof globalThis & { [ACTIVE]?: object }

function propagatorOf(names: readonly string[]): TextMapPropagator | undefined {
  const list: TextMapPropagator[] = []
  for (const name of names) {
    if (name === 'tracecontext') list.push(new W3CTraceContextPropagator())
    else if (name === 'baggage') list.push(new W3CBaggagePropagator())
    else if (name !== 'none') {
      throw new ConfigError('tracing', [
        {
          name: 'BEAVER_TRACING_PROPAGATORS (OTEL_PROPAGATORS)',
          found: name,
          expected: 'tracecontext, baggage or none',
        },
      ])
    }
  }
  return list.length === 0 ? undefined : new CompositePropagator({ propagators: list })
}

function pairs(items: readonly string[], name: string): Record<string, string> {
  try {
    return parsePairs(items, name)
  } catch (error) {
    throw new ConfigError('tracing', [{ name, found: undefined, expected: (error as Error).message }])
  }
}

/**
 * Sets up OpenTelemetry tracing from options, then `BEAVER_TRACING_*` and the standard
 * `OTEL_*` variables, then defaults, and traces every kit operation from its diagnostics
 * channel: no monkey-patching, no `--import` hook, so it works the same under ESM. Does no I/O
 * (the OTLP exporter loads in the background; `ready()` waits for it).
 * @example
 * await using tracing = createTracing({ serviceName: 'shop', exporter: 'console' })
 */
export function createTracing(options: TracingOptions = {}): Tracing {
  const { envPrefix, env, exporter: exporterOption, spanProcessors = [], global = true, ...settings } = options
  const custom = typeof exporterOption === 'object' ? exporterOption : undefined
  const resolved = resolveConfig(tracingSchema, {
    options: { ...settings, ...(custom || exporterOption === undefined ? {} : { exporter: exporterOption }) },
    envPrefix,
    ...(env ? { env } : {}),
  })
  const c = resolved.values
  const otlpSet = c.otlp.endpoint !== undefined || c.otlp.tracesEndpoint !== undefined
  const exporterName = custom ? 'custom' : (c.exporter ?? (otlpSet ? 'otlp' : 'none'))
  const otlpUrl = otlpTracesUrl(c.otlp.endpoint, c.otlp.tracesEndpoint)
  const headers = pairs(c.otlp.headers ?? [], 'BEAVER_TRACING_OTLP_HEADERS (OTEL_EXPORTER_OTLP_HEADERS)')
  const resourcePairs = pairs(
    c.resourceAttributes ?? [],
    'BEAVER_TRACING_RESOURCE_ATTRIBUTES (OTEL_RESOURCE_ATTRIBUTES)',
  )
  const propagator = propagatorOf(c.propagators)
  if (!c.disabled && global && registry[ACTIVE] !== undefined) {
    throw new TracingError(
      'TRACING_ALREADY_ACTIVE',
      'Another tracing is active in this process (kit channels would be traced twice). Close it first, or use tracing() everywhere.',
    )
  }

  const counting = custom
    ? new CountingExporter('custom', async () => custom)
    : buildExporter(exporterName as 'otlp' | 'console' | 'none', {
        url: otlpUrl,
        protocol: c.otlp.protocol,
        headers,
        timeoutMs: c.otlp.timeout,
        compression: c.otlp.compression,
      })
  const description = {
    exporter: exporterName === 'otlp' ? `otlp ${c.otlp.protocol} ${otlpUrl}` : exporterName,
    sampler: samplerText(c.sampler, c.samplerArg),
  }
  let closed = false
  let activated = false
  let provider: TracerProvider | undefined
  let untrace: (() => void) | undefined
  let registered = false
  const token = {}

  // Kit operations that can only be recorded inside a trace listen only while a span records.
  const gate = new RecordingGate(GATE_LINGER_MS)
  if (!c.disabled) {
    const processors: SpanProcessor[] = []
    if (counting !== undefined) {
      processors.push(
        exporterName === 'console'
          ? new SimpleSpanProcessor({ exporter: counting })
          : new BatchSpanProcessor({
              exporter: counting,
              scheduledDelayMillis: c.batch.scheduleDelay,
              exportTimeoutMillis: c.batch.exportTimeout,
              maxQueueSize: c.batch.maxQueueSize,
              maxExportBatchSize: Math.min(c.batch.maxExportBatchSize, c.batch.maxQueueSize),
            }),
      )
    }
    provider = new TracerProvider({
      resource: defaultResource().merge(
        resourceFromAttributes({ ...(c.serviceName ? { 'service.name': c.serviceName } : {}), ...resourcePairs }),
      ),
      sampler: buildSampler(c.sampler, c.samplerArg),
      spanProcessors: [...processors, ...spanProcessors, gate],
    })
    let storage: KitContextManager['storage'] | undefined
    if (global) {
      registry[ACTIVE] = token
      registered = true
      const manager = new KitContextManager()
      // false when an OpenTelemetry setup of the application's own registered first.
      activated = context.setGlobalContextManager(manager)
      if (activated) storage = manager.storage
      trace.setGlobalTracerProvider(provider)
      if (propagator) propagation.setGlobalPropagator(propagator)
    }
    untrace = traceKitChannels({
      tracer: provider.getTracer('@beaver-kit/tracing'),
      storage,
      exclude: c.exclude,
      queueConsumer: c.queueConsumer,
      requireParent: c.requireParent,
      drops: certainDrop(c.sampler, c.samplerArg),
      gate,
      gated: recordedOnlyInTrace(c.sampler, c.samplerArg, c.requireParent),
      dbStatement: c.dbStatement,
      dbStatementMaxLength: c.dbStatementMaxLength,
    })
  }
  const tracer = provider ? provider.getTracer('app') : trace.getTracer('app')

  async function flush(): Promise<void> {
    try {
      await provider?.forceFlush()
    } catch (error) {
      throw new TracingError(
        'TRACING_EXPORT_FAILED',
        `Spans could not be exported (${description.exporter}): ${error instanceof Error ? error.message : String(error)}. Check the collector; the spans are counted in stats().failed.`,
        { cause: error },
      )
    }
  }

  const instance: Tracing = {
    tracer,
    provider,
    flush,
    stats: () => ({ ...(counting?.stats ?? { exported: 0, failed: 0, failures: 0 }), activated }),
    ready: (readyOptions = {}) =>
      traceAsync(
        channels.ready,
        () => ({ exporter: exporterName }),
        async () => {
          readyOptions.signal?.throwIfAborted()
          if (closed) throw new TracingError('TRACING_CLOSED', 'This tracing is closed; create a new one.')
          await counting?.loaded()
        },
      ),
    describe: () =>
      describeInstance('tracing', envPrefix, resolved.entries, {
        ...description,
        status: closed ? 'closed' : c.disabled ? 'disabled' : 'open',
        activated,
        ...(counting ? counting.stats : {}),
      }),
    close: async () => {
      if (closed) return
      closed = true
      untrace?.()
      try {
        // An export that fails here was counted and published on beaver:tracing:exportFailed;
        // a collector that is down must not make the whole shutdown fail.
        await provider?.shutdown().catch(() => undefined)
      } finally {
        if (registered) {
          trace.disable()
          if (activated) context.disable()
          if (propagator) propagation.disable()
          if (registry[ACTIVE] === token) registry[ACTIVE] = undefined
        }
      }
    },
    [Symbol.asyncDispose]: () => instance.close(),
  }
  return instance
}
