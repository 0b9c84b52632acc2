import { defineSchema, f, type SchemaOptions } from '@beaver-kit/config'

/** The samplers of the OpenTelemetry specification (`OTEL_TRACES_SAMPLER`). */
export const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const

/**
 * Every BEAVER_TRACING_* setting. The standard `OTEL_*` variables are read as aliases (with the
 * default prefix), so a deployment configured for any OpenTelemetry SDK works unchanged;
 * `BEAVER_TRACING_*` wins when both are set.
 */
export const tracingSchema = defineSchema(
  'TRACING',
  {
    disabled: f.boolean({
      default: false,
      aliases: ['OTEL_SDK_DISABLED'],
      doc: 'Turn tracing off: no provider is registered and no channel is subscribed',
    }),
    serviceName: f.string({
      aliases: ['OTEL_SERVICE_NAME'],
      doc: 'service.name of every span (default unknown_service:node, as OpenTelemetry has it)',
    }),
    resourceAttributes: f.list({
      aliases: ['OTEL_RESOURCE_ATTRIBUTES'],
      doc: 'More resource attributes, key=value pairs (deployment.environment.name=prod,service.version=1.2.0)',
    }),
    exporter: f.enum({
      values: ['otlp', 'console', 'none'],
      aliases: ['OTEL_TRACES_EXPORTER'],
      doc: 'Where spans go; unset: otlp when an OTLP endpoint is set, none otherwise',
    }),
    sampler: f.enum({
      values: SAMPLERS,
      default: 'parentbased_always_on',
      aliases: ['OTEL_TRACES_SAMPLER'],
      doc: 'Which traces are recorded (the OpenTelemetry sampler names)',
    }),
    samplerArg: f.number({
      min: 0,
      max: 1,
      aliases: ['OTEL_TRACES_SAMPLER_ARG'],
      doc: 'The ratio of the traceidratio samplers (0 to 1; default 1)',
    }),
    propagators: f.list({
      default: ['tracecontext', 'baggage'],
      aliases: ['OTEL_PROPAGATORS'],
      doc: 'Context propagation formats: tracecontext, baggage or none',
    }),
    otlp: {
      endpoint: f.url({
        protocols: ['http', 'https'],
        aliases: ['OTEL_EXPORTER_OTLP_ENDPOINT'],
        doc: 'OTLP/HTTP base URL; traces go to <endpoint>/v1/traces (default http://localhost:4318)',
      }),
      tracesEndpoint: f.url({
        protocols: ['http', 'https'],
        aliases: ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'],
        doc: 'Full URL for traces, used as is (beats endpoint)',
      }),
      protocol: f.enum({
        values: ['http/protobuf', 'http/json'],
        default: 'http/protobuf',
        aliases: ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL'],
        doc: 'OTLP encoding (grpc is not offered: use a collector, or the grpc exporter as a custom exporter)',
      }),
      headers: f.list({
        secret: true,
        aliases: ['OTEL_EXPORTER_OTLP_TRACES_HEADERS', 'OTEL_EXPORTER_OTLP_HEADERS'],
        doc: 'Headers sent with every export, key=value pairs (api-key=...), values URL-decoded',
      }),
      timeout: f.duration({
        default: '10s',
        aliases: ['OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', 'OTEL_EXPORTER_OTLP_TIMEOUT'],
        doc: 'Time limit of one export request (a bare number is ms, as in OTEL_*)',
      }),
      compression: f.enum({
        values: ['gzip', 'none'],
        default: 'none',
        aliases: ['OTEL_EXPORTER_OTLP_TRACES_COMPRESSION', 'OTEL_EXPORTER_OTLP_COMPRESSION'],
        doc: 'Compression of export requests',
      }),
    },
    batch: {
      scheduleDelay: f.duration({
        default: '5s',
        aliases: ['OTEL_BSP_SCHEDULE_DELAY'],
        doc: 'Longest wait before a batch is exported (a bare number is ms)',
      }),
      exportTimeout: f.duration({
        default: '30s',
        aliases: ['OTEL_BSP_EXPORT_TIMEOUT'],
        doc: 'Time limit of one batch export, retries included (a bare number is ms)',
      }),
      maxQueueSize: f.int({
        default: 2048,
        min: 1,
        max: 1_000_000,
        aliases: ['OTEL_BSP_MAX_QUEUE_SIZE'],
        doc: 'Spans kept waiting for export; past it new spans are dropped (OpenTelemetry’s diag log says how many)',
      }),
      maxExportBatchSize: f.int({
        default: 512,
        min: 1,
        max: 100_000,
        aliases: ['OTEL_BSP_MAX_EXPORT_BATCH_SIZE'],
        doc: 'Most spans in one export request',
      }),
    },
    exclude: f.list({
      default: [],
      doc: 'Kit channels to leave untraced: a package (cache) or package:operation (cache:get)',
    }),
    requireParent: f.list({
      default: [],
      doc: 'Packages traced only inside an existing trace (database: no root spans for a queue’s polling queries)',
    }),
    dbStatement: f.boolean({
      default: true,
      doc: 'Put the SQL text (never parameters: values are bound) in db.query.text',
    }),
    dbStatementMaxLength: f.int({
      default: 2048,
      min: 16,
      max: 1_000_000,
      doc: 'Longest db.query.text kept; longer statements are cut and end with …',
    }),
    queueConsumer: f.enum({
      values: ['link', 'child'],
      default: 'link',
      doc: 'A consumer span links to the producer span in a trace of its own (link), or continues its trace as a child (child)',
    }),
  },
  'tracing',
)

export type TracingSettings = SchemaOptions<typeof tracingSchema>
