import { SpanKind, SpanStatusCode, type Attributes, type Span } from '@opentelemetry/api'

// How a kit operation's channel payload becomes a span: OpenTelemetry semantic conventions where
// they exist (HTTP client, database, messaging), `beaver.<package>.<field>` attributes otherwise.
// Payloads never carry values, parameters or keys (a kit rule), so every field may be an attribute.

/** The settings the mapping reads. */
export interface SemanticOptions {
  readonly dbStatement: boolean
  readonly dbStatementMaxLength: number
}

/** What a span starts with: the sampler sees the name, kind and these attributes. */
export interface StartPlan {
  readonly name: string
  readonly kind: SpanKind
  readonly attributes: Attributes
}

type Payload = Record<string, unknown>

// Never attributes: outcomes handled apart, and what traceSync/tracePromise put on a context.
const SKIP = new Set(['error', 'result', 'statement', 'traceparent', 'tracestate', 'durationMs'])

// Attribute names built once per (package, field), not per span.
const names = new Map<string, Map<string, string>>()
function attributeName(pkg: string, key: string): string {
  let byKey = names.get(pkg)
  if (byKey === undefined) names.set(pkg, (byKey = new Map()))
  let name = byKey.get(key)
  if (name === undefined) byKey.set(key, (name = `beaver.${pkg}.${key}`))
  return name
}

/** `beaver.<pkg>.<field>` for every string, number and boolean field of a payload. */
export function payloadAttributes(pkg: string, payload: Payload): Attributes {
  const out: Attributes = {}
  for (const key in payload) {
    if (SKIP.has(key)) continue
    const value = payload[key]
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      out[attributeName(pkg, key)] = value
    }
  }
  return out
}

const DB_SYSTEMS: Record<string, string> = { postgres: 'postgresql', mysql: 'mysql', sqlite: 'sqlite' }

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}

function serverOf(origin: string): Attributes {
  try {
    const url = new URL(origin)
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port)
    return { 'server.address': url.hostname, 'server.port': port, 'url.scheme': url.protocol.slice(0, -1) }
  } catch {
    return {}
  }
}

/** Name, kind and start attributes of the span of one kit operation. */
export function startPlan(pkg: string, op: string, p: Payload, options: SemanticOptions): StartPlan {
  if (pkg === 'http' && op === 'request') {
    const method = String(p.method)
    const attempt = Number(p.attempt)
    return {
      name: method,
      kind: SpanKind.CLIENT,
      attributes: {
        'http.request.method': method,
        ...serverOf(String(p.host)),
        'url.full': `${String(p.host)}${String(p.route)}`,
        ...(attempt > 1 ? { 'http.request.resend_count': attempt - 1 } : {}),
      },
    }
  }
  if (pkg === 'database' && op === 'query') {
    const statement = String(p.statement ?? '')
    const operation = /^\s*\(?\s*([A-Za-z]+)/.exec(statement)?.[1]?.toUpperCase()
    const system = DB_SYSTEMS[String(p.dialect)] ?? String(p.dialect)
    return {
      name: operation ?? system,
      kind: SpanKind.CLIENT,
      attributes: {
        'db.system.name': system,
        ...(operation === undefined ? {} : { 'db.operation.name': operation }),
        ...(options.dbStatement ? { 'db.query.text': cut(statement, options.dbStatementMaxLength) } : {}),
        'beaver.database.driver': String(p.driver),
      },
    }
  }
  if (pkg === 'queue' && (op === 'publish' || op === 'handle')) {
    const queue = String(p.queue)
    const count = Number(p.count ?? 1)
    return op === 'publish'
      ? {
          name: `publish ${queue}`,
          kind: SpanKind.PRODUCER,
          attributes: {
            'messaging.system': String(p.driver),
            'messaging.destination.name': queue,
            'messaging.operation.type': 'send',
            'messaging.operation.name': 'publish',
            ...(count > 1 ? { 'messaging.batch.message_count': count } : {}),
          },
        }
      : {
          name: `process ${queue}`,
          kind: SpanKind.CONSUMER,
          attributes: {
            'messaging.system': String(p.driver),
            'messaging.destination.name': queue,
            'messaging.operation.type': 'process',
            'messaging.operation.name': 'process',
            'messaging.message.id': String(p.id),
            'beaver.queue.attempt': Number(p.attempt),
          },
        }
  }
  // Generic operations: their fields are set when the span ends (and only if it records), so a
  // span the sampler drops costs no attribute work.
  return {
    name: `${pkg}.${op}`,
    kind: pkg === 'cache' && p.driver !== 'memory' ? SpanKind.CLIENT : SpanKind.INTERNAL,
    attributes: NONE,
  }
}
const NONE: Attributes = Object.freeze({})

const QUEUE_FAILED = new Set(['retry', 'dead'])

/** Sets what the payload learnt while the operation ran (status, rows, hit) and the outcome. */
export function finishSpan(span: Span, pkg: string, op: string, p: Payload, error: unknown): void {
  if (!span.isRecording()) return
  let failed: string | undefined
  if (pkg === 'http' && op === 'request') {
    const status = Number(p.status)
    if (status > 0) span.setAttribute('http.response.status_code', status)
    if (p.outcome !== 'success') {
      failed = status >= 400 ? String(status) : String(p.errorCode ?? p.outcome)
      span.setAttribute('error.type', failed)
    }
  } else if (pkg === 'database' && op === 'query') {
    if (typeof p.rowCount === 'number') span.setAttribute('db.response.returned_rows', p.rowCount)
  } else if (pkg === 'queue' && (op === 'publish' || op === 'handle')) {
    const ids = p.ids
    if (Array.isArray(ids) && ids.length === 1) span.setAttribute('messaging.message.id', String(ids[0]))
    if (typeof p.outcome === 'string') {
      span.setAttribute('beaver.queue.outcome', p.outcome)
      if (QUEUE_FAILED.has(p.outcome)) failed = p.outcome
    }
  } else {
    span.setAttributes(payloadAttributes(pkg, p))
  }
  if (error !== undefined) {
    span.recordException(error instanceof Error ? error : String(error))
    const code = (error as { code?: unknown } | null)?.code
    if (failed === undefined) span.setAttribute('error.type', typeof code === 'string' ? code : errorName(error))
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) })
  } else if (failed !== undefined) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: failed })
  }
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error
}
