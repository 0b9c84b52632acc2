import { defineSchema, f, type SchemaOptions } from '@beaver-kit/config'

const PREFIX = /^([a-zA-Z_:][a-zA-Z0-9_:]*)?$/

function labelsJson(value: unknown): Readonly<Record<string, string>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new TypeError('expected a JSON object of label names to string values, e.g. {"service":"api"}')
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(value)) {
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k)) throw new TypeError(`"${k}" is not a Prometheus label name`)
    if (typeof v !== 'string' && typeof v !== 'number') throw new TypeError(`label "${k}" must be a string`)
    out[k] = String(v)
  }
  return Object.freeze(out)
}

/** Every BEAVER_METRICS_* setting: the one source of names, defaults, validation and the README table. */
export const metricsSchema = defineSchema(
  'METRICS',
  {
    prefix: f.string({
      default: '',
      pattern: PREFIX,
      doc: 'Put before the name of your metrics and the runtime metrics (myapp_); kit metrics keep beaver_',
    }),
    labels: f.json<Readonly<Record<string, string>>>({
      default: {},
      validate: labelsJson,
      doc: 'Labels added to every series, as JSON ({"service":"api"})',
    }),
    runtime: f.boolean({ default: true, doc: 'Collect runtime metrics: event-loop lag, GC, heap, handles, CPU' }),
    kit: f.boolean({
      default: true,
      doc: 'Count every kit operation from its beaver:* diagnostics channels (cache, database, http, queue, ...)',
    }),
    timedPerSecond: f.int({
      default: 100,
      min: 0,
      max: 1_000_000_000,
      doc: 'Cache operations and database statements timed per second and operation for the duration histograms (all of them below that rate; 0 times none). Their counts are exact either way: read from the instances when scraped',
    }),
    maxLabelValues: f.int({
      default: 500,
      min: 1,
      max: 100_000,
      doc: 'Distinct values one label of one metric may take; later ones are collapsed to "other" and counted',
    }),
    format: f.enum({
      values: ['prometheus', 'openmetrics'],
      default: 'prometheus',
      doc: 'Exposition format of /metrics; openmetrics adds exemplars with trace ids',
    }),
    path: f.string({ default: '/metrics', pattern: /^\/\S*$/, doc: 'Path the node:http handler serves' }),
    cluster: f.boolean({
      default: false,
      doc: 'Under node:cluster, the primary serves the sum of every worker (workers answer it over IPC)',
    }),
    clusterTimeout: f.duration({
      default: '5s',
      doc: 'How long the primary waits for the workers’ metrics before it answers 503',
    }),
  },
  'metrics',
)

export type MetricsSettings = SchemaOptions<typeof metricsSchema>
