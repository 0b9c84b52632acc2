// The bodies of the facade's batch and maintenance operations (getMany's direct path, setMany,
// deleteMany, preload, entries, purgeExpired, getOrSetMany's batch read): what they do with
// one namespace view and its driver. The facade (cache.ts) runs each inside its traced,
// abortable operation, except the direct path, which is what runs when nothing observes.
import { channels } from './channels.ts'
import type { CacheDriver, DriverEntry, MaybePromise } from './driver.ts'
import { ttlMs } from './ttl.ts'
import type { CacheEntry, EntriesOptions, SetManyEntry, SetOptions } from './types.ts'
import {
  answerMany,
  checkKey,
  codecOf,
  partialBatch,
  readMany,
  toEntry,
  uniqueKeys,
  unsupported,
  writeMany,
  type View,
} from './view.ts'

/**
 * getMany() when nothing observes it and no signal is given: one reaction on the driver's
 * promise, no traced wrapper. Errors come back wrapped as the traced path wraps them.
 */
export function readManyDirect<T>(
  view: View,
  driver: CacheDriver,
  keys: readonly string[],
): Promise<Array<T | undefined>> {
  const { root, ns } = view
  let unique: readonly string[]
  let pending: MaybePromise<readonly unknown[]>
  try {
    unique = uniqueKeys(view, keys)
    pending = readMany(view, driver, unique)
  } catch (err) {
    return Promise.reject(root.wrap(err, 'getMany', ns) as Error)
  }
  return Promise.resolve(pending).then(
    (stored) => {
      try {
        return answerMany<T>(view, driver, keys, unique, stored, undefined)
      } catch (err) {
        throw root.wrap(err, 'getMany', ns)
      }
    },
    (err: unknown) => {
      throw root.wrap(err, 'getMany', ns)
    },
  )
}

/** Stores many entries, the last one winning for a duplicate key, in one driver batch. */
export async function storeMany<T>(
  view: View,
  d: CacheDriver,
  entries: ReadonlyArray<SetManyEntry<T>>,
  options: Pick<SetOptions, 'ttl'> | undefined,
): Promise<void> {
  const byKey = new Map<string, DriverEntry>()
  const codec = codecOf(view)
  for (const e of entries) {
    checkKey(view, e.key)
    const ttl = ttlMs(e.ttl ?? options?.ttl, view.root.defaultTtlMs)
    byKey.delete(e.key)
    byKey.set(e.key, { key: e.key, value: codec.encode(e.value), ttlMs: ttl })
  }
  await writeMany(view, d, [...byKey.values()])
  view.counters.sets += byKey.size
}

/** Removes many keys (each once) and resolves how many existed. */
export async function removeMany(view: View, d: CacheDriver, keys: readonly string[]): Promise<number> {
  for (const key of keys) checkKey(view, key)
  const unique = [...new Set(keys)]
  if (unique.length === 0) return 0
  let n: number
  if (d.deleteMany) n = await d.deleteMany(view.ns, unique)
  else n = (await Promise.all(unique.map(async (k) => d.delete(view.ns, k)))).filter(Boolean).length
  view.counters.deletes += n
  return n
}

/** Reads `keys` in one batch for getOrSetMany, refusing a driver that answers fewer. */
export async function readBatch(view: View, d: CacheDriver, keys: readonly string[]): Promise<readonly unknown[]> {
  const stored = await readMany(view, d, keys)
  if (stored.length !== keys.length) throw partialBatch(d, stored.length, keys.length)
  return stored
}

/** Copies `keys` from lower tiers into upper ones; resolves how many were found. */
export async function preloadKeys(view: View, d: CacheDriver, keys: readonly string[]): Promise<number> {
  for (const key of keys) checkKey(view, key)
  if (!d.preload) throw unsupported(view, 'preload()')
  const found = keys.length === 0 ? 0 : await d.preload(view.ns, keys)
  if (channels.warm.hasSubscribers)
    channels.warm.publish({ namespace: view.ns, loaded: found, skipped: 0, failed: 0, requested: keys.length })
  return found
}

/** Expired entries the whole store still holds, removed; 0 on a driver whose store expires them itself. */
export async function purgeExpired(view: View, d: CacheDriver): Promise<number> {
  const removed = d.purgeExpired ? await d.purgeExpired() : 0
  view.counters.deletes += removed
  return removed
}

/** Stored entries of the namespace, newest first, from a driver with query support. */
export async function listEntries<T>(view: View, d: CacheDriver, query: EntriesOptions): Promise<Array<CacheEntry<T>>> {
  if (!d.entries || !d.capabilities.query) throw unsupported(view, 'entries()')
  const rows = await d.entries(view.ns, { prefix: query.prefix, updatedSince: query.updatedSince, limit: query.limit })
  return rows.map((r) => toEntry<T>(view, r))
}
