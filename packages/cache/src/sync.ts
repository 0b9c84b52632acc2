import { NEGATIVE } from './driver.ts'
import { CacheError } from './errors.ts'
import { keyError } from './keys.ts'
import { closedError } from './root.ts'
import { ttlMs } from './ttl.ts'
import type { SetOptions } from './types.ts'
import { answer, checkKey, codecOf, type View } from './view.ts'

// The synchronous path of drivers that answer without a promise (memory): getSync/setSync,
// and the hits get/set answer at once. No microtask, no tracing unless someone listens.

// Two traps of V8's optimizing compiler on this path (a hit is ~40 ns, so each was a few %):
// - An imported binding is read through its module cell with no type, so `stored === NEGATIVE`
//   with an object on the left compiled to a call of the generic StrictEqual builtin on every
//   hit. A module-local const is folded to the symbol itself: one pointer comparison.
// - V8 does not track boolean field types, so `if (view.closed)` tests the value against every
//   falsy kind (false, '', null, undefined, 0, NaN, 0n); `=== true` is one comparison.
const negative = NEGATIVE

function syncUnsupported(view: View, op: string): CacheError {
  if (view.closed || view.root.closed) return closedError()
  const { driverName, driver } = view.root
  return new CacheError(
    'CACHE_UNSUPPORTED',
    `${op}() needs a driver that answers synchronously (memory); the ${driverName} driver does not${driver ? '' : ', or it is not loaded yet'}. Use the async method.`,
    { details: { driver: driverName, op } },
  )
}

/** The value of `key` from a synchronous driver, counted; throws CACHE_UNSUPPORTED on others. */
export function readSync<T>(view: View, key: string): T | undefined {
  const root = view.root
  const d = root.syncDriver
  if (d === undefined || view.closed === true) throw syncUnsupported(view, 'getSync')
  if (typeof key !== 'string' || key.length === 0 || key.length > root.maxKeyLength)
    throw keyError(key, root.maxKeyLength)
  const stored = d.get(view.ns, key)
  // By reference (the memory driver's default), a stored value is the caller's value.
  if (stored === undefined || stored === negative) {
    view.counters.misses++
    return undefined
  }
  if (root.byReference === true) {
    view.counters.hits++
    return stored as T
  }
  return answer<T>(view, stored)
}

/** Stores `value` in a synchronous driver; throws CACHE_UNSUPPORTED on others. */
export function writeSync(view: View, key: string, value: unknown, options: Pick<SetOptions, 'ttl'> | undefined): void {
  const root = view.root
  const d = root.syncDriver
  if (d === undefined || view.closed) throw syncUnsupported(view, 'setSync')
  checkKey(view, key)
  const ttl = options?.ttl === undefined ? root.defaultTtlMs : ttlMs(options.ttl, root.defaultTtlMs)
  try {
    // A sync driver returns nothing to await (capabilities.sync).
    void d.set(view.ns, key, codecOf(view).encode(value), ttl)
  } catch (err) {
    throw root.wrap(err, 'set', view.ns)
  }
  view.counters.sets++
}
