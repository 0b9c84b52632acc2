// Side-by-side benchmark of @beaver-kit/http on the kit's harness (@beaver-kit/testkit/bench):
// against raw undici.request (the floor), undici's fetch, got and axios, at fixed concurrency
// against two local servers in their own process. Each contender runs in its own long-lived
// process and is measured through `measure()`; the harness interleaves them over rounds and
// keeps the median. Then the in-process cost per call on a stub dispatcher (no sockets) and the
// breaker + retry-budget bookkeeping. `BENCH_QUICK=1` runs briefly and writes nothing.
//   npm run bench -w @beaver-kit/http
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { runBench, type BenchCase, type BenchContender, type Measurement } from '@beaver-kit/testkit/bench'
import { request, type Dispatcher } from 'undici'
import { CircuitBreaker } from '../src/breaker.ts'
import { RetryBudget } from '../src/retry-budget.ts'
import { createHttpClient } from '../src/index.ts'
import type { CaseRequest } from './client.ts'

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url))

const server = fork(here('./server.ts'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
const ports = await new Promise<{ fast: number; slow: number }>((resolve) =>
  server.once('message', (m) => resolve(m as { fast: number; slow: number })),
)

/** A contender's process; `run()` measures one case in it. */
class Remote {
  readonly #child: ChildProcess
  readonly #ready: Promise<void>
  readonly #pending = new Map<number, (m: Measurement) => void>()
  #next = 0

  constructor(name: string) {
    this.#child = fork(here('./client.ts'), [name], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: ['--conditions=@beaver-kit/source'],
    })
    this.#ready = new Promise((resolve) => this.#child.once('message', () => resolve()))
    this.#child.on('message', (m) => {
      const reply = m as { id?: number; opsPerSec: number; p99Ms: number }
      if (reply.id === undefined) return
      this.#pending.get(reply.id)?.({ opsPerSec: reply.opsPerSec, p99Ms: reply.p99Ms })
      this.#pending.delete(reply.id)
    })
  }

  async run(url: string, concurrency: number, window: { warmMs: number; measureMs: number }): Promise<Measurement> {
    await this.#ready
    const id = this.#next++
    const request: CaseRequest = { id, url, concurrency, ...window }
    return new Promise((resolve) => {
      this.#pending.set(id, resolve)
      this.#child.send(request)
    })
  }

  close(): void {
    this.#child.disconnect()
  }
}

const remotes = {
  kit: new Remote('beaver-kit'),
  floor: new Remote('floor'),
  fetch: new Remote('undici-fetch'),
  got: new Remote('got'),
  axios: new Remote('axios'),
}

const networkCases: BenchCase[] = [1, 50, 100].flatMap((concurrency) =>
  [
    { name: `no delay, 2 B, ${concurrency} in flight`, url: `http://127.0.0.1:${ports.fast}/` },
    { name: `1 ms delay, 64 KiB, ${concurrency} in flight`, url: `http://127.0.0.1:${ports.slow}/` },
  ].map(({ name, url }) => {
    const remote =
      (r: Remote): BenchContender['measure'] =>
      (window) =>
        r.run(url, concurrency, window)
    return {
      name,
      contenders: [
        { contender: 'beaver-kit', measure: remote(remotes.kit) },
        { contender: 'undici', variant: 'fetch', measure: remote(remotes.fetch) },
        { contender: 'got', measure: remote(remotes.got) },
        { contender: 'axios', measure: remote(remotes.axios) },
        { contender: 'floor', measure: remote(remotes.floor) },
      ],
    }
  }),
)

// In process, no sockets: a stub dispatcher answers every request at once, so what is left
// is the per-call cost of each client.
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

// The bookkeeping a healthy call pays for the breaker and the retry budget.
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

const STUB = 'one call on a stub dispatcher (no sockets)'
const BOOKKEEPING = 'breaker + retry budget bookkeeping per call'

const NO_DELAY_100 = 'no delay, 2 B, 100 in flight'
const SLOW_100 = '1 ms delay, 64 KiB, 100 in flight'

await runBench({
  package: 'http',
  url: import.meta.url,
  cases: [
    ...networkCases,
    {
      name: STUB,
      contenders: [
        { contender: 'beaver-kit', fn: () => on.get('http://127.0.0.1/x').bytes() },
        {
          contender: 'beaver-kit',
          variant: 'breaker and retries off',
          fn: () => off.get('http://127.0.0.1/x').bytes(),
        },
        {
          contender: 'floor',
          fn: async () => {
            const { body } = await request('http://127.0.0.1/x', { dispatcher: stub })
            return body.bytes()
          },
        },
      ],
    },
    {
      name: BOOKKEEPING,
      contenders: [
        {
          contender: 'beaver-kit',
          fn: () => {
            const now = Date.now()
            budget.request(now)
            breaker.success(breaker.acquire(now), Date.now())
          },
        },
      ],
    },
  ],
  goals: [
    ...networkCases.map((c) => ({
      goal: `${c.name}: ≥ 0.9x raw undici.request`,
      case: c.name,
      over: 'floor',
      target: 0.9,
    })),
    { goal: `${STUB}: ≥ 0.9x raw undici.request`, case: STUB, over: 'floor', target: 0.9 },
    {
      goal: `${STUB}: breaker and retries on ≥ 0.9x both off`,
      case: STUB,
      over: { contender: 'beaver-kit', variant: 'breaker and retries off' },
      target: 0.9,
    },
    { goal: `${NO_DELAY_100}: ≥ 2x got`, case: NO_DELAY_100, over: 'got', target: 2 },
    { goal: `${NO_DELAY_100}: ≥ 2x axios`, case: NO_DELAY_100, over: 'axios', target: 2 },
    { goal: `${SLOW_100}: ≥ 2x got`, case: SLOW_100, over: 'got', target: 2 },
    { goal: `${SLOW_100}: ≥ 2x axios`, case: SLOW_100, over: 'axios', target: 2 },
  ],
  extraGoals: (results) => {
    const r = results.find((x) => x.case === BOOKKEEPING)
    const ns = r ? Math.round(1e9 / r.opsPerSec) : NaN
    return [
      { goal: 'breaker + retry budget bookkeeping < 1000 ns per call (ns)', value: ns, target: 1000, met: ns < 1000 },
    ]
  },
  notes: () => [
    `Servers: node:http in their own process ("no delay": 2-byte body at once; "1 ms delay": 64 KiB after 1 ms, undici's own benchmark settings). Each network contender runs in its own process and reads the whole body; raw undici.request (floor) and undici fetch on a shared Agent, got and axios on a keep-alive http.Agent. The kit runs with its defaults: retries, breaker and deadline on, never tripping.`,
  ],
})

for (const r of Object.values(remotes)) r.close()
server.disconnect()
server.kill()
await Promise.all([on.close(), off.close()])
