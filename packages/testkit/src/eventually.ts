export interface EventuallyOptions {
  /** Give up after this long. Default 5 s. */
  timeoutMs?: number
  /** Poll interval. Default 20 ms. */
  intervalMs?: number
}

/**
 * Polls `check` until it stops throwing (or returns a truthy value for a boolean check) within
 * a deadline; rethrows the last failure. Use instead of fixed sleeps.
 * @example await eventually(async () => expect(await cache.get('k')).toBeUndefined())
 */
export async function eventually<T>(check: () => T | Promise<T>, options: EventuallyOptions = {}): Promise<T> {
  const { timeoutMs = 5000, intervalMs = 20 } = options
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const result = await check()
      if (result !== false) return result
      lastError = new Error('check returned false')
    } catch (err) {
      lastError = err
    }
    if (Date.now() >= deadline) {
      if (lastError instanceof Error)
        lastError.message = `eventually() gave up after ${timeoutMs} ms: ${lastError.message}`
      throw lastError
    }
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}
