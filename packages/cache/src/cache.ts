import type { Instance } from '@beaver-kit/core'
import type { InstanceDescription } from '@beaver-kit/config'
import { channels } from './channels.ts'
import { MISS } from './codec.ts'
import type { CacheConfig } from './config.ts'
import type { StoredValue } from './driver.ts'
import { CacheError } from './errors.ts'
import { nestedNamespace } from './keys.ts'
import { getOrSet, getOrSetMany } from './loading.ts'
import { run, traceSync } from './operation.ts'
import { CacheRoot } from './root.ts'
import { ttlMs } from './ttl.ts'
import type {
  BatchLoaderResult,
  CacheCounters,
  CacheEntry,
  CacheOptions,
  CacheStats,
  Duration,
  EntriesOptions,
  GetOrSetOptions,
  LoaderContext,
  OperationOptions,
  SetManyEntry,
  SetOptions,
  WarmOptions,
  WarmResult,
} from './types.ts'
import {
  answer,
  answerMany,
  checkKey,
  codecOf,
  readMany,
  readOne,
  uniqueKeys,
  unsupported,
  writeValue,
  type View,
} from './view.ts'
import { readSync, writeSync } from './sync.ts'
import { warm } from './warm.ts'
import { fastGet, fastSet } from './fast-path.ts'
import { listEntries, preloadKeys, purgeExpired, readBatch, readManyDirect, removeMany, storeMany } from './batch.ts'

/**
 * One cache API over every driver: typed values through a serializer, namespaces on one
 * connection, TTLs as durations, batches, stampede-protected `getOrSet` with a loader timeout,
 * negative caching, and (where the driver has them: tiered) grace with stale-while-revalidate,
 * tags and a cross-process lease; stats and `beaver:cache:*` channels. Built by `createCache`.
 */
export class Cache implements Instance<InstanceDescription> {
  readonly #root: CacheRoot
  readonly #ns: string
  readonly #counters: CacheCounters
  readonly #view: View

  /** @internal use createCache() */
  constructor(root: CacheRoot, namespace: string) {
    this.#root = root
    this.#ns = namespace
    this.#counters = root.count(namespace)
    this.#view = { root, ns: namespace, counters: this.#counters, closed: false }
  }

  /** The full namespace of this view (`'cache:users'`). */
  get namespaceName(): string {
    return this.#ns
  }

  /** The driver's name (`memory`, `redis`, `tiered`, ...). */
  get driverName(): string {
    return this.#root.driverName
  }

  /** The resolved settings (secrets included: do not log them; log `describe()`). */
  get config(): CacheConfig {
    return this.#root.config
  }

  /**
   * A view whose keys live under `<namespace>:<name>`, sharing this cache's connection; its
   * `clear()` removes only its own keys (and those of namespaces nested in it). `a:b` is `b`
   * nested in `a`.
   * @example const users = cache().namespace('users'); await users.set('42', user)
   */
  namespace(name: string): Cache {
    return new Cache(this.#root, nestedNamespace(this.#ns, name))
  }

  /** Every setting with where it came from (secrets masked), and the live state. */
  describe(): InstanceDescription {
    return this.#root.describe(this.#ns)
  }

  #run<T>(
    op: Parameters<typeof run>[1],
    count: number | undefined,
    signal: AbortSignal | undefined,
    fn: Parameters<typeof run<T>>[4],
  ): Promise<T> {
    return run(this.#view, op, count, signal, fn)
  }

  // ---- reads ---------------------------------------------------------------------------

  /**
   * The value of `key`, or undefined when missing, expired or negatively cached. On the
   * memory driver (and a tiered cache's memory tier) a hit is answered without a promise of
   * the driver.
   */
  get<T = unknown>(key: string, options?: OperationOptions): Promise<T | undefined> {
    const fast = fastGet<T>(this.#view, key, options)
    if (fast !== undefined) return fast
    return this.#run('get', undefined, options?.signal, async (d, ctx) => {
      checkKey(this.#view, key)
      const value = answer<T>(this.#view, await readOne(this.#view, d, key))
      if (ctx) ctx.hit = value !== undefined
      return value
    })
  }

  /**
   * Synchronous `get` for drivers that answer synchronously (memory): no promise, no
   * microtask. Throws `CACHE_UNSUPPORTED` on other drivers.
   */
  getSync<T = unknown>(key: string): T | undefined {
    if (channels.get.hasSubscribers) return traceSync(this.#view, 'get', () => readSync<T>(this.#view, key))
    return readSync<T>(this.#view, key)
  }

  /** True when `key` holds a value (a negative entry counts as absent). */
  has(key: string, options?: OperationOptions): Promise<boolean> {
    return this.#run('has', undefined, options?.signal, async (d) => {
      checkKey(this.#view, key)
      if (d.has) return d.has(this.#ns, key)
      const stored = await d.get(this.#ns, key)
      return !codecOf(this.#view).absent(stored) && codecOf(this.#view).decode(stored) !== MISS
    })
  }

  /** Remaining time to live in ms, `Infinity` when it never expires, undefined when missing. */
  ttl(key: string, options?: OperationOptions): Promise<number | undefined> {
    return this.#run('ttl', undefined, options?.signal, (d) => {
      checkKey(this.#view, key)
      if (!d.ttl) throw unsupported(this.#view, 'ttl()')
      return d.ttl(this.#ns, key)
    })
  }

  // ---- writes --------------------------------------------------------------------------

  /**
   * Stores `value` for `ttl` (default `defaultTtl`); with `tags` or `grace` (tiered driver),
   * the entry carries them in every tier.
   */
  set<T = unknown>(key: string, value: T, options?: SetOptions): Promise<void> {
    const fast = fastSet(this.#view, key, value, options)
    if (fast !== undefined) return fast
    const root = this.#root
    return this.#run('set', undefined, options?.signal, async (d) => {
      checkKey(this.#view, key)
      const ttl = ttlMs(options?.ttl, root.defaultTtlMs)
      await writeValue(this.#view, d, key, value, ttl, options)
    })
  }

  /** Synchronous `set` for drivers that answer synchronously (memory). */
  setSync<T = unknown>(key: string, value: T, options?: Pick<SetOptions, 'ttl'>): void {
    if (channels.set.hasSubscribers) traceSync(this.#view, 'set', () => writeSync(this.#view, key, value, options))
    else writeSync(this.#view, key, value, options)
  }

  /** Removes `key`; resolves whether it existed. */
  delete(key: string, options?: OperationOptions): Promise<boolean> {
    return this.#run('delete', undefined, options?.signal, async (d) => {
      checkKey(this.#view, key)
      const existed = await d.delete(this.#ns, key)
      if (existed) this.#counters.deletes++
      return existed
    })
  }

  /** Reads and removes `key` (atomically where the driver can: Redis GETDEL, memory, SQL in a transaction). */
  pull<T = unknown>(key: string, options?: OperationOptions): Promise<T | undefined> {
    return this.#run('pull', undefined, options?.signal, async (d, ctx) => {
      checkKey(this.#view, key)
      const codec = codecOf(this.#view)
      let stored: unknown
      if (d.pull) stored = await d.pull(this.#ns, key)
      else {
        stored = await d.get(this.#ns, key)
        if (!codec.absent(stored)) await d.delete(this.#ns, key)
      }
      if (!codec.absent(stored)) this.#counters.deletes++
      const value = answer<T>(this.#view, stored)
      if (ctx) ctx.hit = value !== undefined
      return value
    })
  }

  /** Gives an existing entry a new TTL (default `defaultTtl`); resolves whether it existed. */
  touch(key: string, ttl?: Duration, options?: OperationOptions): Promise<boolean> {
    return this.#run('touch', undefined, options?.signal, (d) => {
      checkKey(this.#view, key)
      const ms = ttlMs(ttl, this.#root.defaultTtlMs)
      if (d.touch) return d.touch(this.#ns, key, ms)
      // A driver without its own touch: read and write back (not atomic), like pull() does.
      return Promise.resolve(d.get(this.#ns, key)).then(async (stored) => {
        if (codecOf(this.#view).absent(stored)) return false
        await d.set(this.#ns, key, stored as StoredValue, ms)
        return true
      })
    })
  }

  /**
   * Atomically adds `by` (default 1) to an integer entry, creating it at `by`; `ttl` applies
   * only when the entry is created. Counters are stored as decimal text, which any reader
   * understands. Throws `CACHE_UNSUPPORTED` where the driver cannot do it atomically.
   */
  increment(key: string, by = 1, options?: Pick<SetOptions, 'ttl' | 'signal'>): Promise<number> {
    return this.#run('increment', undefined, options?.signal, (d) => {
      checkKey(this.#view, key)
      if (!Number.isSafeInteger(by))
        throw new CacheError('CACHE_NOT_A_NUMBER', `increment() needs a safe integer step, got ${String(by)}.`)
      const ttl = ttlMs(options?.ttl, this.#root.defaultTtlMs)
      if (!d.increment || !d.capabilities.atomicIncrement) throw unsupported(this.#view, 'increment()')
      return d.increment(this.#ns, key, by, ttl)
    })
  }

  /** `increment(key, -by)`. */
  decrement(key: string, by = 1, options?: Pick<SetOptions, 'ttl' | 'signal'>): Promise<number> {
    return this.increment(key, -by, options)
  }

  /** Removes every entry of this namespace (and of namespaces nested in it), and nothing else. */
  clear(options?: OperationOptions): Promise<void> {
    return this.#run('clear', undefined, options?.signal, async (d) => {
      await d.clear(this.#ns)
    })
  }

  /**
   * Invalidates every entry of this namespace carrying one of `tags`, in every tier and (over
   * the bus) every process: `hard` (default) makes them misses; `soft` makes them stale, so
   * grace can still serve them while one refresh runs. Needs the `tags` capability (tiered).
   */
  invalidateTags(
    tags: readonly string[],
    options: OperationOptions & { mode?: 'soft' | 'hard' | undefined } = {},
  ): Promise<void> {
    return this.#run('invalidateTags', tags.length, options.signal, async (d) => {
      if (!d.invalidateTags || d.capabilities.tags !== true) throw unsupported(this.#view, 'invalidateTags()')
      await d.invalidateTags(this.#ns, tags, options.mode ?? 'hard')
    })
  }

  // ---- batches -------------------------------------------------------------------------

  /**
   * Values in the order of `keys` (undefined for each missing one). Duplicate keys are read
   * once and answered at each position. One round trip on drivers with native batches
   * (Redis MGET, grouped by node on a Cluster; one SELECT on databases).
   */
  getMany<T = unknown>(keys: readonly string[], options?: OperationOptions): Promise<Array<T | undefined>> {
    const root = this.#root
    const driver = root.driver
    if (
      driver !== undefined &&
      options?.signal === undefined &&
      !channels.getMany.hasSubscribers &&
      !this.#view.closed &&
      !root.closed
    ) {
      // Fast path, like get(): one reaction on the driver's promise, no wrapper coroutines.
      return readManyDirect<T>(this.#view, driver, keys)
    }
    return this.#run('getMany', keys.length, options?.signal, async (d, ctx) => {
      const unique = uniqueKeys(this.#view, keys)
      return answerMany<T>(this.#view, d, keys, unique, await readMany(this.#view, d, unique), ctx)
    })
  }

  /** Stores many entries (last one wins for a duplicate key); one round trip where the driver batches. */
  setMany<T = unknown>(
    entries: ReadonlyArray<SetManyEntry<T>>,
    options?: Pick<SetOptions, 'ttl' | 'signal'>,
  ): Promise<void> {
    return this.#run('setMany', entries.length, options?.signal, (d) => storeMany(this.#view, d, entries, options))
  }

  /** Removes many keys; resolves how many existed. */
  deleteMany(keys: readonly string[], options?: OperationOptions): Promise<number> {
    return this.#run('deleteMany', keys.length, options?.signal, (d) => removeMany(this.#view, d, keys))
  }

  // ---- getOrSet ------------------------------------------------------------------------

  /**
   * The cached value, or the loader's result cached for `ttl`. Concurrent callers of one key
   * share a single loader call (and, with a shared tier, the processes of a cluster share one
   * through a lease). A loader result of `undefined` means "not found": remembered for
   * `negativeTtl` when that is set; `ctx.skip()` returns a value without caching it. A loader
   * past `loaderTimeout` rejects its callers with CACHE_LOADER_TIMEOUT and frees the key. On a
   * driver with grace (tiered), a stale value is served while one refresh runs.
   * @example
   * const user = await cache().getOrSet(`user:${id}`, () => db.one(sql`select ...`), { ttl: '10m', negativeTtl: '30s' })
   */
  getOrSet<T>(key: string, loader: (ctx: LoaderContext) => T | Promise<T>, options?: GetOrSetOptions): Promise<T> {
    const root = this.#root
    const d = root.syncDriver
    // Memory hit: answered synchronously, no flight bookkeeping.
    if (
      d !== undefined &&
      options?.forceFresh !== true &&
      !channels.getOrSet.hasSubscribers &&
      !this.#view.closed &&
      typeof key === 'string' &&
      key.length > 0 &&
      key.length <= root.maxKeyLength
    ) {
      const stored = d.get(this.#ns, key)
      if (stored !== undefined) {
        try {
          const value = codecOf(this.#view).decode(stored)
          this.#counters.hits++
          return Promise.resolve((value === MISS ? undefined : value) as T)
        } catch (err) {
          return Promise.reject(err as Error)
        }
      }
    }
    return this.#run('getOrSet', undefined, options?.signal, (driver, ctx) => {
      checkKey(this.#view, key)
      return getOrSet(this.#view, driver, key, loader, options, ctx)
    })
  }

  /**
   * Batch `getOrSet`, dataloader style: one batch read for all keys, then ONE loader call
   * with every missing key; found values are written in one batch, keys the loader did not
   * return are negatively cached when `negativeTtl` is set. Results follow the order of `keys`.
   * @example
   * const users = await cache().getOrSetMany(ids, async (missing) => new Map((await loadUsers(missing)).map((u) => [u.id, u])))
   */
  getOrSetMany<T>(
    keys: readonly string[],
    loader: (missing: string[], ctx: LoaderContext) => BatchLoaderResult<T> | Promise<BatchLoaderResult<T>>,
    options?: GetOrSetOptions,
  ): Promise<Array<T | undefined>> {
    return this.#run('getOrSetMany', keys.length, options?.signal, (d, ctx) => {
      for (const key of keys) checkKey(this.#view, key)
      return getOrSetMany(this.#view, d, keys, loader, options, ctx, (ks) => readBatch(this.#view, d, ks))
    })
  }

  /**
   * Loads every key that is not cached yet (`keys` may be an async iterator, e.g. a database
   * cursor), at most `concurrency` at a time, publishing progress on `beaver:cache:warm`.
   * @example await cache().warm(topProductIds, (id) => loadProduct(id), { concurrency: 8, ttl: '1h' })
   */
  warm<T>(
    keys: Iterable<string> | AsyncIterable<string>,
    loader: (key: string) => T | Promise<T>,
    options: WarmOptions = {},
  ): Promise<WarmResult> {
    return warm(this, keys, loader, options)
  }

  /**
   * Copies `keys` from lower tiers into the upper ones (start-up preloading, through the tier
   * strategy) and resolves how many were found; progress on `beaver:cache:warm`. Tiered only.
   */
  preload(keys: readonly string[], options?: OperationOptions): Promise<number> {
    return this.#run('preload', keys.length, options?.signal, (d) => preloadKeys(this.#view, d, keys))
  }

  // ---- queries, stats, lifecycle -------------------------------------------------------

  /**
   * Audit-style read of stored entries of this namespace (drivers with query support: the
   * database driver, or a tiered cache over it): `{ prefix, updatedSince, limit }`, newest first.
   */
  entries<T = unknown>(query: EntriesOptions = {}): Promise<Array<CacheEntry<T>>> {
    return this.#run('entries', undefined, query.signal, (d) => listEntries<T>(this.#view, d, query))
  }

  /**
   * Removes every expired entry the store still holds (all namespaces: memory and database keep
   * them until a sweep), e.g. from a scheduled job; resolves how many. 0 where the store drops
   * them itself (Redis, KV, DynamoDB).
   */
  purgeExpired(options?: OperationOptions): Promise<number> {
    return this.#run('purgeExpired', undefined, options?.signal, (d) => purgeExpired(this.#view, d))
  }

  /** Hits, misses, sets, deletes, evictions and errors (totals and per namespace), and the driver's own counters. */
  stats(): CacheStats {
    return this.#root.stats()
  }

  /** Loads the driver and does one round trip to its store, so start-up fails fast when wanted. */
  ready(options?: OperationOptions): Promise<void> {
    return this.#run('ready', undefined, options?.signal, async (d) => {
      await d.ping?.()
    })
  }

  /**
   * Closes the cache: the root closes its driver (a client passed in stays open) and aborts
   * running loaders' signals; a namespace view only stops accepting calls. Idempotent.
   */
  async close(): Promise<void> {
    this.#view.closed = true
    if (this.#root.rootView === this) await this.#root.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

/**
 * Builds a cache from explicit options over the environment (`BEAVER_CACHE_*`) over
 * defaults, resolved once. Synchronous and without I/O: the driver connects on first use
 * (`ready()` to fail fast). Invalid configuration throws one ConfigError at once.
 * @example
 * const cache = createCache()                                         // memory, from env
 * const shared = createCache({ driver: 'redis', redis: { url: 'redis://cache:6379' }, namespace: 'links' })
 * const tiered = createCache({ driver: 'tiered', tiered: { tiers: ['memory', 'redis'], grace: '10m' } })
 * const user = await shared.getOrSet(`user:${id}`, () => loadUser(id), { ttl: '10m' })
 */
export function createCache(options: CacheOptions = {}): Cache {
  const root = new CacheRoot(options)
  const view = new Cache(root, root.config.namespace)
  root.rootView = view
  return view
}
