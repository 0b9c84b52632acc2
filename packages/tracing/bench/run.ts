// What tracing costs on the kit's own hot paths, in one process and run (the shared harness
// interleaves the contenders over rounds): a memory cache get, an HTTP client request to a
// local server, and a primary-key select on SQLite, each
//   untraced (floor: no tracing at all),
//   traced from the channels at 100% sampling (beaver-kit), spans batched to an exporter that drops them,
//   traced with a sampler that drops everything (beaver-kit, ratio 0),
//   untraced by the kit but wrapped in a hand-written @opentelemetry/api span (the rival: what
//   an application writes itself, with the same provider and processor).
// Run: npm run bench -w @beaver-kit/tracing   (BENCH_QUICK=1 for a short smoke run that writes nothing)
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Tracer } from '@opentelemetry/api'
import { runBench, type BenchCase, type BenchContender, type RatioGoal } from '@beaver-kit/testkit/bench'
import { createCache } from '@beaver-kit/cache'
import { createDatabase } from '@beaver-kit/database'
import { createHttpClient } from '@beaver-kit/http'
import { createTracing, type SpanExporter, type Tracing, type TracingOptions } from '@beaver-kit/tracing'

const discard: SpanExporter = {
  export: (_spans, done) => done({ code: 0 }),
  shutdown: async () => undefined,
}

let current: Tracing | undefined
function on(options: TracingOptions): () => void {
  return () => {
    current = createTracing({ envPrefix: false, exporter: discard, ...options })
  }
}
async function off(): Promise<void> {
  await current?.close()
  current = undefined
}
const tracer = (): Tracer => (current as Tracing).tracer

const cache = createCache({ envPrefix: false, driver: 'memory', namespace: 'bench' })
await cache.set('k', { id: 1 })
const db = createDatabase({ envPrefix: false, url: 'sqlite::memory:' })
await db.exec('CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL)')
for (let i = 1; i <= 1000; i++)
  await db.execute('INSERT INTO users (id, email) VALUES (?, ?)', [i, `u${i}@example.com`])
const server = createServer((_req, res) => res.end('ok'))
// Longer than any pause between rounds, so the client never reuses a socket the server is closing.
server.keepAliveTimeout = 600_000
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
const client = createHttpClient({
  envPrefix: false,
  baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
})

let id = 0
const ops: Record<string, () => Promise<unknown>> = {
  'cache memory get': () => cache.get('k'),
  'http client GET (local server)': () => client.get('/ping').text(),
  'db primary-key select (SQLite)': () => db.query('SELECT email FROM users WHERE id = ?', [(id++ % 1000) + 1]),
}
const kitPackage: Record<string, string> = {
  'cache memory get': 'cache',
  'http client GET (local server)': 'http',
  'db primary-key select (SQLite)': 'database',
}

function contenders(name: string): BenchContender[] {
  const op = ops[name] as () => Promise<unknown>
  return [
    { contender: 'floor', fn: op },
    { contender: 'beaver-kit', fn: op, setup: on({}), teardown: off },
    {
      contender: 'beaver-kit',
      variant: 'ratio 0',
      fn: op,
      setup: on({ sampler: 'parentbased_traceidratio', samplerArg: 0 }),
      teardown: off,
    },
    {
      contender: '@opentelemetry/api',
      fn: () =>
        tracer().startActiveSpan(name, async (span) => {
          await op()
          span.end()
        }),
      setup: on({ exclude: [kitPackage[name] as string] }),
      teardown: off,
    },
  ]
}

const cases: BenchCase[] = Object.keys(ops).map((name) => ({ name, contenders: contenders(name) }))
const goals: RatioGoal[] = Object.keys(ops).flatMap((name) => [
  {
    goal: `${name}: traced with a dropping sampler costs ≤ 3%`,
    case: name,
    of: { contender: 'beaver-kit', variant: 'ratio 0' },
    over: 'floor',
    target: 0.97,
  },
  {
    goal: `${name}: traced at 100% ≥ 0.9x a hand-written @opentelemetry/api span`,
    case: name,
    over: '@opentelemetry/api',
    target: 0.9,
  },
])

await runBench({
  package: 'tracing',
  url: import.meta.url,
  cases,
  goals,
  notes: [
    'Spans go through the SDK BatchSpanProcessor to an exporter that drops them, so export I/O is not measured.',
    'floor is the same kit operation with no tracing at all; @opentelemetry/api wraps it in tracer.startActiveSpan.',
    'ratio 0: outside a sampled trace the cache, database and HTTP client channels have no subscriber at all (they subscribe only while a span records); under an unsampled parent the kit decides a certain drop before any span, id or context is made, and an HTTP call forwards that parent’s traceparent (sampled=0); queue operations still go through the SDK.',
    '100%: span start plans (name, kind, attributes) are made once per channel and remembered per statement and per origin (no URL parsing or regular expression per span); attributes are set once the span records (startSpan would check them twice); a SQLite statement is published as a synchronous operation (no promise turn of its own); the recording gate arms at most one timer per second instead of one per span. What is left against a hand-written span with no attributes is mostly the SDK checking each attribute the kit sets (three on a cache read, four on a query) and the channel machinery (runStores, publish).',
  ],
})
await Promise.all([cache.close(), db.close(), client.close()])
server.close()
