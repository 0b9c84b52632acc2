import { CoreError } from './errors.ts'

/** Throws the signal's reason (or a CORE_ABORTED error) when the signal is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortReason(signal)
}

export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new CoreError('CORE_ABORTED', 'The operation was aborted')
}

/** Resolves after `ms`, or rejects with the abort reason; the timer never keeps the process alive. */
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
    timer.unref()
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
