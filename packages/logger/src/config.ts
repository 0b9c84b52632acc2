import { defineSchema, f, type SchemaConfig, type SchemaOptions } from '@beaver-kit/config'

const LEVEL_VALUES = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const

/**
 * Default of `BEAVER_LOG_REDACT_KEYS`: `default` is the kit-wide secret-name rule of
 * `@beaver-kit/config` (normalized names containing password, secret, apikey, cookie, credential,
 * privatekey, sessionid..., or ending in token, pwd, jwt...); add names after it (`default,ssn`).
 */
export const DEFAULT_REDACT_KEYS = ['default'] as const

/** The `BEAVER_LOG_*` settings. */
export const logSchema = defineSchema(
  'LOG',
  {
    level: f.enum({
      values: LEVEL_VALUES,
      default: 'info',
      doc: 'Lowest level written (trace, debug, info, warn, error, fatal, silent)',
    }),
    format: f.enum({
      values: ['json', 'text'],
      default: 'json',
      doc: 'json (NDJSON) or text (human-readable, colorized only on a TTY)',
    }),
    outputs: f.list({
      default: ['stdout'],
      doc: 'Where lines go: stdout, stderr, file:/path, syslog:udp://host:514, syslog:tcp://host:601, syslog:unix:///path; options as ?level=warn&format=text',
    }),
    levels: f.string({ default: '', doc: 'Per-module levels for logger.for(name), e.g. db=debug,http=warn,*=info' }),
    name: f.string({ doc: 'Value of the "name" field on every line' }),
    time: f.enum({
      values: ['epoch', 'iso'],
      default: 'epoch',
      doc: 'The "time" field: epoch milliseconds (fastest) or an ISO-8601 string',
    }),
    mode: f.enum({
      values: ['buffered', 'sync', 'async'],
      default: 'buffered',
      doc: 'stdout/stderr/file writes: buffered (batches of BUFFER, rest at the end of the event-loop turn; measured fastest), sync (each line), async',
    }),
    buffer: f.bytes({ default: '4kb', doc: 'Batch size of the buffered and async modes' }),
    redact: f.list({ default: [], doc: 'Paths to censor, pino syntax: req.headers.authorization,user.*.ssn' }),
    redactKeys: f.list({
      default: [...DEFAULT_REDACT_KEYS],
      doc: 'Key names censored at any depth: default is the kit-wide secret-name rule (apiKey, x-api-key, passwordHash, private_key, sessionId, jwt, ...); other names match the end of the normalized key (ssn: user_ssn); none turns it off',
    }),
    censor: f.string({ default: '[REDACTED]', doc: 'What replaces a redacted value' }),
    kit: f.boolean({ default: false, doc: 'Log every beaver:* diagnostics-channel event of the kit at debug' }),
    otel: f.boolean({
      default: true,
      doc: 'Add trace_id/span_id while an OpenTelemetry span is active (needs @opentelemetry/api)',
    }),
    file: {
      maxSize: f.bytes({ doc: 'Rotate a file output when it reaches this size (e.g. 100mb)' }),
      interval: f.duration({ doc: 'Rotate a file output on this UTC-aligned period (e.g. 1d, 1h)' }),
      maxFiles: f.int({ default: 10, min: 0, doc: 'Rotated files kept per file output (0 keeps none)' }),
    },
    syslog: {
      facility: f.enum({
        values: [
          'kern',
          'user',
          'mail',
          'daemon',
          'auth',
          'syslog',
          'lpr',
          'news',
          'uucp',
          'cron',
          'authpriv',
          'ftp',
          'local0',
          'local1',
          'local2',
          'local3',
          'local4',
          'local5',
          'local6',
          'local7',
        ],
        default: 'user',
        doc: 'Syslog facility',
      }),
      appName: f.string({ doc: 'APP-NAME field (default: the name setting, else the process title)' }),
      hostname: f.string({ doc: 'HOSTNAME field (default: os.hostname())' }),
      structuredData: f.json<StructuredData, { doc: string; validate: (value: unknown) => StructuredData }>({
        doc: 'Static STRUCTURED-DATA as JSON: {"origin@32473":{"env":"prod"}}',
        validate: validateStructuredData,
      }),
      maxBuffer: f.bytes({
        default: '8mb',
        doc: 'Bytes queued while a syslog server is unreachable; beyond it lines are dropped and counted',
      }),
      closeTimeout: f.duration({
        default: '5s',
        doc: 'How long close() waits for a syslog server to take queued lines',
      }),
    },
  },
  'Logger',
)

/** Syslog STRUCTURED-DATA: SD-ID → parameter → value. */
export type StructuredData = Record<string, Record<string, string>>

/** The resolved, frozen `BEAVER_LOG_*` settings. */
export type LogConfig = SchemaConfig<typeof logSchema>
/** What options may pass for the `BEAVER_LOG_*` settings. */
export type LogSchemaOptions = SchemaOptions<typeof logSchema>

function validateStructuredData(value: unknown): StructuredData {
  const ok =
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every(
      (params) =>
        typeof params === 'object' &&
        params !== null &&
        !Array.isArray(params) &&
        Object.values(params).every((v) => typeof v === 'string'),
    )
  if (!ok) throw new TypeError('expected {"sd-id":{"param":"value"}} with string values')
  return value as StructuredData
}
