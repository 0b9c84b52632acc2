import { afterEach, describe, expect, it } from 'vitest'
import { context, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { InMemorySpanExporter, type SpanExporter } from '@opentelemetry/sdk-trace'
import { ExportResultCode } from '@opentelemetry/core'
import { isConfigError } from '@beaver-kit/config'
import { shutdown } from '@beaver-kit/core'
import { createCache } from '@beaver-kit/cache'
import {
  createTracing,
  initTracing,
  isTracingError,
  resetTracing,
  tracing,
  withPrefix,
  type TracingOptions,
} from '@beaver-kit/tracing'

afterEach(() => resetTracing())

const setting = (
  t: { describe(): { settings: readonly { name: string; value?: string | undefined }[] } },
  name: string,
) => t.describe().settings.find((s) => s.name === name)?.value

describe('configuration', () => {
  it('reads the standard OTEL_* variables, and BEAVER_TRACING_* beats them', async () => {
    await using t = createTracing({
      env: {
        OTEL_SERVICE_NAME: 'shop',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.25',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/',
        OTEL_EXPORTER_OTLP_HEADERS: 'api-key=s3cr3t,x-team=a%20b',
        OTEL_BSP_SCHEDULE_DELAY: '200',
        BEAVER_TRACING_SAMPLER: 'always_on',
      },
    })
    const d = t.describe()
    expect(d.state).toMatchObject({
      exporter: 'otlp http/protobuf http://collector:4318/v1/traces',
      sampler: 'always_on',
      status: 'open',
      activated: true,
    })
    expect(setting(t, 'BEAVER_TRACING_SERVICE_NAME')).toBe('shop')
    expect(JSON.stringify(d)).not.toContain('s3cr3t')
  })

  it('exports nowhere by default and to OTLP as soon as an endpoint is set (OTLP by env alone)', async () => {
    const none = createTracing({ env: {} })
    expect(none.describe().state.exporter).toBe('none')
    await none.close()
    await using otlp = createTracing({ env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/custom' } })
    expect(otlp.describe().state.exporter).toBe('otlp http/protobuf http://c:4318/custom')
  })

  it('names the variable and the accepted values for a bad setting', () => {
    const bad = (env: Record<string, string>, name: RegExp): void => {
      let error: unknown
      try {
        createTracing({ env })
      } catch (e) {
        error = e
      }
      expect(isConfigError(error)).toBe(true)
      expect(String((error as Error).message)).toMatch(name)
    }
    bad({ OTEL_TRACES_SAMPLER: 'sometimes' }, /OTEL_TRACES_SAMPLER.*parentbased_traceidratio/s)
    bad({ OTEL_TRACES_SAMPLER_ARG: '2' }, /OTEL_TRACES_SAMPLER_ARG/)
    bad({ OTEL_TRACES_EXPORTER: 'zipkin' }, /OTEL_TRACES_EXPORTER.*otlp, console, none/s)
    bad({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, /OTEL_EXPORTER_OTLP_PROTOCOL.*http\/protobuf/s)
    bad({ OTEL_PROPAGATORS: 'b3' }, /OTEL_PROPAGATORS.*tracecontext, baggage or none/s)
    bad({ OTEL_EXPORTER_OTLP_HEADERS: 'novalue' }, /OTEL_EXPORTER_OTLP_HEADERS.*key=value/s)
  })

  it('does nothing when disabled (OTEL_SDK_DISABLED)', async () => {
    await using t = createTracing({ env: { OTEL_SDK_DISABLED: 'true' } })
    expect(t.provider).toBeUndefined()
    expect(t.describe().state.status).toBe('disabled')
    expect(trace.getActiveSpan()).toBeUndefined()
    await t.ready()
  })
})

describe('the instance surface', () => {
  it('builds the default lazily, refuses init once it exists, and refuses a second active tracing', async () => {
    const first = tracing()
    expect(tracing()).toBe(first)
    expect(() => initTracing()).toThrow(expect.objectContaining({ code: 'CORE_ALREADY_INITIALIZED' }))
    expect(() => createTracing({ envPrefix: false })).toThrow(
      expect.objectContaining({ code: 'TRACING_ALREADY_ACTIVE' }),
    )
    await first.ready()
    await resetTracing()
    await using again = createTracing({ envPrefix: false })
    expect(again.stats().activated).toBe(true)
  })

  it('reads another env prefix with withPrefix; closes idempotently; ready() fails once closed', async () => {
    const other = withPrefix('OTHER_', { global: false })
    expect(other.describe().envPrefix).toBe('OTHER_')
    await other.close()
    await other.close()
    await expect(other.ready()).rejects.toSatisfy((e) => isTracingError(e, 'TRACING_CLOSED'))
    expect(other.describe().state.status).toBe('closed')
  })

  it('flushes the default on shutdown(): spans of kit work reach the exporter', async () => {
    // InMemorySpanExporter forgets its spans on shutdown, so this one keeps the names.
    const names: string[] = []
    const exporter: SpanExporter = {
      export(spans, done) {
        names.push(...spans.map((s) => s.name))
        done({ code: ExportResultCode.SUCCESS })
      },
      shutdown: async () => undefined,
    }
    initTracing({ envPrefix: false, exporter, batch: { scheduleDelay: 60_000 } })
    await using cache = createCache({ driver: 'memory', envPrefix: false })
    await cache.set('k', 1)
    expect(names).toEqual([])
    await shutdown()
    expect(names).toEqual(['cache.set'])
  })

  it('works beside a context manager of the application: kit spans take its active span as parent', async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
    try {
      const memory = new InMemorySpanExporter()
      const options: TracingOptions = { envPrefix: false, exporter: memory }
      await using t = createTracing(options)
      expect(t.stats().activated).toBe(false)
      await using cache = createCache({ driver: 'memory', envPrefix: false })
      const parent = await t.tracer.startActiveSpan('app', async (span) => {
        await cache.get('k')
        span.end()
        return span.spanContext().spanId
      })
      await t.flush()
      const get = memory.getFinishedSpans().find((s) => s.name === 'cache.get')
      expect(get?.parentSpanContext?.spanId).toBe(parent)
    } finally {
      context.disable()
    }
  })
})
