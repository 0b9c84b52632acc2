import { channels } from './channels.ts'
import type { CacheDriver } from './driver.ts'
import { keyError } from './keys.ts'
import { traceSync } from './operation.ts'
import { readSync, writeSync } from './sync.ts'
import { ttlMs } from './ttl.ts'
import type { OperationOptions, SetOptions } from './types.ts'
import { answer, answerHot, checkKey, codecOf, readOne, type View } from './view.ts'

// get() and set() without the operation wrapper, for the common call: a synchronous driver
// answers without a promise of its own; a loaded asynchronous one with one reaction on the
// driver's promise (no wrapper coroutines). Each answers undefined when the general path
// (loading the driver, a caller's signal, tags or grace, a traced call, a closed cache) must run.

const RESOLVED_UNDEFINED: Promise<undefined> = Promise.resolve(undefined)

/** The loaded driver, when nothing asks for the general path: no signal, nobody tracing the operation, the cache open. */
function loadedDriver(
  view: View,
  channel: { readonly hasSubscribers: boolean },
  options: OperationOptions | undefined,
): CacheDriver | undefined {
  const driver = view.root.driver
  return driver !== undefined &&
    options?.signal === undefined &&
    !channel.hasSubscribers &&
    !view.closed &&
    !view.root.closed
    ? driver
    : undefined
}

/** `Cache.get` for a synchronous or a loaded driver; undefined when the general path must run. */
export function fastGet<T>(
  view: View,
  key: string,
  options: OperationOptions | undefined,
): Promise<T | undefined> | undefined {
  const root = view.root
  if (root.syncDriver !== undefined && !view.closed) {
    // Observed or not, a synchronous driver answers without a promise of its own: an
    // observer sees start and end (as traceSync publishes them), not a promise's events.
    try {
      return Promise.resolve(
        channels.get.hasSubscribers ? traceSync(view, 'get', () => readSync<T>(view, key)) : readSync<T>(view, key),
      )
    } catch (err) {
      return Promise.reject(err as Error)
    }
  }
  const driver = loadedDriver(view, channels.get, options)
  if (driver !== undefined) {
    if (typeof key !== 'string' || key.length === 0 || key.length > root.maxKeyLength)
      return Promise.reject(keyError(key, root.maxKeyLength))
    let pending: unknown
    try {
      if (root.peekDriver !== undefined) {
        // A hot tier's fresh entry: decoded here (or once, when shared), no promise of the driver.
        const hot = root.peekDriver.peek?.(view.ns, key)
        if (hot !== undefined) return Promise.resolve(answerHot<T>(view, hot))
      }
      pending = readOne(view, driver, key)
    } catch (err) {
      return Promise.reject(root.wrap(err, 'get', view.ns) as Error)
    }
    // Async fast path: one reaction on the driver's promise, no wrapper coroutines.
    return Promise.resolve(pending).then(
      (stored) => answer<T>(view, stored),
      (err: unknown) => {
        throw root.wrap(err, 'get', view.ns)
      },
    )
  }
  return undefined
}

/** `Cache.set` for a synchronous or a loaded driver; undefined when the general path must run. */
export function fastSet(
  view: View,
  key: string,
  value: unknown,
  options: SetOptions | undefined,
): Promise<void> | undefined {
  const root = view.root
  if (
    root.syncDriver !== undefined &&
    !view.closed &&
    options?.signal === undefined &&
    options?.tags === undefined &&
    options?.grace === undefined
  ) {
    try {
      if (channels.set.hasSubscribers) traceSync(view, 'set', () => writeSync(view, key, value, options))
      else writeSync(view, key, value, options)
      return RESOLVED_UNDEFINED
    } catch (err) {
      return Promise.reject(err as Error)
    }
  }
  const driver =
    options?.tags === undefined && options?.grace === undefined ? loadedDriver(view, channels.set, options) : undefined
  if (driver !== undefined) {
    // Async fast path, as get's: one reaction on the driver's promise, no wrapper coroutines.
    let pending: unknown
    try {
      checkKey(view, key)
      pending = driver.set(view.ns, key, codecOf(view).encode(value), ttlMs(options?.ttl, root.defaultTtlMs))
    } catch (err) {
      return Promise.reject(root.wrap(err, 'set', view.ns) as Error)
    }
    return Promise.resolve(pending).then(
      () => {
        view.counters.sets++
      },
      (err: unknown) => {
        throw root.wrap(err, 'set', view.ns)
      },
    )
  }
  return undefined
}
