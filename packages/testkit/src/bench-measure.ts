// How the harness measures one contender: warm up, then run a function for a time window, sync
// or async (with calls in flight, latencies, or a settle after each batch), on a wall or CPU clock.
import { performance } from 'node:perf_hooks'

/** What one measurement of a contender gives. */
export interface Measurement {
  opsPerSec: number
  p50Ms?: number | undefined
  p99Ms?: number | undefined
}

/** How `measureCalls` runs a function: what `BenchCase` and `BenchContender` say about it. */
export interface CallOptions {
  opsPerCall?: number | undefined
  concurrency?: number | undefined
  latency?: boolean | undefined
  settle?: (() => Promise<void>) | undefined
  /**
   * The clock, in ms, that windows and ops/s are measured on. Default `performance.now` (wall
   * time). A contender in a process of its own may pass `cpuClock` to count only the CPU its
   * process spent, so that neighbours on a shared machine do not count against it.
   */
  clock?: (() => number) | undefined
}

/** The CPU time of this process (all threads: its writes on libuv's pool included), in ms. */
export function cpuClock(): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

/**
 * Warms up, then measures `fn` for a window: what the harness does with a contender's `fn`,
 * exported for a `measure()` that runs in another process (a contender in its own child).
 */
export async function measureCalls(
  fn: () => unknown,
  window: { warmMs: number; measureMs: number },
  options: CallOptions = {},
): Promise<Measurement> {
  const { warmMs, measureMs } = window
  const opsPerCall = options.opsPerCall ?? 1
  const probe = fn()
  const isAsync = isPromiseLike(probe)
  if (isAsync) await probe
  const clock = options.clock ?? (() => performance.now())
  if (!isAsync && !options.latency) {
    if (options.settle) {
      await runSettledFor(fn, options.settle, warmMs, clock)
      const { calls, ms } = await runSettledFor(fn, options.settle, measureMs, clock)
      return { opsPerSec: (calls * opsPerCall * 1000) / ms }
    }
    await runSyncFor(fn, warmMs, clock)
    const { calls, ms } = await runSyncFor(fn, measureMs, clock)
    return { opsPerSec: (calls * opsPerCall * 1000) / ms }
  }
  const concurrency = options.concurrency ?? 1
  await runAsyncFor(fn, concurrency, warmMs, false, clock)
  const { calls, ms, latencies } = await runAsyncFor(fn, concurrency, measureMs, options.latency === true, clock)
  const m: Measurement = { opsPerSec: (calls * opsPerCall * 1000) / ms }
  if (latencies.length > 0) {
    latencies.sort((x, y) => x - y)
    m.p50Ms = quantile(latencies, 0.5)
    m.p99Ms = quantile(latencies, 0.99)
  }
  return m
}

// Sync calls run in batches that grow until a batch takes ~1 ms, so the clock is read rarely.
function runSyncFor(fn: () => unknown, forMs: number, clock: () => number): Promise<{ calls: number; ms: number }> {
  return runBatchesFor(forMs, 1, clock, (batch) => {
    for (let i = 0; i < batch; i++) fn()
  })
}

// As runSyncFor, but each batch is followed by `settle()` inside the measured time, and batches
// grow to ~10 ms: a settle that waits an event-loop turn must not be what is measured.
function runSettledFor(
  fn: () => unknown,
  settle: () => Promise<void>,
  forMs: number,
  clock: () => number,
): Promise<{ calls: number; ms: number }> {
  return runBatchesFor(forMs, 10, clock, (batch) => {
    for (let i = 0; i < batch; i++) fn()
    return settle()
  })
}

// Runs `step(batch)` until `forMs` has passed, doubling the batch while one takes under
// `batchMs`. A step that returns nothing is not awaited, so a sync loop adds no microtask.
async function runBatchesFor(
  forMs: number,
  batchMs: number,
  clock: () => number,
  step: (batch: number) => Promise<void> | void,
): Promise<{ calls: number; ms: number }> {
  let batch = 1
  let calls = 0
  const start = clock()
  let now = start
  while (now - start < forMs) {
    const t0 = now
    const pending = step(batch)
    if (pending) await pending
    calls += batch
    now = clock()
    if (now - t0 < batchMs && batch < 1 << 24) batch *= 2
  }
  return { calls, ms: now - start }
}

async function runAsyncFor(
  fn: () => unknown,
  concurrency: number,
  forMs: number,
  withLatency: boolean,
  clock: () => number,
): Promise<{ calls: number; ms: number; latencies: number[] }> {
  let calls = 0
  const latencies: number[] = []
  const start = clock()
  const end = start + forMs
  const worker = async (): Promise<void> => {
    while (clock() < end) {
      if (withLatency) {
        // Latency is what a caller waits: always wall time.
        const t0 = performance.now()
        await fn()
        latencies.push(performance.now() - t0)
      } else {
        await fn()
      }
      calls++
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return { calls, ms: clock() - start, latencies }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function'
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

function quantile(sorted: readonly number[], q: number): number {
  return Math.round(1000 * (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number)) / 1000
}
