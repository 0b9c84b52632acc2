// What being observed costs one memory cache get and one SQLite primary-key select, case by
// case, in short timed loops (no harness, no rounds): a quick way to see where the cost of the
// observed path goes before running the full benches.
//   none       no subscriber at all
//   empty      a subscriber with five empty handlers (the price of the channel itself)
//   metrics    createMetrics() kit metrics
//   ratio 0    createTracing() with parentbased_traceidratio(0)
//   100%       createTracing() sampling everything, spans to an exporter that drops them
// Run: npx node --conditions=@beaver-kit/source packages/tracing/bench/observed-path.ts [cases...]
import dc from 'node:diagnostics_channel'
import { createCache } from '@beaver-kit/cache'
import { createDatabase } from '@beaver-kit/database'
import { createMetrics } from '@beaver-kit/metrics'
import { createTracing, type SpanExporter } from '@beaver-kit/tracing'

const discard: SpanExporter = { export: (_s, done) => done({ code: 0 }), shutdown: async () => undefined }
const cache = createCache({ envPrefix: false, driver: 'memory', namespace: 'bench' })
await cache.set('k', { id: 1 })
const db = createDatabase({ envPrefix: false, url: 'sqlite::memory:' })
await db.exec('CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL)')
for (let i = 1; i <= 100; i++) await db.execute('INSERT INTO users (id, email) VALUES (?, ?)', [i, `u${i}@x`])
let id = 0
const ops: Record<string, () => Promise<unknown>> = {
  'cache get': () => cache.get('k'),
  'sqlite select': () => db.query('SELECT email FROM users WHERE id = ?', [(id++ % 100) + 1]),
}

async function rate(fn: () => Promise<unknown>, ms: number): Promise<number> {
  let n = 0
  const end = performance.now() + ms
  const t0 = performance.now()
  while (performance.now() < end) {
    for (let i = 0; i < 200; i++) await fn()
    n += 200
  }
  return n / ((performance.now() - t0) / 1000)
}

const empty = { start() {}, end() {}, asyncStart() {}, asyncEnd() {}, error() {} }
const modes: Record<string, () => () => Promise<void> | void> = {
  none: () => () => undefined,
  empty: () => {
    const chs = ['beaver:cache:get', 'beaver:database:query'].map((n) => dc.tracingChannel(n))
    for (const c of chs) c.subscribe(empty)
    return () => {
      for (const c of chs) c.unsubscribe(empty)
    }
  },
  metrics: () => {
    const m = createMetrics({ envPrefix: false, runtime: false })
    return () => m.close()
  },
  'ratio 0': () => {
    const t = createTracing({ envPrefix: false, exporter: discard, sampler: 'parentbased_traceidratio', samplerArg: 0 })
    return () => t.close()
  },
  '100%': () => {
    const t = createTracing({ envPrefix: false, exporter: discard })
    return () => t.close()
  },
}

const ms = Number(process.env.OBSERVED_MS ?? 400)
const only = process.argv.slice(2)
for (const mode of Object.keys(modes))
  if (only.length > 0 && mode !== 'none' && !only.includes(mode)) delete modes[mode]
for (const [name, op] of Object.entries(ops)) {
  await rate(op, 200)
  const base: number[] = []
  const line: string[] = []
  for (const [mode, on] of Object.entries(modes)) {
    const off = on()
    await rate(op, 100)
    const r = await rate(op, ms)
    await off()
    if (mode === 'none') base.push(r)
    line.push(`${mode} ${Math.round(r).toLocaleString('en')} (${(r / (base[0] ?? r)).toFixed(2)}x)`)
  }
  console.log(`${name}: ${line.join(' | ')}`)
}
await Promise.all([cache.close(), db.close()])
