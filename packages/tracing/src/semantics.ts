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

/** Sets `beaver.<pkg>.<field>` on `span` for every string, number and boolean field of a payload. */
function setPayloadAttributes(span: Span, byKey: Map<string, string>, pkg: string, op: string, payload: Payload): void {
  for (const key in payload) {
    const value = payload[key]
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') continue
    // The operation the channel is named for is the span's name already (`cache.get`).
    if (key === 'op' && value === op) continue
    let name = byKey.get(key)
    if (name === undefined) {
      if (SKIP.has(key)) continue
      byKey.set(key, (name = `beaver.${pkg}.${key}`))
    }
    span.setAttribute(name, value)
  }
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

// Past this many entries a plan cache stops remembering (origins and statements may come from
// outside): later ones are computed each time.
const MAX_PLANS = 1024

/** A bounded memo of what is derived from one string (an origin, a statement). */
function remembered<T>(make: (key: string) => T): (key: string) => T {
  const made = new Map<string, T>()
  return (key) => {
    let value = made.get(key)
    if (value === undefined) {
      value = make(key)
      if (made.size < MAX_PLANS) made.set(key, value)
    }
    return value
  }
}

/** Builds the start of one kit operation's span from its payload. */
export type Planner = (payload: Payload) => StartPlan

/**
 * The planner of one channel, made once per channel: what depends only on the package and the
 * operation is computed here, and what is derived from an origin or a statement is remembered
 * per value, so a span's start costs no URL parsing, no regular expression and no name building.
 */
export function planner(pkg: string, op: string, options: SemanticOptions): Planner {
  if (pkg === 'http' && op === 'request') {
    const servers = remembered(serverOf)
    return (p) => {
      const method = String(p.method)
      const host = String(p.host)
      const attempt = Number(p.attempt)
      const attributes: Attributes = { 'http.request.method': method, ...servers(host) }
      attributes['url.full'] = `${host}${String(p.route)}`
      if (attempt > 1) attributes['http.request.resend_count'] = attempt - 1
      return { name: method, kind: SpanKind.CLIENT, attributes }
    }
  }
  if (pkg === 'database' && op === 'query') {
    // Per driver, dialect and statement: the name and the attributes, shared (the SDK copies them).
    const plans = new Map<unknown, Map<unknown, (statement: string) => StartPlan>>()
    const plansOf = (driver: string, dialect: string): ((statement: string) => StartPlan) => {
      const system = DB_SYSTEMS[dialect] ?? dialect
      return remembered((statement) => {
        const operation = /^\s*\(?\s*([A-Za-z]+)/.exec(statement)?.[1]?.toUpperCase()
        return {
          name: operation ?? system,
          kind: SpanKind.CLIENT,
          attributes: Object.freeze({
            'db.system.name': system,
            ...(operation === undefined ? {} : { 'db.operation.name': operation }),
            ...(options.dbStatement ? { 'db.query.text': cut(statement, options.dbStatementMaxLength) } : {}),
            'beaver.database.driver': driver,
          }),
        }
      })
    }
    return (p) => {
      let byDialect = plans.get(p.driver)
      if (byDialect === undefined) {
        byDialect = new Map()
        if (plans.size < MAX_PLANS) plans.set(p.driver, byDialect)
      }
      let byStatement = byDialect.get(p.dialect)
      if (byStatement === undefined) {
        byStatement = plansOf(String(p.driver), String(p.dialect))
        if (byDialect.size < MAX_PLANS) byDialect.set(p.dialect, byStatement)
      }
      return byStatement(typeof p.statement === 'string' ? p.statement : '')
    }
  }
  if (pkg === 'queue' && (op === 'publish' || op === 'handle')) return (p) => queuePlan(op, p)
  // Generic operations: their fields are set when the span ends (and only if it records), so a
  // span the sampler drops costs no attribute work.
  const name = `${pkg}.${op}`
  const internal: StartPlan = { name, kind: SpanKind.INTERNAL, attributes: NONE }
  if (pkg !== 'cache') return () => internal
  const client: StartPlan = { name, kind: SpanKind.CLIENT, attributes: NONE }
  return (p) => (p.driver === 'memory' ? internal : client)
}

function queuePlan(op: 'publish' | 'handle', p: Payload): StartPlan {
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
const NONE: Attributes = Object.freeze({})

const QUEUE_FAILED = new Set(['retry', 'dead'])

// What a beaver:cache:* operation publishes besides its `op` (the span's name): CacheTrace.
const CACHE_FIELDS = ['namespace', 'driver', 'count', 'hit', 'hits', 'loaded'] as const
const CACHE_ATTRIBUTES = CACHE_FIELDS.map((field) => `beaver.cache.${field}`)

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
  } else if (pkg === 'cache') {
    // The fields of CacheTrace, read by name: the commonest spans skip enumerating the payload.
    for (let i = 0; i < CACHE_FIELDS.length; i++) {
      const value = p[CACHE_FIELDS[i] as string]
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
        span.setAttribute(CACHE_ATTRIBUTES[i] as string, value)
    }
  } else {
    let byKey = names.get(pkg)
    if (byKey === undefined) names.set(pkg, (byKey = new Map()))
    setPayloadAttributes(span, byKey, pkg, op, p)
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
