// Side-by-side benchmark of @beaver-kit/metrics on the kit's one harness (@beaver-kit/testkit/bench):
//   the hot path (counter inc and histogram observe with two labels, through the cardinality
//   guard) against prom-client called raw and a bare Map (the floor); /metrics render time for
//   10,000 series against prom-client's own registry.metrics(); and what turning the kit metrics
//   on costs a memory cache get (the diagnostics channels go from unobserved to observed).
// Run: npm run bench -w @beaver-kit/metrics   (BENCH_QUICK=1 for a short smoke run that writes nothing)
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import client from 'prom-client'
import { isQuick, runBench } from '@beaver-kit/testkit/bench'
import { createCache } from '@beaver-kit/cache'
import { createDatabase, sql } from '@beaver-kit/database'
import { createHttpClient } from '@beaver-kit/http'
import { createMetrics, type Metrics } from '@beaver-kit/metrics'

const quick = isQuick()
const SERIES = 10_000
const base = { envPrefix: false, runtime: false, kit: false } as const

// 20 routes x 3 statuses, visited in turn: a realistic set of label values, all already known.
const labels = Array.from({ length: 64 }, (_, i) => ({
  route: `/r/${i % 20}`,
  status: ['200', '404', '500'][i % 3] as string,
}))
let at = 0
const next = (): { route: string; status: string } => labels[at++ & 63] as { route: string; status: string }

const kit = createMetrics(base)
const kitCounter = kit.counter({ name: 'requests_total', help: 'Requests', labelNames: ['route', 'status'] })
const kitHistogram = kit.histogram({ name: 'request_seconds', help: 'Latency', labelNames: ['route', 'status'] })
const raw = new client.Registry()
const rawCounter = new client.Counter({
  name: 'requests_total',
  help: 'Requests',
  labelNames: ['route', 'status'],
  registers: [raw],
})
const rawHistogram = new client.Histogram({
  name: 'request_seconds',
  help: 'Latency',
  labelNames: ['route', 'status'],
  registers: [raw],
})
const floor = new Map<string, number>()

// 10,000 series in each: 100 routes x 100 tenants of one counter (within the guard's cap).
const kitBig = createMetrics({ ...base, maxLabelValues: 100 })
const rawBig = new client.Registry()
const kitBigCounter = kitBig.counter({ name: 'big_total', help: 'Big', labelNames: ['route', 'tenant'] })
const rawBigCounter = new client.Counter({
  name: 'big_total',
  help: 'Big',
  labelNames: ['route', 'tenant'],
  registers: [rawBig],
})
for (let i = 0; i < SERIES; i++) {
  const l = { route: `/r/${i % 100}`, tenant: `t${Math.floor(i / 100)}` }
  kitBigCounter.inc(l)
  rawBigCounter.inc(l)
}

const cache = createCache({ envPrefix: false, driver: 'memory', namespace: 'bench' })
await cache.set('k', { id: 1 })
const db = createDatabase({ envPrefix: false, url: 'sqlite::memory:' })
await db.exec('create table bench_rows (id integer primary key, name text)')
await db.execute(sql`insert into bench_rows (id, name) values (${1}, ${'beaver'})`)
const server = createServer((_req, res) => res.end('ok')).listen(0, '127.0.0.1')
// Longer than undici's keep-alive, so the server never closes a socket the client is about to reuse.
server.keepAliveTimeout = 120_000
await new Promise((resolve) => server.once('listening', resolve))
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
const httpClient = createHttpClient({ envPrefix: false, retry: { maxAttempts: 1 } })

let observing: Metrics | undefined
// The same operation with the kit metrics subscribed (created before, closed after each round) and without.
const onOff = (name: string, fn: () => Promise<unknown>) => ({
  name,
  contenders: [
    {
      contender: 'beaver-kit',
      variant: 'metrics on',
      setup: () => {
        observing = createMetrics({ envPrefix: false, runtime: false })
      },
      teardown: () => observing?.close(),
      fn,
    },
    { contender: 'beaver-kit', variant: 'metrics off', fn },
  ],
})
const onOffGoal = (name: string) => ({
  goal: `${name}: kit metrics on ≥ 0.95x off (issue: ≤ 5% cost)`,
  case: name,
  of: { contender: 'beaver-kit', variant: 'metrics on' },
  over: { contender: 'beaver-kit', variant: 'metrics off' },
  target: 0.95,
})

const report = await runBench({
  package: 'metrics',
  url: import.meta.url,
  cases: [
    {
      name: 'counter inc, 2 labels',
      contenders: [
        { contender: 'beaver-kit', fn: () => kitCounter.inc(next()) },
        { contender: 'prom-client', fn: () => rawCounter.inc(next()) },
        {
          contender: 'floor',
          fn: () => {
            const l = next()
            const key = `${l.route}|${l.status}`
            floor.set(key, (floor.get(key) ?? 0) + 1)
          },
        },
      ],
    },
    {
      name: 'histogram observe, 2 labels',
      contenders: [
        { contender: 'beaver-kit', fn: () => kitHistogram.observe(next(), 0.042) },
        { contender: 'prom-client', fn: () => rawHistogram.observe(next(), 0.042) },
      ],
    },
    {
      name: 'render 10,000 series',
      contenders: [
        { contender: 'beaver-kit', fn: () => kitBig.render() },
        { contender: 'prom-client', fn: () => rawBig.metrics() },
      ],
    },
    onOff('cache memory get', () => cache.get('k')),
    onOff('sqlite primary-key select', () => db.one(sql`select name from bench_rows where id = ${1}`)),
    onOff('http client GET, local server', async () => (await httpClient.get(`${origin}/ping`)).text()),
  ],
  goals: [
    { goal: 'counter inc ≥ 0.7x prom-client raw', case: 'counter inc, 2 labels', over: 'prom-client', target: 0.7 },
    {
      goal: 'histogram observe ≥ 0.8x prom-client raw',
      case: 'histogram observe, 2 labels',
      over: 'prom-client',
      target: 0.8,
    },
    {
      goal: 'render ≥ 0.9x prom-client registry.metrics()',
      case: 'render 10,000 series',
      over: 'prom-client',
      target: 0.9,
    },
    onOffGoal('cache memory get'),
    onOffGoal('sqlite primary-key select'),
    onOffGoal('http client GET, local server'),
  ],
  notes: [
    'Kit metrics on: cache reads and database statements are counted by the instances themselves and read when scraped (src/kit-sources.ts), so an operation pays nothing for its count; their durations are timed for up to 100 operations per second and operation (BEAVER_METRICS_TIMED_PER_SECOND), the channel unsubscribed for the rest of each second (src/kit-sampling.ts). HTTP client requests are timed every time from their channel.',
    'The guard costs one Set lookup per label per call; a bound child (counter.labels({...}).inc()) skips it and is prom-client’s own child.',
    quick ? 'quick run' : 'full run',
  ],
})
void report
await cache.close()
await db.close()
await httpClient.close()
server.close()
await kit.close()
await kitBig.close()
