import { sleep, throwIfAborted } from './abort.ts'

export interface BackoffOptions {
  /** Delay before the first retry, before jitter. Default 100 ms. */
  baseMs?: number
  /** Upper bound of any single delay. Default 30 s. */
  maxMs?: number
  /** Growth per attempt. Default 2. */
  factor?: number
  /** `full` (AWS "full jitter", default): uniform in [0, d]; `equal`: d/2 + uniform(d/2); `none`. */
  jitter?: 'full' | 'equal' | 'none'
  /** Source of randomness in [0, 1); tests pass a fixed one. */
  random?: () => number
}

/**
 * The delay before retry number `retry` (1 for the first retry): exponential, capped,
 * jittered. One helper for every package, so that retries behave the same kit-wide.
 */
export function backoffDelay(retry: number, options: BackoffOptions = {}): number {
  const { baseMs = 100, maxMs = 30_000, factor = 2, jitter = 'full', random = Math.random } = options
  const exp = Math.min(maxMs, baseMs * factor ** Math.max(0, retry - 1))
  switch (jitter) {
    case 'none':
      return exp
    case 'equal':
      return exp / 2 + random() * (exp / 2)
    default:
      return random() * exp
  }
}

export interface RetryInfo {
  /** The attempt that just failed, from 1. */
  attempt: number
  error: unknown
  delayMs: number
}

export interface RetryOptions extends BackoffOptions {
  /** Total attempts including the first. Default 3. */
  maxAttempts?: number
  signal?: AbortSignal
  /** Whether a failure may be retried. Default: every error. */
  shouldRetry?: (error: unknown, attempt: number) => boolean
  /** A server's own delay hint in ms (e.g. from `Retry-After`); it replaces the computed delay. */
  retryAfter?: (error: unknown) => number | undefined
  /** Cap on a server-provided hint. Default: `maxMs`. */
  maxRetryAfterMs?: number
  /** Absolute time (ms since epoch) after which no new attempt starts. */
  deadline?: number
  onRetry?: (info: RetryInfo) => void
  now?: () => number
}

/**
 * Runs `fn` until it succeeds, a failure is not retryable, attempts run out, the deadline
 * would pass, or the signal aborts. The last error is rethrown unchanged.
 * @example await retry(() => fetchThing(), { maxAttempts: 5, baseMs: 50, signal })
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const { maxAttempts = 3, signal, shouldRetry, retryAfter, deadline, onRetry, now = Date.now } = options
  const maxHint = options.maxRetryAfterMs ?? options.maxMs ?? 30_000
  for (let attempt = 1; ; attempt++) {
    throwIfAborted(signal)
    try {
      return await fn(attempt)
    } catch (error) {
      if (attempt >= maxAttempts) throw error
      const hint = retryAfter?.(error)
      const delayMs = hint === undefined ? backoffDelay(attempt, options) : Math.min(Math.max(0, hint), maxHint)
      // The deadline is checked before shouldRetry, so a retry the deadline refuses never
      // consumes anything shouldRetry accounts for (an HTTP retry budget, for example).
      if (deadline !== undefined && now() + delayMs >= deadline) throw error
      if (shouldRetry && !shouldRetry(error, attempt)) throw error
      onRetry?.({ attempt, error, delayMs })
      await sleep(delayMs, signal)
    }
  }
}

/**
 * Parses an HTTP `Retry-After` value (delta-seconds or an HTTP date) into milliseconds from
 * `now`; undefined when absent or malformed.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value == null) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  // Only an HTTP-date (it names a weekday and month); Date.parse would accept "-5" as a year.
  if (!/[a-z]{3}/i.test(trimmed)) return undefined
  const date = Date.parse(trimmed)
  if (Number.isNaN(date)) return undefined
  return Math.max(0, date - now)
}
