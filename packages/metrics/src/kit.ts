import dc from 'node:diagnostics_channel'
import { observeOperations, watchChannels, type OperationOutcome } from '@beaver-kit/core'
import type { Counter, Gauge, Histogram, HistogramDefinition, MetricDefinition } from './instruments.ts'
import { PackageCounters, type SourcedSeries } from './kit-sources.ts'

/** How the kit metrics make their instruments (unprefixed: they are always `beaver_*`). */
export interface KitInstruments {
  counter<L extends string>(definition: MetricDefinition<L>): Counter<L>
  gauge<L extends string>(definition: MetricDefinition<L>): Gauge<L>
  histogram<L extends string>(definition: HistogramDefinition<L>): Histogram<L>
  /** A counter computed when scraped from the instances' own counts. */
  sourced<L extends string>(definition: MetricDefinition<L>, collect: () => Iterable<SourcedSeries>): void
  /** Observes the operations of a hot channel within the timing budget (kit-sampling.ts). */
  timed(name: string, finish: (ctx: Payload, outcome: OperationOutcome) => void): () => void
}

type Payload = Record<string, unknown>
type Subscribe = (name: string, op: string) => () => void

const text = (value: unknown): string => (typeof value === 'string' ? value : value == null ? '' : String(value))
const seconds = (outcome: OperationOutcome): number => outcome.durationMs / 1000
const result = (outcome: OperationOutcome): string => (outcome.error === undefined ? 'ok' : 'error')

function onEvent(name: string, handle: (message: Payload) => void): () => void {
  const listener = (message: unknown): void => handle(message as Payload)
  dc.subscribe(name, listener)
  return () => dc.unsubscribe(name, listener)
}

function onOperation(
  name: string,
  finish: (ctx: Payload, outcome: OperationOutcome) => void,
  options: { timed?: boolean } = {},
): () => void {
  return observeOperations<Payload>(name, { finish }, options)
}

// Past this many label sets a table stops remembering and every record goes through the guard.
const MAX_REMEMBERED = 4096

/**
 * The bound children of one label set, made once: a hot operation then records without
 * building a label object or passing the cardinality guard each time. Keyed by two label values
 * in nested maps (the values are the payload's own strings, so no key string is built per call),
 * and bounded, so labels fed from outside (a namespace, a host) cannot grow it past
 * `MAX_REMEMBERED`.
 */
class Remembered<R> {
  readonly #made = new Map<string, Map<string, R>>()
  readonly #make: (a: string, b: string) => R
  #size = 0
  constructor(make: (a: string, b: string) => R) {
    this.#make = make
  }
  get(a: string, b = ''): R {
    let inner = this.#made.get(a)
    let r = inner?.get(b)
    if (r === undefined) {
      r = this.#make(a, b)
      if (this.#size < MAX_REMEMBERED) {
        if (inner === undefined) this.#made.set(a, (inner = new Map()))
        inner.set(b, r)
        this.#size++
      }
    }
    return r
  }
}

/** One child per value of a label left open (an outcome): made on first use. */
function lazyChildren<C>(make: (value: string) => C): (value: string) => C {
  const children = new Map<string, C>()
  return (value) => {
    let c = children.get(value)
    if (c === undefined) children.set(value, (c = make(value)))
    return c
  }
}

// Leading keyword of a statement: a bounded label (the statement itself never is one).
const SQL_VERBS = new Set([
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'WITH',
  'BEGIN',
  'COMMIT',
  'ROLLBACK',
  'SAVEPOINT',
  'RELEASE',
  'CREATE',
  'ALTER',
  'DROP',
  'SET',
  'PRAGMA',
  'MERGE',
  'UPSERT',
  'REPLACE',
  'TRUNCATE',
  'LOCK',
  'COPY',
  'CALL',
  'EXPLAIN',
  'SHOW',
  'VACUUM',
  'ANALYZE',
  'START',
  'GRANT',
  'REVOKE',
])
function sqlOperation(statement: unknown): string {
  const match = /^\s*([a-zA-Z]+)/.exec(text(statement))
  const verb = match?.[1]?.toUpperCase()
  return verb !== undefined && SQL_VERBS.has(verb) ? verb : 'OTHER'
}

const BREAKER_VALUE: Record<string, number> = { closed: 0, 'half-open': 1, open: 2 }

/** The per-package metrics, each built the first time a channel of its package appears. */
function packageHandlers(
  m: KitInstruments,
  closers: Array<() => void>,
): Record<string, (() => Record<string, Subscribe>) | undefined> {
  return {
    cache: () => {
      // Reads and evictions are the caches' own counters, read when scraped: a cache read pays
      // nothing for them. The durations are timed within the budget (all below its rate).
      const counters = new PackageCounters('cache')
      closers.push(() => counters.close())
      const duration = m.histogram({
        name: 'beaver_cache_operation_duration_seconds',
        help: 'Cache operations by operation, driver, namespace and outcome (up to BEAVER_METRICS_TIMED_PER_SECOND timed per second and operation: for rates use the counters)',
        labelNames: ['operation', 'driver', 'namespace', 'outcome'],
        buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      })
      m.sourced(
        {
          name: 'beaver_cache_requests_total',
          help: 'Keys read, by result (hit or miss)',
          labelNames: ['driver', 'namespace', 'result'],
        },
        function* () {
          for (const { labels, counts } of counters.read()) {
            yield [{ ...labels, result: 'hit' }, counts.hits ?? 0]
            yield [{ ...labels, result: 'miss' }, counts.misses ?? 0]
          }
        },
      )
      m.sourced(
        {
          name: 'beaver_cache_writes_total',
          help: 'Keys written or removed, by operation (set or delete)',
          labelNames: ['driver', 'namespace', 'operation'],
        },
        function* () {
          for (const { labels, counts } of counters.read()) {
            yield [{ ...labels, operation: 'set' }, counts.sets ?? 0]
            yield [{ ...labels, operation: 'delete' }, counts.deletes ?? 0]
          }
        },
      )
      m.sourced(
        { name: 'beaver_cache_evictions_total', help: 'Entries evicted for room', labelNames: ['driver', 'namespace'] },
        function* () {
          for (const { labels, counts } of counters.read()) yield [labels, counts.evictions ?? 0]
        },
      )
      const errors = m.counter({
        name: 'beaver_cache_errors_total',
        help: 'Store failures, including those the cache degraded around',
        labelNames: ['operation', 'driver', 'namespace'],
      })
      const grace = m.counter({
        name: 'beaver_cache_grace_total',
        help: 'Stale values served, by reason',
        labelNames: ['namespace', 'reason'],
      })
      const operation: Subscribe = (name, op) => {
        // Per (driver, namespace): the duration by outcome.
        const series = new Remembered((driver, namespace) =>
          lazyChildren((outcome) => duration.labels({ operation: op, driver, namespace, outcome })),
        )
        return m.timed(name, (ctx, outcome) => {
          series.get(text(ctx.driver), text(ctx.namespace))(result(outcome)).observe(seconds(outcome))
        })
      }
      const ignored: Subscribe = () => () => undefined
      return {
        '*': operation,
        error: (name) =>
          onEvent(name, (e) =>
            errors.inc({ operation: text(e.op), driver: text(e.driver), namespace: text(e.namespace) }),
          ),
        grace: (name) => onEvent(name, (e) => grace.inc({ namespace: text(e.namespace), reason: text(e.reason) })),
        // Counted by the cache itself, reported by the operations themselves, or progress rather than a count.
        evict: ignored,
        warm: ignored,
        tier: ignored,
        hybrid: ignored,
        bus: ignored,
      }
    },
    database: () => {
      // Statements are counted by each database itself, read when scraped; durations are timed
      // within the budget (all of them below its rate).
      const counters = new PackageCounters('database')
      closers.push(() => counters.close())
      m.sourced(
        {
          name: 'beaver_database_queries_total',
          help: 'Statements run, by driver, dialect and outcome (ok or error)',
          labelNames: ['driver', 'dialect', 'outcome'],
        },
        function* () {
          for (const { labels, counts } of counters.read()) {
            const statements = counts.statements ?? 0
            const failures = counts.failures ?? 0
            yield [{ ...labels, outcome: 'ok' }, statements - failures]
            yield [{ ...labels, outcome: 'error' }, failures]
          }
        },
      )
      const duration = m.histogram({
        name: 'beaver_database_query_duration_seconds',
        help: 'Statements by driver, dialect, leading SQL keyword and outcome, never the statement or its parameters (up to BEAVER_METRICS_TIMED_PER_SECOND timed per second: for rates use beaver_database_queries_total)',
        labelNames: ['driver', 'dialect', 'operation', 'outcome'],
        buckets: [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      })
      const idle = m.counter({
        name: 'beaver_database_idle_errors_total',
        help: 'Pooled connections that failed while idle',
        labelNames: ['driver'],
      })
      const replica = m.gauge({
        name: 'beaver_database_replica_up',
        help: '1 while a read replica is in service, 0 while taken out',
        labelNames: ['replica'],
      })
      return {
        query: (name) => {
          // Statements repeat (they are SQL text, never parameters): their keyword is read once each.
          const verbs = new Remembered((statement) => sqlOperation(statement))
          const series = new Remembered((driver, dialect) =>
            lazyChildren((operation) =>
              lazyChildren((outcome) => duration.labels({ driver, dialect, operation, outcome })),
            ),
          )
          return m.timed(name, (ctx, outcome) => {
            const verb = verbs.get(text(ctx.statement))
            series.get(text(ctx.driver), text(ctx.dialect))(verb)(result(outcome)).observe(seconds(outcome))
          })
        },
        idleError: (name) => onEvent(name, (e) => idle.inc({ driver: text(e.driver) })),
        replica: (name) => onEvent(name, (e) => replica.set({ replica: text(e.replica) }, e.state === 'up' ? 1 : 0)),
      }
    },
    http: () => {
      // OpenTelemetry's http.client.request.duration, with Prometheus label names.
      const duration = m.histogram({
        name: 'beaver_http_client_request_duration_seconds',
        help: 'Outgoing HTTP exchanges (each attempt and redirect hop) by method, origin, status and outcome',
        labelNames: ['method', 'host', 'status', 'outcome'],
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      })
      const retries = m.counter({
        name: 'beaver_http_client_retries_total',
        help: 'Retried HTTP calls, by failure code',
        labelNames: ['method', 'host', 'code'],
      })
      const breaker = m.gauge({
        name: 'beaver_http_client_breaker_state',
        help: 'Circuit state per key: 0 closed, 1 half-open, 2 open',
        labelNames: ['key'],
      })
      const denied = m.counter({
        name: 'beaver_http_client_egress_denied_total',
        help: 'Connections refused by the egress policy',
        labelNames: ['host'],
      })
      return {
        request: (name) => {
          // Per (method, origin), then per status and outcome: children made once, no label object per call.
          const series = new Remembered((method, host) =>
            lazyChildren((status) => lazyChildren((outcome) => duration.labels({ method, host, status, outcome }))),
          )
          // The client times each exchange itself (durationMs): no clock read of ours.
          return onOperation(
            name,
            (ctx) =>
              series
                .get(
                  text(ctx.method),
                  text(ctx.host),
                )(ctx.status ? text(ctx.status) : '')(text(ctx.outcome))
                .observe(Number(ctx.durationMs) / 1000),
            { timed: false },
          )
        },
        retry: (name) =>
          onEvent(name, (e) => retries.inc({ method: text(e.method), host: text(e.host), code: text(e.code) })),
        breaker: (name) => onEvent(name, (e) => breaker.set({ key: text(e.key) }, BREAKER_VALUE[text(e.to)] ?? 0)),
        egressDenied: (name) => onEvent(name, (e) => denied.inc({ host: text(e.host) })),
      }
    },
    queue: () => {
      const published = m.counter({
        name: 'beaver_queue_published_total',
        help: 'Messages published',
        labelNames: ['queue', 'driver', 'outcome'],
      })
      const handled = m.histogram({
        name: 'beaver_queue_handle_duration_seconds',
        help: 'Handler runs by queue, driver and outcome (completed, retry, dead, released, cancelled, error)',
        labelNames: ['queue', 'driver', 'outcome'],
        buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300],
      })
      const retries = m.counter({
        name: 'beaver_queue_retries_total',
        help: 'Deliveries scheduled again after a failure',
        labelNames: ['queue'],
      })
      const dead = m.counter({
        name: 'beaver_queue_dead_total',
        help: 'Messages sent to the dead-letter queue',
        labelNames: ['queue', 'reason'],
      })
      const leases = m.counter({
        name: 'beaver_queue_lease_lost_total',
        help: 'Running messages whose lease expired',
        labelNames: ['queue'],
      })
      const up = m.gauge({
        name: 'beaver_queue_connection_up',
        help: '1 while the backend is connected',
        labelNames: ['driver'],
      })
      return {
        publish: (name) =>
          onOperation(name, (ctx, outcome) =>
            published.inc(
              { queue: text(ctx.queue), driver: text(ctx.driver), outcome: result(outcome) },
              Number(ctx.count) || 1,
            ),
          ),
        handle: (name) =>
          onOperation(name, (ctx, outcome) =>
            handled.observe(
              {
                queue: text(ctx.queue),
                driver: text(ctx.driver),
                outcome: outcome.error === undefined ? text(ctx.outcome) || 'completed' : 'error',
              },
              seconds(outcome),
            ),
          ),
        retry: (name) => onEvent(name, (e) => retries.inc({ queue: text(e.queue) })),
        dead: (name) => onEvent(name, (e) => dead.inc({ queue: text(e.queue), reason: text(e.reason) })),
        leaseLost: (name) => onEvent(name, (e) => leases.inc({ queue: text(e.queue) })),
        connection: (name) => onEvent(name, (e) => up.set({ driver: text(e.driver) }, e.state === 'lost' ? 0 : 1)),
      }
    },
    logger: () => {
      const dropped = m.counter({
        name: 'beaver_logger_dropped_total',
        help: 'Log lines that could not be delivered',
        labelNames: ['output', 'reason'],
      })
      const failed = m.counter({
        name: 'beaver_logger_output_errors_total',
        help: 'Log output write failures',
        labelNames: ['output'],
      })
      return {
        dropped: (name) =>
          onEvent(name, (e) => dropped.inc({ output: text(e.output), reason: text(e.reason) }, Number(e.count) || 1)),
        outputError: (name) => onEvent(name, (e) => failed.inc({ output: text(e.output) })),
      }
    },
    health: () => {
      const status = m.gauge({
        name: 'beaver_health_check_status',
        help: 'Latest result of each health check: 1 for its current status (up, degraded, down), 0 for the others',
        labelNames: ['check', 'status'],
      })
      return {
        check: (name) =>
          onEvent(name, (e) => {
            const check = text(e.check)
            for (const s of ['up', 'degraded', 'down']) status.set({ check, status: s }, e.status === s ? 1 : 0)
          }),
      }
    },
  }
}

/**
 * Subscribes to every `beaver:*` channel, present and future: the packages above get their
 * own metrics; any other package (mail, sms, krypto, one written later) is counted by the
 * generic `beaver_operation_duration_seconds` and `beaver_events_total`. Returns the unsubscribe.
 */
export function subscribeKitMetrics(m: KitInstruments): () => void {
  const off: Array<() => void> = []
  const tables = packageHandlers(m, off)
  const built = new Map<string, Record<string, Subscribe>>()
  let generic: Record<string, Subscribe> | undefined
  const makeGeneric = (): Record<string, Subscribe> => {
    const duration = m.histogram({
      name: 'beaver_operation_duration_seconds',
      help: 'Every other kit operation, by package, operation and outcome',
      labelNames: ['package', 'operation', 'outcome'],
    })
    const events = m.counter({
      name: 'beaver_events_total',
      help: 'Every other kit event, by package and event',
      labelNames: ['package', 'event'],
    })
    return {
      '*': (name, op) => {
        const pkg = name.split(':')[1] ?? ''
        const offOp = onOperation(name, (_ctx, outcome) =>
          duration.observe({ package: pkg, operation: op, outcome: result(outcome) }, seconds(outcome)),
        )
        const offEvent = onEvent(name, () => events.inc({ package: pkg, event: op }))
        return () => {
          offOp()
          offEvent()
        }
      },
    }
  }
  const unwatch = watchChannels((name) => {
    const [, pkg = '', op = ''] = name.split(':')
    if (pkg === 'metrics') return
    let table = built.get(pkg)
    if (table === undefined) {
      table = tables[pkg]?.() ?? (generic ??= makeGeneric())
      built.set(pkg, table)
    }
    const subscribe = table[op] ?? table['*'] ?? (generic ??= makeGeneric())['*']
    if (subscribe) off.push(subscribe(name, op))
  })
  return () => {
    unwatch()
    for (const fn of off.splice(0)) fn()
  }
}
