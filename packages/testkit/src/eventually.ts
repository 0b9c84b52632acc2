import { performance } from 'node:perf_hooks'
import { setTimeout as realSetTimeout } from 'node:timers'

// The clock and timer of node:timers and node:perf_hooks, not the globals: a test that
// installs fake timers (which replace globalThis.setTimeout and Date) can still poll.

export interface EventuallyOptions {
  /** Give up after this long. Default 5 s. */
  timeoutMs?: number
  /** Poll interval. Default 20 ms. */
  intervalMs?: number
}

/**
 * Polls `check` until it passes within a deadline, and rethrows the last failure. A check
 * passes when it neither throws nor returns a falsy value: `() => count > 3` passes once
 * truthy, and `false`, `0`, `''`, `null` and `NaN` are failures. `undefined` is what a check
 * written as assertions returns (`() => { expect(x).toBe(1) }`), so it passes by not throwing;
 * to wait for a value, compare: `async () => (await cache.get(k)) !== undefined`.
 * Use instead of fixed sleeps. Works under fake timers (it polls on real time).
 * @example await eventually(async () => expect(await cache.get('k')).toBeUndefined())
 */
export async function eventually<T>(check: () => T | Promise<T>, options: EventuallyOptions = {}): Promise<T> {
  const { timeoutMs = 5000, intervalMs = 20 } = options
  const deadline = performance.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const result = await check()
      // undefined is a check that returns nothing: it passed by not throwing.
      if (result === undefined || result) return result
      lastError = new Error(`check returned ${describe(result)}`)
    } catch (err) {
      lastError = err
    }
    if (performance.now() >= deadline) {
      if (lastError instanceof Error)
        lastError.message = `eventually() gave up after ${timeoutMs} ms: ${lastError.message}`
      throw lastError
    }
    await new Promise((r) => realSetTimeout(r, intervalMs))
  }
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value)
}
