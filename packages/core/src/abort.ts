import { CoreError } from './errors.ts'

/** Throws the signal's reason (or a CORE_ABORTED error) when the signal is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortReason(signal)
}

/**
 * The error an aborted signal means. A reason of the caller's own (`controller.abort(err)`, or
 * the `TimeoutError` of `AbortSignal.timeout()`, which says what happened) is returned as it is.
 * Without one, `abort()` leaves the platform's bare `AbortError` DOMException; that becomes a
 * `CORE_ABORTED` kit error with the DOMException as its `cause`, so every package reports an
 * abort the same way.
 */
export function abortReason(signal: AbortSignal): unknown {
  const reason: unknown = signal.reason
  if (reason === undefined) return new CoreError('CORE_ABORTED', 'The operation was aborted')
  if (reason instanceof DOMException && reason.name === 'AbortError') {
    return new CoreError('CORE_ABORTED', 'The operation was aborted', { cause: reason })
  }
  return reason
}

/**
 * Resolves after `ms`, or rejects with the abort reason. The timer holds the process like
 * any awaited work: a script whose only pending work is a retry's backoff must not exit in
 * the middle of it. Background timers are a different thing and are `unref()`'d where made.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal))
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(abortReason(signal as AbortSignal))
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

export interface RaceAbortOptions {
  signal?: AbortSignal | undefined
  /** Reject after this many milliseconds; `undefined`, `0` or `Infinity` sets no time limit. */
  timeoutMs?: number | undefined
  /** The error a timeout rejects with. Default: a CORE_TIMEOUT error naming the limit. */
  onTimeout?: (() => unknown) | undefined
}

/**
 * Settles with `promise`, or rejects first when the signal aborts (with its reason) or the
 * time limit passes. The work itself is not cancelled (pass the signal to it for that); the
 * race only stops waiting. The timer is cleared as soon as anything settles, so it never
 * keeps a finished process alive.
 * @example const value = await raceAbort(loader(), { signal, timeoutMs: 5000 })
 */
export function raceAbort<T>(promise: PromiseLike<T>, options: RaceAbortOptions = {}): Promise<T> {
  const { signal, timeoutMs, onTimeout } = options
  const timed = timeoutMs !== undefined && timeoutMs > 0 && Number.isFinite(timeoutMs)
  if (!signal && !timed) return Promise.resolve(promise)
  if (signal?.aborted) return Promise.reject(abortReason(signal))
  return new Promise<T>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined
    const cleanup = (): void => {
      if (timer !== undefined) clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    }
    const onAbort = (): void => {
      cleanup()
      reject(abortReason(signal as AbortSignal))
    }
    if (timed) {
      timer = setTimeout(() => {
        cleanup()
        reject(
          onTimeout
            ? onTimeout()
            : new CoreError('CORE_TIMEOUT', `The operation did not finish within ${timeoutMs} ms`, {
                details: { timeoutMs },
              }),
        )
      }, timeoutMs)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        cleanup()
        resolve(value)
      },
      (error: unknown) => {
        cleanup()
        reject(error)
      },
    )
  })
}
