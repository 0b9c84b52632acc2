// Side-by-side benchmark of @beaver-kit/http against raw undici.request (the floor), undici
// fetch, got and axios, at fixed concurrency against local servers in a separate process.
// Each contender runs in a fresh process. Then the in-process cost of the breaker and retry
// bookkeeping per call, with mitata. `BENCH_QUICK=1` runs briefly.
//   npm run bench -w @beaver-kit/http
import { fork, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { measure } from 'mitata'
import { request, type Dispatcher } from 'undici'
import { CircuitBreaker } from '../src/breaker.ts'
import { RetryBudget } from '../src/retry-budget.ts'
import { createHttpClient } from '../src/index.ts'

const quick = process.env.BENCH_QUICK === '1'
const warmMs = quick ? 300 : 500
const measureMs = quick ? 700 : 2000
// The machine is shared: contenders take turns over several rounds and the median is kept.
const rounds = quick ? 1 : 3
const contenders = ['undici.request', 'beaver-kit', 'undici.fetch', 'got', 'axios'] as const

interface Result {
  case: string
  contender: string
  opsPerSec: number
  p99Ms?: number
  nsPerOp?: number
}

const server = fork(fileURLToPath(new URL('./server.ts', import.meta.url)), [], {
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
})
const ports = await new Promise<{ fast: number; slow: number }>((resolve) =>
  server.once('message', (m) => resolve(m as { fast: number; slow: number })),
)

const cases = [1, 50, 100].flatMap((concurrency) => [
  { name: `no delay, 2 B, ${concurrency} in flight`, url: `http://127.0.0.1:${ports.fast}/`, concurrency },
  { name: `1 ms delay, 64 KiB, ${concurrency} in flight`, url: `http://127.0.0.1:${ports.slow}/`, concurrency },
])

const runs: Result[] = []
for (let round = 0; round < rounds; round++) {
  const order = [...contenders.slice(round % contenders.length), ...contenders.slice(0, round % contenders.length)]
  for (const contender of order) {
    const child: ChildProcess = fork(
      fileURLToPath(new URL('./client.ts', import.meta.url)),
      [contender, JSON.stringify(cases), String(warmMs), String(measureMs)],
      { stdio: ['ignore', 'pipe', 'inherit', 'ipc'], execArgv: ['--conditions=@beaver-kit/source'] },
    )
    let out = ''
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()))
    await new Promise((resolve) => child.once('exit', resolve))
    for (const line of out.split('\n').filter(Boolean)) runs.push(JSON.parse(line) as Result)
  }
}
const results: Result[] = []
for (const contender of contenders) {
  for (const c of cases) {
    const mine = runs.filter((r) => r.case === c.name && r.contender === contender)
    const r: Result = {
      case: c.name,
      contender,
      opsPerSec: median(mine.map((m) => m.opsPerSec)),
      p99Ms: median(mine.map((m) => m.p99Ms ?? NaN)),
    }
    results.push(r)
    console.log(
      `${r.contender.padEnd(15)} ${r.case.padEnd(34)} ${String(r.opsPerSec).padStart(7)} req/s  p99 ${r.p99Ms} ms`,
    )
  }
}
server.disconnect()
server.kill()

// In-process bookkeeping per call: what the client does for the breaker and the retry budget.
const breaker = new CircuitBreaker(
  'http://127.0.0.1',
  {
    consecutiveFailures: 5,
    failureRate: 0.5,
    minimumRequests: 20,
    windowMs: 30_000,
    openMs: 5000,
    maxOpenMs: 300_000,
    halfOpenTrials: 3,
  },
  () => undefined,
)
const budget = new RetryBudget({ ratio: 0.2, minPerSecond: 10, windowMs: 10_000 })
const opts = quick ? { min_cpu_time: 200 * 1e6 } : { min_cpu_time: 1000 * 1e6 }
const bookkeeping = await measure(() => {
  const now = Date.now()
  budget.request(now)
  const ticket = breaker.acquire(now)
  breaker.success(ticket, Date.now())
}, opts)

// The same through a whole client call on a stub dispatcher (no sockets): breaker and retry on vs off.
const OK = Buffer.from('ok')
const controller = { aborted: false, paused: false, reason: null, abort() {}, pause() {}, resume() {} }
const stub = {
  dispatch(_opts: unknown, handler: Dispatcher.DispatchHandler) {
    queueMicrotask(() => {
      handler.onRequestStart?.(controller, null)
      handler.onResponseStart?.(controller, 200, { 'content-length': '2' }, 'OK')
      handler.onResponseData?.(controller, OK)
      handler.onResponseEnd?.(controller, {})
    })
    return true
  },
} as unknown as Dispatcher
const on = createHttpClient({ envPrefix: false, dispatcher: stub })
const off = createHttpClient({
  envPrefix: false,
  dispatcher: stub,
  breaker: { enabled: false },
  retry: { maxAttempts: 1 },
})
// Alternate on/off a few times and keep the lowest median: other work on the machine only adds time.
let onNs = Infinity
let offNs = Infinity
let rawNs = Infinity
const raw = async (): Promise<Uint8Array> => {
  const { body } = await request('http://127.0.0.1/x', { dispatcher: stub })
  return body.bytes()
}
for (let i = 0; i < (quick ? 2 : 4); i++) {
  onNs = Math.min(onNs, (await measure(() => on.get('http://127.0.0.1/x').bytes(), opts)).p50)
  offNs = Math.min(offNs, (await measure(() => off.get('http://127.0.0.1/x').bytes(), opts)).p50)
  rawNs = Math.min(rawNs, (await measure(raw, opts)).p50)
}
const delta = onNs - offNs
results.push(
  {
    case: 'bookkeeping per call: breaker + retry budget',
    contender: 'beaver-kit',
    opsPerSec: Math.round(1e9 / bookkeeping.p50),
    nsPerOp: round(bookkeeping.p50),
  },
  {
    case: 'client call on a stub dispatcher, breaker + retry on',
    contender: 'beaver-kit',
    opsPerSec: Math.round(1e9 / onNs),
    nsPerOp: round(onNs),
  },
  {
    case: 'client call on a stub dispatcher, breaker + retry off',
    contender: 'beaver-kit',
    opsPerSec: Math.round(1e9 / offNs),
    nsPerOp: round(offNs),
  },
  {
    case: 'client call on a stub dispatcher',
    contender: 'undici.request',
    opsPerSec: Math.round(1e9 / rawNs),
    nsPerOp: round(rawNs),
  },
)

console.log('\nRatios (beaver-kit vs each, req/s):')
for (const c of cases) {
  const of = (name: string): number => results.find((r) => r.case === c.name && r.contender === name)?.opsPerSec ?? NaN
  const kit = of('beaver-kit')
  const ratio = (name: string): string => `${(kit / of(name)).toFixed(2)}x ${name}`
  console.log(
    `${c.name.padEnd(32)} ${ratio('undici.request')}  ${ratio('undici.fetch')}  ${ratio('got')}  ${ratio('axios')}`,
  )
}
console.log(`\nBookkeeping (breaker + retry budget) per call: ${round(bookkeeping.p50)} ns (median)`)
console.log(
  `Whole client call on a stub dispatcher: ${round(onNs)} ns with breaker + retry, ${round(offNs)} ns without (delta ${round(delta)} ns); raw undici.request ${round(rawNs)} ns`,
)

const cpu = os.cpus()[0]?.model ?? 'unknown'
writeFileSync(
  fileURLToPath(new URL('./results.json', import.meta.url)),
  JSON.stringify(
    {
      node: process.version,
      date: new Date().toISOString(),
      cpu: `${cpu} (${os.cpus().length} vCPU)`,
      loadAverage: os.loadavg()[0],
      quick,
      results,
    },
    null,
    2,
  ) + '\n',
)
await Promise.all([on.close(), off.close()])

function median(values: number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? NaN
}

function round(ns: number): number {
  return Math.round(ns * 10) / 10
}
