// What a namespace view does with stored values: key checks, decoding and counting answers,
// batch reads and writes. Shared by the facade's methods and the loading functions.
import { MISS, type Codec } from './codec.ts'
import type { CacheDriver, DriverEntry, DriverRow, HotEntry, MaybePromise } from './driver.ts'
import { CacheError } from './errors.ts'
import { keyError } from './keys.ts'
import { utf8 } from './serializers.ts'
import { ttlMs } from './ttl.ts'
import type { CacheRoot } from './root.ts'
import type { CacheTrace } from './channels.ts'
import type { CacheCounters, CacheEntry, SetOptions } from './types.ts'

/** One namespace of a cache: its root (driver, codec, settings), its name and counters. */
export interface View {
  readonly root: CacheRoot
  readonly ns: string
  readonly counters: CacheCounters
  /** This view was closed (the root may still be open for other views). */
  closed: boolean
}

export function codecOf(view: View): Codec {
  return view.root.codec as Codec
}

export function checkKey(view: View, key: string): void {
  const max = view.root.maxKeyLength
  if (typeof key !== 'string' || key.length === 0 || key.length > max) throw keyError(key, max)
}

/** CACHE_UNSUPPORTED naming the driver and what to use instead. */
export function unsupported(view: View, what: string): CacheError {
  const driver = view.root.driverName
  return new CacheError(
    'CACHE_UNSUPPORTED',
    `The ${driver} cache driver does not support ${what}; pick a driver that does (tags, grace and preload: BEAVER_CACHE_DRIVER=tiered; see the drivers table in the README).`,
    { details: { driver, op: what } },
  )
}

/** A stored form as the caller's value (undefined for missing or negative), counted as a hit or a miss. */
export function answer<T>(view: View, stored: unknown): T | undefined {
  const codec = codecOf(view)
  const value = codec.absent(stored) ? MISS : codec.decode(stored)
  if (value === MISS) {
    view.counters.misses++
    return undefined
  }
  view.counters.hits++
  return value as T
}

/**
 * A hot tier's entry as the caller's value, counted: decoded once and kept on the entry when
 * the driver shares decoded values (every hit then gets the same object), else decoded per hit.
 */
export function answerHot<T>(view: View, hot: HotEntry): T | undefined {
  const codec = codecOf(view)
  let value: unknown
  if (hot.decodedBy === codec) value = hot.value
  else if (view.root.sharedHot) {
    value = codec.decode(codec.textReads ? utf8(hot.payload) : hot.payload)
    hot.value = value
    hot.decodedBy = codec
  } else value = codec.decode(codec.textReads ? (hot.text ??= utf8(hot.payload)) : hot.payload)
  if (value === MISS) {
    view.counters.misses++
    return undefined
  }
  view.counters.hits++
  return value as T
}

/** One stored value, as text when the serializer reads text and the driver can answer it. */
export function readOne(view: View, d: CacheDriver, key: string): unknown {
  return codecOf(view).textReads && d.getText !== undefined ? d.getText(view.ns, key) : d.get(view.ns, key)
}

/**
 * Stores one value for `ttl` ms (undefined = never expires) and counts it; with tags or grace
 * through the driver's `setEntry`, refused with CACHE_UNSUPPORTED where it has none.
 */
export async function writeValue(
  view: View,
  d: CacheDriver,
  key: string,
  value: unknown,
  ttl: number | undefined,
  options: Pick<SetOptions, 'tags' | 'grace'> | undefined,
): Promise<void> {
  const codec = codecOf(view)
  if (options?.tags === undefined && options?.grace === undefined) {
    await d.set(view.ns, key, codec.encode(value), ttl)
  } else {
    const wants = options.tags !== undefined ? 'tags' : 'grace'
    if (d.setEntry === undefined || d.capabilities[wants] !== true) throw unsupported(view, `set() with ${wants}`)
    const graceMs = options.grace === undefined ? undefined : (ttlMs(options.grace, undefined, 'grace') ?? Infinity)
    await d.setEntry(view.ns, key, codec.bytes(value), { ttlMs: ttl, graceMs, tags: options.tags })
  }
  view.counters.sets++
}

export function partialBatch(d: CacheDriver, got: number, wanted: number): CacheError {
  return new CacheError(
    'CACHE_DRIVER',
    `The ${d.name} driver answered ${got} values for ${wanted} keys; refusing a partial batch.`,
  )
}

/** Validates every key; the keys without duplicates (the same array when there are none). */
export function uniqueKeys(view: View, keys: readonly string[]): readonly string[] {
  for (let i = 0; i < keys.length; i++) checkKey(view, keys[i] as string)
  const set = new Set(keys)
  return set.size === keys.length ? keys : [...set]
}

/** One batch read (text when the serializer reads text); the driver's own promise, or an array. */
export function readMany(view: View, d: CacheDriver, keys: readonly string[]): MaybePromise<readonly unknown[]> {
  if (keys.length === 0) return []
  if (codecOf(view).textReads && d.getManyText !== undefined) return d.getManyText(view.ns, keys)
  if (d.getMany) return d.getMany(view.ns, keys)
  return Promise.all(keys.map((k) => d.get(view.ns, k)))
}

/** Decodes a batch read of `unique` and answers it in the order of `keys`, counting hits and misses. */
export function answerMany<T>(
  view: View,
  d: CacheDriver,
  keys: readonly string[],
  unique: readonly string[],
  stored: readonly unknown[],
  ctx: CacheTrace | undefined,
): Array<T | undefined> {
  if (stored.length !== unique.length) throw partialBatch(d, stored.length, unique.length)
  const codec = codecOf(view)
  let hits = 0
  // Without duplicates (the usual case) the answer is built in place, without a map.
  const values = new Array<T | undefined>(unique.length)
  for (let i = 0; i < unique.length; i++) {
    const s = stored[i]
    const v = codec.absent(s) ? MISS : codec.decode(s)
    if (v !== MISS) {
      hits++
      values[i] = v as T
    }
  }
  const c = view.counters
  c.hits += hits
  c.misses += unique.length - hits
  if (ctx) ctx.hits = hits
  if (unique === keys) return values
  const byKey = new Map<string, T | undefined>()
  for (let i = 0; i < unique.length; i++) byKey.set(unique[i] as string, values[i])
  return keys.map((k) => byKey.get(k))
}

/** Stores entries, one round trip where the driver batches. */
export async function writeMany(view: View, d: CacheDriver, list: readonly DriverEntry[]): Promise<void> {
  if (list.length === 0) return
  if (d.setMany) await d.setMany(view.ns, list)
  else await Promise.all(list.map(async (e) => d.set(view.ns, e.key, e.value, e.ttlMs)))
}

/** One row of a driver's entries() as the caller's entry. */
export function toEntry<T>(view: View, r: DriverRow): CacheEntry<T> {
  const v = codecOf(view).decode(r.value)
  return {
    namespace: r.namespace,
    key: r.key,
    value: (v === MISS ? undefined : v) as T | undefined,
    expiresAt: r.expiresAt === undefined ? undefined : new Date(r.expiresAt),
    createdAt: new Date(r.createdAt),
    updatedAt: new Date(r.updatedAt),
  }
}
