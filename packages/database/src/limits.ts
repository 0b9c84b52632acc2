import { abortReason } from '@beaver-kit/core'
import { DatabaseError } from './errors.ts'
import type { DriverCallOptions } from './driver.ts'

/** How long an interrupted statement may take to stop before its connection is destroyed. */
const CANCEL_GRACE_MS = 2000

export interface CancelHooks {
  /** Asks the server to stop the running statement (pg_cancel_backend, KILL QUERY). */
  cancel(): Promise<unknown> | void
  /** Last resort when the server did not stop in time: destroy the connection. */
  destroy(): void
}

/**
 * Runs a statement under a timeout and a signal. When either fires, the statement is
 * cancelled on the server (so it stops using the server, not just our patience), and the call
 * rejects with DB_TIMEOUT or the signal's reason once the server gave up, or after a grace
 * period in which case the connection is destroyed.
 */
export function cancellable<T>(start: () => Promise<T>, options: DriverCallOptions, hooks: CancelHooks): Promise<T> {
  const { signal, timeoutMs } = options
  if (signal?.aborted) return Promise.reject(abortReason(signal))
  if (!signal && !timeoutMs) return start()
  return new Promise<T>((resolve, reject) => {
    let interrupted: unknown
    let grace: NodeJS.Timeout | undefined
    const interrupt = (reason: unknown): void => {
      if (interrupted !== undefined) return
      interrupted = reason
      grace = setTimeout(() => {
        hooks.destroy()
        finish()
        reject(reason)
      }, CANCEL_GRACE_MS)
      grace.unref()
      Promise.resolve()
        .then(() => hooks.cancel())
        .catch(() => {
          // The cancel request itself failed: the only way left to stop the statement is to drop its connection.
          hooks.destroy()
        })
    }
    const onAbort = (): void => interrupt(abortReason(signal as AbortSignal))
    const timer =
      timeoutMs && timeoutMs > 0
        ? setTimeout(
            () =>
              interrupt(
                new DatabaseError(
                  'DB_TIMEOUT',
                  `The statement ran longer than its ${timeoutMs} ms timeout and was cancelled on the server.`,
                  {
                    details: { timeoutMs, phase: 'query' },
                    retryable: true,
                  },
                ),
              ),
            timeoutMs,
          )
        : undefined
    timer?.unref()
    signal?.addEventListener('abort', onAbort, { once: true })
    let done = false
    const finish = (): void => {
      done = true
      clearTimeout(timer)
      clearTimeout(grace)
      signal?.removeEventListener('abort', onAbort)
    }
    start().then(
      (value) => {
        if (done) return
        finish()
        if (interrupted !== undefined) reject(interrupted)
        else resolve(value)
      },
      (err: unknown) => {
        if (done) return
        finish()
        reject(interrupted ?? err)
      },
    )
  })
}

/**
 * Waits for a pooled connection at most `timeoutMs` (DB_TIMEOUT, phase "acquire") or until
 * the signal aborts. A connection that arrives after the caller gave up goes straight back.
 */
export function acquireWithin<C>(
  pending: Promise<C>,
  options: DriverCallOptions,
  giveBack: (conn: C) => void,
): Promise<C> {
  const { signal, timeoutMs } = options
  if (!signal && !timeoutMs) return pending
  return new Promise<C>((resolve, reject) => {
    let settled = false
    const fail = (reason: unknown): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      reject(reason)
    }
    const onAbort = (): void => fail(abortReason(signal as AbortSignal))
    if (signal?.aborted) {
      settled = true
      pending.then(giveBack, () => undefined)
      reject(abortReason(signal))
      return
    }
    const timer =
      timeoutMs && timeoutMs > 0
        ? setTimeout(
            () =>
              fail(
                new DatabaseError(
                  'DB_TIMEOUT',
                  `No pooled connection became free within ${timeoutMs} ms (pool exhausted). Raise BEAVER_DB_POOL_MAX, shorten transactions, or raise BEAVER_DB_POOL_ACQUIRE_TIMEOUT.`,
                  { details: { timeoutMs, phase: 'acquire' }, retryable: true },
                ),
              ),
            timeoutMs,
          )
        : undefined
    timer?.unref()
    signal?.addEventListener('abort', onAbort, { once: true })
    pending.then(
      (conn) => {
        if (settled) {
          giveBack(conn)
          return
        }
        settled = true
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        resolve(conn)
      },
      (err: unknown) => fail(err),
    )
  })
}

/** 64-bit integers: a number when it is exact, a bigint otherwise. Lossless and still ergonomic. */
export function int64(value: bigint): number | bigint {
  return value >= -9007199254740991n && value <= 9007199254740991n ? Number(value) : value
}

/** The same for integers that arrive as decimal text (PostgreSQL int8, MySQL BIGINT). */
export function int64FromText(text: string): number | bigint {
  const n = Number(text)
  return Number.isSafeInteger(n) ? n : BigInt(text)
}
