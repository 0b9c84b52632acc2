import { defineSchema, f, type SchemaConfig, type SchemaOptions } from '@beaver-kit/config'
import { checkAllowRule, checkDenyRule } from './egress.ts'

const METHOD = /^[A-Z]+$/

const headersField = {
  secret: true,
  validate: validateHeaders,
  doc: 'Default headers as a JSON object (masked: may carry API keys)',
}

/**
 * The env schema of `@beaver-kit/http` (section `HTTP`, so `BEAVER_HTTP_*`). Explicit options
 * beat the environment; every duration accepts `250ms`, `10s`, `5m` or a number of ms.
 * @example const client = createHttpClient({ baseUrl: 'https://api.example.com', timeouts: { total: '5s' } })
 */
export const httpSchema = defineSchema(
  'HTTP',
  {
    baseUrl: f.url({
      protocols: ['http', 'https'],
      doc: 'Prefix of every relative request path (paths are appended, never resolved away)',
    }),
    headers: f.json<Record<string, string>, typeof headersField>(headersField),
    userAgent: f.string({ default: 'beaver-kit-http', doc: 'User-Agent sent when a request sets none' }),
    timeouts: {
      connect: f.duration({ default: '10s', doc: 'TCP + TLS connect timeout per connection' }),
      headers: f.duration({ default: '30s', doc: 'Longest wait for the response headers of one attempt' }),
      body: f.duration({ default: '30s', doc: 'Longest silence between two chunks of a response body' }),
      total: f.duration({
        default: '60s',
        doc: 'Deadline of the whole call: every attempt, backoff and redirect; 0 turns it off',
      }),
    },
    retry: {
      maxAttempts: f.int({
        default: 3,
        min: 1,
        max: 20,
        doc: 'Attempts per call, the first included (1 turns retries off)',
      }),
      baseDelay: f.duration({ default: '100ms', doc: 'Backoff before the first retry (exponential, full jitter)' }),
      maxDelay: f.duration({ default: '10s', doc: 'Cap of one computed backoff delay' }),
      maxRetryAfter: f.duration({ default: '60s', doc: 'Cap of a server Retry-After wait' }),
      methods: f.list({
        default: ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE'],
        of: checkMethod,
        doc: 'Methods retried without an Idempotency-Key (idempotent ones only, RFC 9110)',
      }),
      statuses: f.list({
        default: ['408', '425', '429', '500', '502', '503', '504'],
        of: checkStatus,
        doc: 'Response statuses that are retried',
      }),
      idempotencyKeys: f.boolean({
        default: false,
        doc: 'Generate an Idempotency-Key for POST/PATCH, which makes them retryable',
      }),
    },
    budget: {
      ratio: f.number({ default: 0.2, min: 0, max: 10, doc: 'Retries allowed as a share of recent requests per host' }),
      minPerSecond: f.number({
        default: 10,
        min: 0,
        doc: 'Retries per second always allowed per host, whatever the ratio',
      }),
      window: f.duration({ default: '10s', doc: 'How far back "recent requests" reach' }),
    },
    breaker: {
      enabled: f.boolean({ default: true, doc: 'Circuit breaker on or off' }),
      scope: f.enum({
        values: ['host', 'route'],
        default: 'host',
        doc: 'One breaker per host, or per method + host + route template',
      }),
      consecutiveFailures: f.int({ default: 5, min: 1, doc: 'Trips after this many failures in a row' }),
      failureRate: f.number({
        default: 0.5,
        min: 0.01,
        max: 1,
        doc: 'Trips when this share of calls in the window failed...',
      }),
      minimumRequests: f.int({ default: 20, min: 1, doc: '...and at least this many calls were made in the window' }),
      window: f.duration({ default: '30s', doc: 'Rolling window of the failure rate' }),
      openDuration: f.duration({ default: '5s', doc: 'How long the first trip stays open before trial calls' }),
      maxOpenDuration: f.duration({ default: '5m', doc: 'Cap of the open time, which doubles on each repeated trip' }),
      halfOpenTrials: f.int({
        default: 3,
        min: 1,
        doc: 'Trial calls let through when half-open; all must succeed to close',
      }),
    },
    bulkhead: {
      maxConcurrent: f.int({ default: 0, min: 0, doc: 'Most requests in flight per host (0: no limit)' }),
      maxQueue: f.int({ default: 100, min: 0, doc: 'Requests waiting for a slot per host before HTTP_BULKHEAD_FULL' }),
    },
    limits: {
      maxResponseSize: f.bytes({ default: '10mb', doc: 'Largest response body read (after decompression)' }),
      maxRedirects: f.int({ default: 5, min: 0, doc: 'Redirects followed per call' }),
    },
    egress: {
      deny: f.list({
        default: [],
        of: checkDenyRule,
        doc: 'Refuse connections to these addresses: "private" (loopback, RFC 1918, link-local and cloud metadata, reserved) and/or CIDRs; checked on the resolved address of every connection and redirect hop',
      }),
      allow: f.list({
        default: [],
        of: checkAllowRule,
        doc: 'Host names (api.internal, *.corp.example) or CIDRs let through despite the deny list',
      }),
    },
    redirect: f.enum({
      values: ['follow', 'manual', 'error'],
      default: 'follow',
      doc: 'What a 3xx with Location does',
    }),
    redirectDowngrade: f.boolean({
      default: false,
      doc: 'Follow a redirect from https to plain http (off: refused with HTTP_REDIRECT, so nothing falls back to clear text)',
    }),
    decompress: f.boolean({ default: true, doc: 'Ask for and decode gzip, deflate, br (and zstd where Node has it)' }),
    throwHttpErrors: f.boolean({ default: true, doc: 'Reject with HttpError on a status >= 400 (after retries)' }),
    propagateTrace: f.boolean({ default: true, doc: 'Send W3C traceparent when an OpenTelemetry context is active' }),
    pool: {
      connections: f.int({ default: 0, min: 0, doc: 'Most connections per origin (0: no limit)' }),
      keepAlive: f.duration({ default: '4s', doc: 'Idle keep-alive time of a pooled connection' }),
      pipelining: f.int({ default: 1, min: 0, doc: 'HTTP/1.1 requests pipelined per connection' }),
      http2: f.boolean({ default: false, doc: 'Offer HTTP/2 over TLS (ALPN)' }),
    },
    tls: {
      ca: f.string({
        doc: 'Extra CA certificates (PEM) trusted besides the system ones, for internal services; _FILE reads a file',
      }),
    },
  },
  'HTTP client',
)

/** The resolved configuration of a client. */
export type HttpConfig = SchemaConfig<typeof httpSchema>
/** What the schema lets explicit options pass (durations as text or ms). */
export type HttpSchemaOptions = SchemaOptions<typeof httpSchema>

function checkMethod(item: string): void {
  if (!METHOD.test(item)) throw new TypeError(`"${item}" is not an HTTP method in capitals`)
}

function checkStatus(item: string): void {
  const n = Number(item)
  if (!Number.isInteger(n) || n < 100 || n > 599) throw new TypeError(`"${item}" is not an HTTP status (100-599)`)
}

function validateHeaders(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new TypeError('expected a JSON object of header names to strings')
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new TypeError(`header "${k}" must be a string`)
    out[k.toLowerCase()] = v
  }
  return out
}
