// getOrSet and getOrSetMany: read, and on a miss call the loader once for every concurrent
// caller (in-process flights, plus a cross-process lease where the driver has one), with
// negative caching, a loader timeout, and stale values served within grace where the driver
// keeps them (stale-while-revalidate, soft timeout, loader failure or timeout).
import { isBeaverError, raceAbort, sleep } from '@beaver-kit/core'
import { channels, type CacheTrace } from './channels.ts'
import { MISS, type Codec } from './codec.ts'
import type { CacheDriver, DriverEntry, EntryRead } from './driver.ts'
import { CacheError } from './errors.ts'
import { Flights } from './single-flight.ts'
import { optionalMs, ttlMs } from './ttl.ts'
import type { BatchLoaderResult, GetOrSetOptions, LoaderContext } from './types.ts'
import { readOne, writeMany, writeValue, type View } from './view.ts'

/** Carries a loader's failure through the driver-error wrapping untouched. */
export class LoaderFailure {
  readonly error: unknown
  constructor(error: unknown) {
    this.error = error
  }
}

type Loader<T> = (ctx: LoaderContext) => T | Promise<T>
const SOFT_TIMEOUT: unique symbol = Symbol('soft timeout')

/** A loader's own failure as the caller sees it (the error it threw, not the wrapper). */
export function loaderError(err: unknown): unknown {
  return err instanceof LoaderFailure ? err.error : err
}

function value<T>(codec: Codec, stored: unknown): T {
  const v = codec.decode(stored)
  return (v === MISS ? undefined : v) as T
}

/** The stored form is a value (not missing, not a negative entry). */
function isHit(codec: Codec, stored: unknown): boolean {
  return !codec.absent(stored)
}

/** Writes one loaded value (or a negative entry) as the options say. */
async function write(
  view: View,
  d: CacheDriver,
  key: string,
  loaded: unknown,
  ttl: number | undefined,
  negativeMs: number | undefined,
  options: GetOrSetOptions | undefined,
): Promise<void> {
  const { root, ns } = view
  const codec = root.codec as Codec
  if (loaded === undefined) {
    if (negativeMs === undefined) return
    if (d.setEntry !== undefined && d.capabilities.grace === true)
      await d.setEntry(ns, key, new Uint8Array(0), { ttlMs: negativeMs, graceMs: 0 })
    else await d.set(ns, key, codec.negative(), negativeMs)
    return
  }
  await writeValue(view, d, key, loaded, ttl, options)
}

function negativeTtl(view: View, options: GetOrSetOptions | undefined): number | undefined {
  if (options?.negativeTtl === 0 || options?.negativeTtl === '0') return undefined
  return ttlMs(options?.negativeTtl, view.root.negativeTtlMs, 'negativeTtl')
}

/** Calls the loader once, then writes its result unless it was skipped or came too late. */
async function load<T>(
  view: View,
  d: CacheDriver,
  key: string,
  loader: Loader<T>,
  options: GetOrSetOptions | undefined,
  signal: AbortSignal,
): Promise<T> {
  const { root, ns } = view
  const leased = await lease(view, d, key, options, signal)
  if (leased.value !== undefined) return leased.value.found as T
  try {
    let skip = false
    let ttl = ttlMs(options?.ttl, root.defaultTtlMs)
    const negativeMs = negativeTtl(view, options)
    let result: T
    try {
      result = await loader({
        key,
        signal,
        skip: () => {
          skip = true
        },
        setTtl: (t) => {
          ttl = ttlMs(t, root.defaultTtlMs)
        },
      })
    } catch (err) {
      throw new LoaderFailure(err)
    }
    // A result that came after the loader timeout (or the close) is returned to nobody: not written.
    if (skip || signal.aborted) return result
    try {
      await write(view, d, key, result, ttl, negativeMs, options)
    } catch (err) {
      // The caller still gets the loaded value; the failed write is counted and published.
      if (isBeaverError(err, 'CACHE_UNSUPPORTED')) throw err
      root.wrap(err, 'getOrSet', ns)
    }
    return result
  } finally {
    if (leased.held) await d.releaseLease?.(ns, key).catch(() => undefined)
  }
}

/**
 * The cross-process lease of a cold key, where the driver has one: this process takes it and
 * loads, or waits for the value the holder writes (until the lease would have lapsed).
 */
async function lease(
  view: View,
  d: CacheDriver,
  key: string,
  options: GetOrSetOptions | undefined,
  signal: AbortSignal,
): Promise<{ held: boolean; value?: { found: unknown } }> {
  const { root, ns } = view
  if (d.capabilities.leases !== true || d.acquireLease === undefined || d.getEntry === undefined) return { held: false }
  const leaseMs = optionalMs(options?.lease, root.config.lease, 'lease')
  if (leaseMs <= 0) return { held: false }
  const since = Date.now()
  const written = async (): Promise<{ found: unknown } | undefined> => {
    const e = await d.getEntry!(ns, key)
    return e !== undefined && !e.stale && e.createdAt >= since - 1
      ? { found: value(root.codec as Codec, e.value) }
      : undefined
  }
  for (let round = 1; ; round++) {
    if (await d.acquireLease(ns, key, leaseMs)) {
      if (round === 1) return { held: true }
      // The holder may have written its value and let the lease go since this process last
      // looked: then that value is the answer, and loading again would be a second load.
      const found = await written()
      if (found === undefined) return { held: true }
      await d.releaseLease?.(ns, key).catch(() => undefined)
      return { held: false, value: found }
    }
    // Another process loads it: wait for its value (or for its lease to lapse).
    await sleep(Math.min(200, 10 * round), signal)
    const found = await written()
    if (found !== undefined) return { held: false, value: found }
    if (Date.now() - since > leaseMs) return { held: false }
  }
}

/**
 * The cached value or the loader's, with every concurrent caller of the key sharing one
 * loader call. On a driver that keeps stale entries, a stale value within grace is served
 * while one refresh runs (or after the soft timeout, or when the loader fails or times out).
 */
export async function getOrSet<T>(
  view: View,
  d: CacheDriver,
  key: string,
  loader: Loader<T>,
  options: GetOrSetOptions | undefined,
  trace: CacheTrace | undefined,
): Promise<T> {
  const { root, ns, counters } = view
  const codec = root.codec as Codec
  const slot = Flights.slot(ns, key)
  const timeout = optionalMs(options?.loaderTimeout, root.config.loaderTimeout, 'loaderTimeout')
  const graceful = d.getEntry !== undefined && d.capabilities.grace === true
  if (!graceful) {
    const running = root.flights.join<T>(slot)
    if (running !== undefined) return running
    return root.flights.start(slot, ns, timeout, async (signal) => {
      if (options?.forceFresh !== true) {
        const stored = await readOne(view, d, key)
        if (isHit(codec, stored)) {
          counters.hits++
          if (trace) trace.hit = true
          return value<T>(codec, stored)
        }
      }
      counters.misses++
      if (trace) Object.assign(trace, { hit: false, loaded: true })
      return load(view, d, key, loader, options, signal)
    })
  }
  let stale: EntryRead | undefined
  if (options?.forceFresh !== true) {
    const e = await (d.getEntry as NonNullable<CacheDriver['getEntry']>)(ns, key)
    if (e !== undefined && !e.stale) {
      counters.hits++
      if (trace) trace.hit = true
      return value<T>(codec, e.value)
    }
    stale = e
  }
  counters.misses++
  if (trace) Object.assign(trace, { hit: false, loaded: true })
  const flight =
    root.flights.join<T>(slot) ??
    root.flights.start(slot, ns, timeout, (signal) => load(view, d, key, loader, options, signal))
  if (stale === undefined) return flight
  const previous = stale
  const serveStale = (reason: string, error?: unknown): T => {
    if (channels.grace.hasSubscribers)
      channels.grace.publish({ namespace: ns, reason, ...(error === undefined ? {} : { error: loaderError(error) }) })
    return value<T>(codec, previous.value)
  }
  const why = (error: unknown): string =>
    isBeaverError(error, 'CACHE_LOADER_TIMEOUT') ? 'loaderTimeout' : 'loaderFailed'
  if (options?.staleWhileRevalidate ?? root.config.staleWhileRevalidate) {
    flight.catch((error: unknown) => serveStale(`refresh: ${why(error)}`, error))
    return serveStale('staleWhileRevalidate')
  }
  const softMs = optionalMs(options?.softTimeout, root.config.softTimeout, 'softTimeout')
  try {
    return await raceAbort(flight, { timeoutMs: softMs, onTimeout: () => SOFT_TIMEOUT })
  } catch (error) {
    if (error === SOFT_TIMEOUT) return serveStale('softTimeout')
    return serveStale(why(error), error)
  }
}

/**
 * Batch getOrSet, dataloader style: one batch read for the keys, then ONE loader call with
 * every missing key; found values are written in one batch, keys the loader did not return
 * are negatively cached when a negative TTL applies. Keys already being loaded by a concurrent
 * call are awaited, not loaded twice. Results follow the order of `keys`.
 */
export async function getOrSetMany<T>(
  view: View,
  d: CacheDriver,
  keys: readonly string[],
  loader: (missing: string[], ctx: LoaderContext) => BatchLoaderResult<T> | Promise<BatchLoaderResult<T>>,
  options: GetOrSetOptions | undefined,
  trace: CacheTrace | undefined,
  readMany: (keys: readonly string[]) => Promise<readonly unknown[]>,
): Promise<Array<T | undefined>> {
  const { root, ns, counters } = view
  const codec = root.codec as Codec
  const ttl = ttlMs(options?.ttl, root.defaultTtlMs)
  const negativeMs = negativeTtl(view, options)
  const timeout = optionalMs(options?.loaderTimeout, root.config.loaderTimeout, 'loaderTimeout')
  const results = new Map<string, unknown>()
  const waits: Array<Promise<void>> = []
  const mine: string[] = []
  const settle = new Map<string, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>()
  for (const key of new Set(keys)) {
    const slot = Flights.slot(ns, key)
    const claimed = root.flights.claim(slot)
    if (claimed === undefined) {
      const running = root.flights.join(slot) as Promise<unknown>
      waits.push(running.then((v) => void results.set(key, v)))
      continue
    }
    settle.set(key, claimed)
    mine.push(key)
  }
  try {
    let missing = mine
    if (mine.length > 0 && options?.forceFresh !== true) {
      const stored = await readMany(mine)
      missing = []
      for (let i = 0; i < mine.length; i++) {
        const key = mine[i] as string
        if (!isHit(codec, stored[i])) {
          missing.push(key)
          continue
        }
        const v = value(codec, stored[i])
        results.set(key, v)
        settle.get(key)?.resolve(v)
      }
      counters.hits += mine.length - missing.length
    }
    counters.misses += missing.length
    if (trace) Object.assign(trace, { hits: mine.length - missing.length, loaded: missing.length > 0 })
    if (missing.length > 0) {
      let skip = false
      let chosenTtl = ttl
      const timeoutSignal = new AbortController()
      const signal = AbortSignal.any([root.lifetime.signal, timeoutSignal.signal])
      const loaded = await raceAbort(
        (async () => {
          try {
            return await loader([...missing], {
              key: missing[0] as string,
              signal,
              skip: () => {
                skip = true
              },
              setTtl: (t) => {
                chosenTtl = ttlMs(t, root.defaultTtlMs)
              },
            })
          } catch (err) {
            throw new LoaderFailure(err)
          }
        })(),
        {
          signal,
          timeoutMs: timeout,
          onTimeout: () => {
            const error = new CacheError(
              'CACHE_LOADER_TIMEOUT',
              `A getOrSetMany loader did not finish within ${timeout} ms, so its callers stopped waiting and its keys are free to load again; make the loader faster or raise BEAVER_CACHE_LOADER_TIMEOUT.`,
              { details: { namespace: ns, loaderTimeoutMs: timeout, keys: missing.length } },
            )
            timeoutSignal.abort(error)
            return error
          },
        },
      )
      const found = readBatchResult(loaded, missing)
      const writes: DriverEntry[] = []
      for (const key of missing) {
        const v = found.get(key)
        results.set(key, v)
        settle.get(key)?.resolve(v)
        if (skip) continue
        if (v !== undefined) writes.push({ key, value: codec.encode(v), ttlMs: chosenTtl })
        else if (negativeMs !== undefined) writes.push({ key, value: codec.negative(), ttlMs: negativeMs })
      }
      try {
        await writeMany(view, d, writes)
        counters.sets += writes.length
      } catch (err) {
        root.wrap(err, 'getOrSetMany', ns)
      }
    }
  } catch (err) {
    for (const s of settle.values()) s.reject(err)
    throw err
  }
  await Promise.all(waits)
  return keys.map((k) => results.get(k) as T | undefined)
}

function readBatchResult<T>(loaded: BatchLoaderResult<T>, keys: readonly string[]): Map<string, T | undefined> {
  const out = new Map<string, T | undefined>()
  if (loaded instanceof Map) {
    for (const k of keys) out.set(k, loaded.get(k))
  } else if (Array.isArray(loaded)) {
    if (loaded.length !== keys.length) {
      throw new CacheError(
        'CACHE_OPTIONS_INVALID',
        `The getOrSetMany loader returned ${loaded.length} values for ${keys.length} keys; return one per key (undefined when not found), or a Map.`,
      )
    }
    keys.forEach((k, i) => out.set(k, loaded[i] as T | undefined))
  } else if (loaded !== null && typeof loaded === 'object') {
    const record = loaded as Readonly<Record<string, T>>
    for (const k of keys) out.set(k, Object.hasOwn(record, k) ? record[k] : undefined)
  } else {
    throw new CacheError('CACHE_OPTIONS_INVALID', 'The getOrSetMany loader must return a Map, an object or an array.')
  }
  return out
}
