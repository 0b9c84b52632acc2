import { raceAbort, traceNow } from '@beaver-kit/core'
import { channels, type CacheTrace } from './channels.ts'
import type { CacheDriver } from './driver.ts'
import { CacheError } from './errors.ts'
import { LoaderFailure } from './loading.ts'
import { closedError } from './root.ts'
import type { View } from './view.ts'

/** The operations published on their own `beaver:cache:<op>` tracing channel. */
export type TracedOp =
  | 'get'
  | 'set'
  | 'has'
  | 'delete'
  | 'clear'
  | 'getMany'
  | 'setMany'
  | 'deleteMany'
  | 'getOrSet'
  | 'getOrSetMany'
  | 'increment'
  | 'ttl'
  | 'touch'
  | 'pull'
  | 'entries'
  | 'invalidateTags'
  | 'preload'
  | 'ready'
  | 'purgeExpired'

export function checkOpen(view: View): void {
  if (view.closed || view.root.closed) throw closedError()
}

function aborted(op: string, reason: unknown): CacheError {
  const why = reason instanceof Error ? reason.message : String(reason)
  return new CacheError('CACHE_ABORTED', `The cache ${op} was aborted by the caller's signal: ${why}`, {
    cause: reason,
    details: { op },
  })
}

/**
 * Runs an operation on the view's driver (loading it on first use) inside its tracing channel
 * (one property read when nobody listens): store failures become CacheErrors, a loader's own
 * failure reaches the caller unchanged, and a caller's signal stops the wait with CACHE_ABORTED.
 */
export function run<T>(
  view: View,
  op: TracedOp,
  count: number | undefined,
  signal: AbortSignal | undefined,
  fn: (d: CacheDriver, ctx: CacheTrace | undefined) => T | Promise<T>,
): Promise<T> {
  const { root, ns } = view
  const work = async (ctx: CacheTrace | undefined): Promise<T> => {
    checkOpen(view)
    const d = root.driver ?? (await root.load())
    try {
      return await fn(d, ctx)
    } catch (err) {
      if (err instanceof LoaderFailure) throw err.error
      throw root.wrap(err, op, ns)
    }
  }
  const channel = channels[op]
  let promise: Promise<T>
  if (!channel.hasSubscribers) promise = work(undefined)
  else {
    const ctx: CacheTrace = { op, namespace: ns, driver: root.driverName }
    if (count !== undefined) ctx.count = count
    // tracePromise would publish the resolved value as `result`; values are never published.
    let out: T
    promise = channel
      .tracePromise(async () => {
        out = await work(ctx)
      }, ctx)
      .then(() => out)
  }
  if (signal === undefined) return promise
  return raceAbort(promise, { signal }).catch((err: unknown) => {
    throw signal.aborted && err === signal.reason ? aborted(op, err) : err
  })
}

/**
 * Runs a synchronous operation inside its tracing channel (start and end, as `traceSync`
 * publishes them; the result is never published).
 */
export function traceSync<R>(view: View, op: 'get' | 'set', fn: () => R): R {
  const ctx: CacheTrace = { op, namespace: view.ns, driver: view.root.driverName }
  if (op !== 'get') return traceNow(channels[op], ctx, fn)
  return traceNow(channels.get, ctx, (c) => {
    const out = fn()
    c.hit = out !== undefined
    return out
  })
}
