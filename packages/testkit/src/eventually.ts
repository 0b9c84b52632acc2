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
 * Polls `check` until it stops throwing (or returns a truthy value for a boolean check) within
 * a deadline; rethrows the last failure. Use instead of fixed sleeps. Works under fake timers
 * (it polls on real time).
 * @example await eventually(async () => expect(await cache.get('k')).toBeUndefined())
 */
export async function eventually<T>(check: () => T | Promise<T>, options: EventuallyOptions = {}): Promise<T> {
  const { timeoutMs = 5000, intervalMs = 20 } = options
  const deadline = performance.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const result = await check()
      if (result !== false) return result
      lastError = new Error('check returned false')
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
