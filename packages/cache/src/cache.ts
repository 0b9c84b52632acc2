import { eventChannel, isBeaverError, isNetworkErrorCode, tracingChannel } from '@beaver-kit/core'
import { parseDuration } from '@beaver-kit/config'
import { cacheSchema, type CacheConfig, type CacheConfigOptions } from './config.ts'
import { resolveCacheSection, type CacheEnv } from './env.ts'
import { CacheError } from './errors.ts'
import {
  NEGATIVE,
  type CacheDriver,
  type CacheDriverDefinition,
  type DriverContext,
  type DriverEntry,
  type EntriesQuery,
  type MaybePromise,
  type StoredValue,
} from './driver.ts'
import { jsonSerializer, msgpackSerializer, rawSerializer, type Serializer } from './serializers.ts'
import { cacheDriverNames, loadDriverDefinition, peekDriverDefinition, unknownDriver } from './registry.ts'
import type { MemoryCacheOptions } from './drivers/memory.ts'
import type { RedisCacheOptions } from './drivers/redis.ts'
import type { DatabaseCacheOptions } from './drivers/database.ts'

/** A TTL: milliseconds, a duration text (`'10m'`, `'1h30m'`), or `Infinity` for "never expires". */
export type Duration = number | string

/** Options of every operation that waits. */
export interface OperationOptions {
  /** Stops waiting (the operation rejects with the signal's reason); the store may still apply a write. */
  signal?: AbortSignal | undefined
}

/** Options of writes. */
export interface SetOptions extends OperationOptions {
  /** Time to live; default `defaultTtl`. */
  ttl?: Duration | undefined
}

/** One entry of `setMany`. */
export interface SetManyEntry<T = unknown> {
  key: string
  value: T
  ttl?: Duration | undefined
}

/** What a `getOrSet` loader can do besides returning the value. */
export interface LoaderContext {
  /** The key being loaded (for `getOrSetMany`, the first missing key). */
  readonly key: string
  /** Aborted when the cache closes. */
  readonly signal: AbortSignal
  /** Return the value to the callers but do not cache it ("do not cache", unlike negative caching). */
  skip(): void
  /** Cache the result for this TTL instead of the one given (adaptive TTL). */
  setTtl(ttl: Duration): void
}

/** Options of `getOrSet`. */
export interface GetOrSetOptions extends SetOptions {
  /** How long a loader result of `undefined` ("not found") is remembered; default `negativeTtl` (0 = not remembered). */
  negativeTtl?: Duration | undefined
  /** Ignore a cached value and call the loader (callers of the same key still share one call). */
  forceFresh?: boolean | undefined
}

/** What the batch loader of `getOrSetMany` may return for the keys it was given. */
export type BatchLoaderResult<T> = ReadonlyMap<string, T> | Readonly<Record<string, T>> | ReadonlyArray<T | undefined>

/** Counters of one namespace. */
export interface CacheCounters {
  hits: number
  misses: number
  sets: number
  deletes: number
  evictions: number
  errors: number
}

/** `stats()`: totals, and the counters of each namespace used. */
export interface CacheStats extends CacheCounters {
  /** Hits / (hits + misses), 0 when nothing was read. */
  hitRatio: number
  namespaces: Record<string, CacheCounters>
}

/** One row of `entries()`. */
export interface CacheEntry<T = unknown> {
  namespace: string
  key: string
  value: T | undefined
  expiresAt: Date | undefined
  createdAt: Date
  updatedAt: Date
}

/** Options of `createCache`: every env setting, plus what cannot come from the environment. */
export interface CacheOptions extends Omit<CacheConfigOptions, 'driver' | 'serializer' | 'memory' | 'redis' | 'db'> {
  /** `BEAVER_` by default; `'USER_'` reads `USER_CACHE_*`; `false` reads no environment. */
  envPrefix?: string | false
  /** The environment to read instead of `process.env` (then no `.env` files are read either); for tests and embedding. */
  env?: CacheEnv | undefined
  /** A driver name (built in or registered) or a definition (`memoryDriver`, `redisDriver`, your own). */
  driver?: string | CacheDriverDefinition<never>
  /** Options for a driver given by definition or registered name (built-ins read `memory`, `redis`, `db`). */
  driverOptions?: Record<string, unknown>
  /** `json` (default), `msgpack`, `raw`, or your own serializer. */
  serializer?: 'json' | 'msgpack' | 'raw' | Serializer
  memory?: CacheConfigOptions['memory'] & Pick<MemoryCacheOptions, 'sizeOf' | 'now'>
  redis?: CacheConfigOptions['redis'] & Omit<RedisCacheOptions, keyof NonNullable<CacheConfigOptions['redis']>>
  db?: CacheConfigOptions['db'] & Omit<DatabaseCacheOptions, keyof NonNullable<CacheConfigOptions['db']>>
}

const channels = {
  get: tracingChannel<TraceContext>('cache', 'get'),
  set: tracingChannel<TraceContext>('cache', 'set'),
  has: tracingChannel<TraceContext>('cache', 'has'),
  delete: tracingChannel<TraceContext>('cache', 'delete'),
  clear: tracingChannel<TraceContext>('cache', 'clear'),
  getMany: tracingChannel<TraceContext>('cache', 'getMany'),
  setMany: tracingChannel<TraceContext>('cache', 'setMany'),
  deleteMany: tracingChannel<TraceContext>('cache', 'deleteMany'),
  getOrSet: tracingChannel<TraceContext>('cache', 'getOrSet'),
  getOrSetMany: tracingChannel<TraceContext>('cache', 'getOrSetMany'),
  increment: tracingChannel<TraceContext>('cache', 'increment'),
  ttl: tracingChannel<TraceContext>('cache', 'ttl'),
  touch: tracingChannel<TraceContext>('cache', 'touch'),
  pull: tracingChannel<TraceContext>('cache', 'pull'),
  entries: tracingChannel<TraceContext>('cache', 'entries'),
}
const evictChannel = eventChannel('cache', 'evict')
const errorChannel = eventChannel('cache', 'error')

/** What `beaver:cache:<op>` tracing channels publish (never values). */
export interface TraceContext {
  op: string
  namespace: string
  driver: string
  key?: string
  /** Number of keys of a batch operation. */
  count?: number
  /** Set before the end event of reads: whether the entry was found. */
  hit?: boolean
  /** Set for batch reads: how many keys were found. */
  hits?: number
  /** Set for getOrSet: whether the loader ran in this call. */
  loaded?: boolean
}

type Op = keyof typeof channels

interface Inflight {
  promise: Promise<unknown>
}

const MISS: unique symbol = Symbol('miss')
const RESOLVED_UNDEFINED: Promise<undefined> = Promise.resolve(undefined)
const EMPTY = new Uint8Array(0)
// Beyond the network codes core knows: PostgreSQL and MySQL codes for a lost connection.
const CONNECTION_CODES = new Set(['57P01', '08006', '08001', '08003', 'PROTOCOL_CONNECTION_LOST'])

/** The shared state behind a cache and all its namespace views: one driver, one connection. */
class Root {
  readonly config: CacheConfig
  readonly driverName: string
  readonly maxKeyLength: number
  readonly maxEntrySize: number
  readonly defaultTtlMs: number | undefined
  readonly negativeTtlMs: number | undefined
  readonly counters = new Map<string, CacheCounters>()
  readonly inflight = new Map<string, Inflight>()
  readonly lifetime = new AbortController()
  /** Set once the driver exists; `syncDriver` too when it answers synchronously. */
  driver: CacheDriver | undefined
  syncDriver: CacheDriver | undefined
  /** Values by reference (no serializer on the hot path). */
  byReference = false
  /** The driver takes text for UTF-8 bytes (capabilities.text). */
  textValues = false
  /** Reads ask the driver for text (getText/getManyText) because the serializer decodes text. */
  textReads = false
  serializer: Serializer | undefined
  closed = false
  /** The view createCache() returned: closing it closes the driver. */
  rootView: Cache | undefined = undefined
  #loading: Promise<CacheDriver> | undefined
  #closing: Promise<void> | undefined
  readonly #options: CacheOptions
  readonly #definition: CacheDriverDefinition<never> | undefined

  constructor(options: CacheOptions) {
    this.#options = options
    const { envPrefix, env, driver, serializer, driverOptions: _d, ...rest } = options
    // Part 1's settings, with the one unknown-name check of the whole CACHE section (part 2's
    // variables share it), so a typo fails here and a part-2 variable never does.
    const resolved = resolveCacheSection(cacheSchema, {
      options: {
        ...rest,
        driver: typeof driver === 'string' ? driver : undefined,
        serializer: typeof serializer === 'string' ? serializer : undefined,
      } as CacheConfigOptions,
      envPrefix,
      env,
    })
    this.config = resolved.values
    this.#definition = typeof driver === 'object' ? driver : undefined
    this.driverName = this.#definition?.name ?? this.config.driver
    this.maxKeyLength = this.config.maxKeyLength
    this.maxEntrySize = this.config.maxEntrySize
    this.defaultTtlMs = this.config.defaultTtl > 0 ? this.config.defaultTtl : undefined
    this.negativeTtlMs = this.config.negativeTtl > 0 ? this.config.negativeTtl : undefined
    if (typeof serializer === 'object') this.serializer = serializer
    else if (this.config.serializer === 'json') this.serializer = jsonSerializer
    else if (this.config.serializer === 'raw') this.serializer = rawSerializer
    // A driver whose definition is at hand and whose create() is synchronous (memory) exists
    // at once, so the first get() already takes the synchronous path. No I/O happens here.
    const definition = this.#definition ?? peekDriverDefinition(this.driverName)
    if (definition !== undefined && this.serializer !== undefined) {
      const made = definition.create(this.#driverOptions() as never, this.#context())
      if (made instanceof Promise) {
        this.#loading = made.then(
          (d) => this.#adopt(d),
          (err: unknown) => {
            this.#loading = undefined
            throw this.wrap(err, 'load', '')
          },
        )
        this.#loading.catch(() => undefined)
      } else this.#adopt(made)
    } else if (definition === undefined && !cacheDriverNames().includes(this.driverName)) {
      // Fail at creation for a name nobody can load (a typo in BEAVER_CACHE_DRIVER).
      throw unknownDriver(this.driverName)
    }
  }

  #context(): DriverContext {
    return {
      config: this.config,
      storage: this.config.memory.storage,
      envPrefix: this.#options.envPrefix,
      env: this.#options.env,
      onEvict: (ns, key) => {
        this.count(ns).evictions++
        if (evictChannel.hasSubscribers) evictChannel.publish({ namespace: ns, key, driver: this.driverName })
      },
    }
  }

  #driverOptions(): Record<string, unknown> {
    const o = this.#options
    switch (this.driverName) {
      case 'memory':
        return { ...this.config.memory, ...o.memory, ...o.driverOptions }
      case 'redis':
        return { ...this.config.redis, ...o.redis, ...o.driverOptions }
      case 'database':
        return { ...this.config.db, ...o.db, ...o.driverOptions }
      default:
        return { ...o.driverOptions }
    }
  }

  #adopt(driver: CacheDriver): CacheDriver {
    if (this.closed) {
      void Promise.resolve(driver.close()).catch(() => undefined)
      throw closedError()
    }
    this.driver = driver
    this.byReference = driver.capabilities.values === 'any'
    this.textValues = driver.capabilities.text === true
    this.textReads = this.textValues && this.serializer?.deserializeText !== undefined
    if (driver.capabilities.sync) this.syncDriver = driver
    return driver
  }

  /** The driver, loading it (and the serializer) on first use. */
  load(): Promise<CacheDriver> {
    if (this.driver !== undefined) return Promise.resolve(this.driver)
    this.#loading ??= this.#load()
    return this.#loading
  }

  async #load(): Promise<CacheDriver> {
    try {
      this.serializer ??= await msgpackSerializer()
      const definition = this.#definition ?? (await loadDriverDefinition(this.driverName))
      const driver = await definition.create(this.#driverOptions() as never, this.#context())
      return this.#adopt(driver)
    } catch (err) {
      this.#loading = undefined
      throw this.wrap(err, 'load', '')
    }
  }

  count(ns: string): CacheCounters {
    let c = this.counters.get(ns)
    if (c === undefined) {
      c = { hits: 0, misses: 0, sets: 0, deletes: 0, evictions: 0, errors: 0 }
      this.counters.set(ns, c)
    }
    return c
  }

  /** Turns a driver failure into a CacheError, counts it and publishes it. */
  wrap(err: unknown, op: string, ns: string): CacheError | unknown {
    let out: unknown = err
    if (isBeaverError(err) && !err.code.startsWith('CACHE_') && !err.code.startsWith('CORE_')) {
      // Another kit package's error (the database driver's DB_CONNECTION, ...): keep it as the cause.
      const code = /CONNECTION|TIMEOUT|CLOSED|AUTH/.test(err.code) ? 'CACHE_CONNECTION' : 'CACHE_DRIVER'
      out = new CacheError(code, `The ${this.driverName} cache failed during ${op}: ${err.message}`, {
        cause: err,
        details: { driver: this.driverName, op, namespace: ns, causeCode: err.code },
      })
    } else if (isBeaverError(err, 'CORE_PEER_MISSING')) {
      out = new CacheError('CACHE_DRIVER_PEER_MISSING', err.message, {
        cause: err,
        details: err.details as Record<string, unknown>,
      })
    } else if (!isBeaverError(err) && !(err instanceof Error && err.name === 'AbortError')) {
      const code = connectionLike(err) ? 'CACHE_CONNECTION' : 'CACHE_DRIVER'
      const what = code === 'CACHE_CONNECTION' ? 'could not reach its store' : 'got an error from its store'
      out = new CacheError(
        code,
        `The ${this.driverName} cache ${what} during ${op}: ${(err as Error)?.message ?? String(err)}`,
        {
          cause: err,
          details: { driver: this.driverName, op, namespace: ns },
        },
      )
    }
    if (ns !== '' || op !== 'load') this.count(ns).errors++
    if (errorChannel.hasSubscribers) errorChannel.publish({ op, namespace: ns, driver: this.driverName, error: out })
    return out
  }

  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    this.closed = true
    this.lifetime.abort(closedError())
    const driver = this.driver ?? (await this.#loading?.catch(() => undefined))
    this.syncDriver = undefined
    if (driver !== undefined) await driver.close()
  }
}

function connectionLike(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false
  const e = err as { code?: unknown; name?: unknown; message?: unknown; errno?: unknown }
  if (isNetworkErrorCode(e.code) || (typeof e.code === 'string' && CONNECTION_CODES.has(e.code))) return true
  if (e.name === 'MaxRetriesPerRequestError' || e.name === 'ClusterAllFailedError') return true
  const m = typeof e.message === 'string' ? e.message : ''
  return /connection (is )?closed|connection terminated|socket (hang up|closed)|stream isn't writeable|connect ECONN|server has gone away|Connection lost/i.test(
    m,
  )
}

function partialBatch(d: CacheDriver, got: number, wanted: number): CacheError {
  return new CacheError(
    'CACHE_DRIVER',
    `The ${d.name} driver answered ${got} values for ${wanted} keys; refusing a partial batch.`,
  )
}

function closedError(): CacheError {
  return new CacheError(
    'CACHE_CLOSED',
    'The cache was closed; create a new one (or call resetCache() for the default instance).',
  )
}

function keyError(key: unknown, max: number): CacheError {
  const shown = typeof key === 'string' ? `a string of length ${key.length}` : key === null ? 'null' : typeof key
  return new CacheError(
    'CACHE_KEY_INVALID',
    `A cache key must be a non-empty string of at most ${max} characters, got ${shown}; hash long keys, or raise BEAVER_CACHE_MAX_KEY_LENGTH.`,
    {
      details: { type: typeof key, length: typeof key === 'string' ? key.length : undefined, max },
    },
  )
}

/** Parses a TTL into ms (undefined = never expires). */
export function parseTtl(
  ttl: Duration | undefined | null,
  fallback: number | undefined,
  what = 'ttl',
): number | undefined {
  if (ttl === undefined || ttl === null) return fallback
  let ms: number
  if (typeof ttl === 'number') {
    if (ttl === Infinity) return undefined
    ms = ttl
  } else if (typeof ttl === 'string') {
    const text = ttl.trim().toLowerCase()
    if (text === 'forever' || text === 'infinity') return undefined
    try {
      ms = parseDuration(text)
    } catch {
      ms = Number.NaN
    }
  } else ms = Number.NaN
  if (!Number.isFinite(ms) || ms <= 0) {
    throw new CacheError(
      'CACHE_TTL_INVALID',
      `${what} must be a positive duration (a number of ms, text such as '10s' or '1h', or Infinity for no expiry), got ${JSON.stringify(ttl) ?? String(ttl)}.`,
      {
        details: { ttl: String(ttl) },
      },
    )
  }
  return Math.ceil(ms)
}

function withSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise
  if (signal.aborted) return Promise.reject(signal.reason as Error)
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort)
        resolve(v)
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(e as Error)
      },
    )
  })
}

/**
 * One cache API over any driver: typed values through a serializer, namespaces on one
 * connection, TTLs as durations, batches, stampede-protected `getOrSet`, negative caching,
 * stats, and `beaver:cache:*` tracing channels. Built by {@link createCache}.
 */
export class Cache {
  readonly #root: Root
  readonly #ns: string
  readonly #counters: CacheCounters
  #closed = false

  /** @internal use createCache() */
  constructor(root: Root, namespace: string) {
    this.#root = root
    this.#ns = namespace
    this.#counters = root.count(namespace)
  }

  /** The full namespace of this view (`'cache:users'`). */
  get namespaceName(): string {
    return this.#ns
  }

  /** The driver's name (`memory`, `redis`, `database`, ...). */
  get driverName(): string {
    return this.#root.driverName
  }

  /** The resolved configuration (secrets included: do not log it; use describe from @beaver-kit/config). */
  get config(): CacheConfig {
    return this.#root.config
  }

  /**
   * A view whose keys live under `<namespace>:<name>`, sharing this cache's connection; its
   * `clear()` removes only its own keys (and those of namespaces nested in it).
   * @example const users = cache().namespace('users'); await users.set('42', user)
   */
  namespace(name: string): Cache {
    if (typeof name !== 'string' || name.length === 0 || /\s/.test(name)) {
      throw new CacheError(
        'CACHE_OPTIONS_INVALID',
        `A namespace must be a non-empty string without spaces, got ${JSON.stringify(name)}.`,
      )
    }
    return new Cache(this.#root, this.#ns === '' ? name : `${this.#ns}:${name}`)
  }

  // ---- hot path helpers ----------------------------------------------------------------

  #checkKey(key: string): void {
    if (typeof key !== 'string' || key.length === 0 || key.length > this.#root.maxKeyLength)
      throw keyError(key, this.#root.maxKeyLength)
  }

  #checkOpen(): void {
    if (this.#closed || this.#root.closed) throw closedError()
  }

  /** A driver's "not found": undefined, or null from a bytes driver (null is a value by reference). */
  #absent(stored: unknown): boolean {
    return stored === undefined || (stored === null && !this.#root.byReference)
  }

  /** Stored form → value, or MISS for a negative entry. */
  #decode(stored: unknown): unknown {
    const root = this.#root
    if (root.byReference) return stored === NEGATIVE ? MISS : stored
    const serializer = root.serializer as Serializer
    if (typeof stored === 'string') {
      // A text read (getText/getManyText): the UTF-8 decoding of the stored bytes.
      if (stored.length === 0) return MISS
      return serializer.deserializeText !== undefined
        ? serializer.deserializeText(stored)
        : serializer.deserialize(Buffer.from(stored, 'utf8'))
    }
    const bytes = stored as Uint8Array
    if (bytes.byteLength === 0) return MISS
    return serializer.deserialize(bytes)
  }

  /** One stored value, as text when the serializer reads text and the driver can answer it. */
  #readOne(d: CacheDriver, key: string): unknown {
    return this.#root.textReads && d.getText !== undefined ? d.getText(this.#ns, key) : d.get(this.#ns, key)
  }

  #encode(value: unknown, key: string): unknown {
    const root = this.#root
    if (root.byReference) {
      if (value === undefined) {
        throw new CacheError(
          'CACHE_SERIALIZE',
          `Cannot cache undefined for "${key}": cache null, or use getOrSet's negative caching for "not found".`,
          { details: { key } },
        )
      }
      return value
    }
    const serializer = root.serializer as Serializer
    if (root.textValues && serializer.serializeText !== undefined) {
      const text = serializer.serializeText(value)
      if (root.maxEntrySize > 0 && Buffer.byteLength(text) > root.maxEntrySize) {
        throw new CacheError(
          'CACHE_VALUE_TOO_LARGE',
          `The value of "${key}" serializes to ${Buffer.byteLength(text)} bytes, more than maxEntrySize (${root.maxEntrySize}).`,
          {
            details: { key, size: Buffer.byteLength(text), maxEntrySize: root.maxEntrySize },
          },
        )
      }
      return text
    }
    const bytes = serializer.serialize(value)
    if (root.maxEntrySize > 0 && bytes.byteLength > root.maxEntrySize) {
      throw new CacheError(
        'CACHE_VALUE_TOO_LARGE',
        `The value of "${key}" serializes to ${bytes.byteLength} bytes, more than maxEntrySize (${root.maxEntrySize}).`,
        {
          details: { key, size: bytes.byteLength, maxEntrySize: root.maxEntrySize },
        },
      )
    }
    return bytes
  }

  #negative(): unknown {
    return this.#root.byReference ? NEGATIVE : EMPTY
  }

  /** Runs an operation on the driver inside its tracing channel (one property read when unobserved). */
  #run<T>(
    op: Op,
    key: string | undefined,
    count: number | undefined,
    signal: AbortSignal | undefined,
    fn: (d: CacheDriver, ctx: TraceContext | undefined) => T | Promise<T>,
  ): Promise<T> {
    const root = this.#root
    const ns = this.#ns
    const work = async (ctx: TraceContext | undefined): Promise<T> => {
      this.#checkOpen()
      const d = root.driver ?? (await root.load())
      try {
        return await fn(d, ctx)
      } catch (err) {
        // A loader's own failure reaches the caller unchanged; only store failures are wrapped.
        if (err instanceof LoaderFailure) throw err.error
        throw root.wrap(err, op, ns)
      }
    }
    const channel = channels[op]
    let promise: Promise<T>
    if (!channel.hasSubscribers) promise = work(undefined)
    else {
      const ctx: TraceContext = { op, namespace: ns, driver: root.driverName }
      if (key !== undefined) ctx.key = key
      if (count !== undefined) ctx.count = count
      // tracePromise would publish the resolved value as `result`; values are never published.
      let out: T
      promise = channel
        .tracePromise(async () => {
          out = await work(ctx)
        }, ctx)
        .then(() => out)
    }
    return withSignal(promise, signal)
  }

  // ---- reads ---------------------------------------------------------------------------

  /**
   * The value of `key`, or undefined when missing, expired or negatively cached. On the
   * memory driver a hit is answered without touching the event loop.
   */
  get<T = unknown>(key: string, options?: OperationOptions): Promise<T | undefined> {
    const root = this.#root
    const d = root.syncDriver
    if (d !== undefined && !channels.get.hasSubscribers && !this.#closed) {
      try {
        return Promise.resolve(this.#getSync<T>(key))
      } catch (err) {
        return Promise.reject(err as Error)
      }
    }
    const driver = root.driver
    if (
      driver !== undefined &&
      options?.signal === undefined &&
      !channels.get.hasSubscribers &&
      !this.#closed &&
      !root.closed
    ) {
      // Async fast path: one reaction on the driver's promise, no wrapper coroutines.
      if (typeof key !== 'string' || key.length === 0 || key.length > root.maxKeyLength)
        return Promise.reject(keyError(key, root.maxKeyLength))
      let pending: unknown
      try {
        pending = this.#readOne(driver, key)
      } catch (err) {
        return Promise.reject(root.wrap(err, 'get', this.#ns) as Error)
      }
      return Promise.resolve(pending).then(
        (stored) => {
          const value = this.#absent(stored) ? MISS : this.#decode(stored)
          if (value === MISS) {
            this.#counters.misses++
            return undefined
          }
          this.#counters.hits++
          return value as T
        },
        (err: unknown) => {
          throw root.wrap(err, 'get', this.#ns)
        },
      )
    }
    return this.#run('get', key, undefined, options?.signal, async (driver, ctx) => {
      this.#checkKey(key)
      const stored = await this.#readOne(driver, key)
      const value = this.#absent(stored) ? MISS : this.#decode(stored)
      const c = this.#counters
      if (value === MISS) c.misses++
      else c.hits++
      if (ctx) ctx.hit = value !== MISS
      return value === MISS ? undefined : (value as T)
    })
  }

  /**
   * Synchronous `get` for drivers that answer synchronously (memory): no promise, no
   * microtask. Throws `CACHE_UNSUPPORTED` on other drivers.
   */
  getSync<T = unknown>(key: string): T | undefined {
    if (channels.get.hasSubscribers) return this.#tracedSync('get', key, () => this.#getSync<T>(key))
    return this.#getSync<T>(key)
  }

  /** Runs a synchronous operation inside its tracing channel (the result is never published). */
  #tracedSync<R>(op: Op, key: string, fn: () => R): R {
    const ctx: TraceContext = { op, namespace: this.#ns, driver: this.#root.driverName, key }
    let out!: R
    channels[op].traceSync(() => {
      out = fn()
      if (op === 'get') ctx.hit = out !== undefined
    }, ctx)
    return out
  }

  #getSync<T>(key: string): T | undefined {
    const root = this.#root
    const d = root.syncDriver
    if (d === undefined || this.#closed) throw this.#syncUnsupported('getSync')
    if (typeof key !== 'string' || key.length === 0 || key.length > root.maxKeyLength)
      throw keyError(key, root.maxKeyLength)
    const stored = d.get(this.#ns, key)
    if (stored === undefined) {
      this.#counters.misses++
      return undefined
    }
    if (root.byReference) {
      if (stored === NEGATIVE) {
        this.#counters.misses++
        return undefined
      }
      this.#counters.hits++
      return stored as T
    }
    const value = this.#decode(stored)
    if (value === MISS) {
      this.#counters.misses++
      return undefined
    }
    this.#counters.hits++
    return value as T
  }

  #syncUnsupported(op: string): CacheError {
    if (this.#closed || this.#root.closed) return closedError()
    return new CacheError(
      'CACHE_UNSUPPORTED',
      `${op}() needs a driver that answers synchronously (memory); the ${this.#root.driverName} driver does not${this.#root.driver ? '' : ', or it is not loaded yet'}. Use the async method.`,
    )
  }

  /** True when `key` holds a value (a negative entry counts as absent). */
  has(key: string, options?: OperationOptions): Promise<boolean> {
    return this.#run('has', key, undefined, options?.signal, async (d) => {
      this.#checkKey(key)
      if (d.has) return d.has(this.#ns, key)
      const stored = await d.get(this.#ns, key)
      return !this.#absent(stored) && this.#decode(stored) !== MISS
    })
  }

  /** Remaining time to live in ms, `Infinity` when it never expires, undefined when missing. */
  ttl(key: string, options?: OperationOptions): Promise<number | undefined> {
    return this.#run('ttl', key, undefined, options?.signal, (d) => {
      this.#checkKey(key)
      if (!d.ttl) throw this.#unsupported('ttl')
      return d.ttl(this.#ns, key)
    })
  }

  // ---- writes --------------------------------------------------------------------------

  /** Stores `value` for `ttl` (default `defaultTtl`). */
  set<T = unknown>(key: string, value: T, options?: SetOptions): Promise<void> {
    const root = this.#root
    const d = root.syncDriver
    if (d !== undefined && !channels.set.hasSubscribers && !this.#closed && options?.signal === undefined) {
      try {
        this.#setSync(key, value, options)
        return RESOLVED_UNDEFINED
      } catch (err) {
        return Promise.reject(err as Error)
      }
    }
    return this.#run('set', key, undefined, options?.signal, async (driver) => {
      this.#checkKey(key)
      const ttlMs = parseTtl(options?.ttl, root.defaultTtlMs)
      await driver.set(this.#ns, key, this.#encode(value, key), ttlMs)
      this.#counters.sets++
    })
  }

  /** Synchronous `set` for drivers that answer synchronously (memory). */
  setSync<T = unknown>(key: string, value: T, options?: Omit<SetOptions, 'signal'>): void {
    if (channels.set.hasSubscribers) this.#tracedSync('set', key, () => this.#setSync(key, value, options))
    else this.#setSync(key, value, options)
  }

  #setSync<T>(key: string, value: T, options: Omit<SetOptions, 'signal'> | undefined): void {
    const root = this.#root
    const d = root.syncDriver
    if (d === undefined || this.#closed) throw this.#syncUnsupported('setSync')
    this.#checkKey(key)
    const ttlMs = options?.ttl === undefined ? root.defaultTtlMs : parseTtl(options.ttl, root.defaultTtlMs)
    try {
      // A sync driver returns nothing to await (capabilities.sync).
      void d.set(this.#ns, key, this.#encode(value, key), ttlMs)
    } catch (err) {
      throw root.wrap(err, 'set', this.#ns)
    }
    this.#counters.sets++
  }

  /** Removes `key`; resolves whether it existed. */
  delete(key: string, options?: OperationOptions): Promise<boolean> {
    return this.#run('delete', key, undefined, options?.signal, async (d) => {
      this.#checkKey(key)
      const existed = await d.delete(this.#ns, key)
      if (existed) this.#counters.deletes++
      return existed
    })
  }

  /** Reads and removes `key` (atomically where the driver can: Redis GETDEL, memory, SQL DELETE ... RETURNING). */
  pull<T = unknown>(key: string, options?: OperationOptions): Promise<T | undefined> {
    return this.#run('pull', key, undefined, options?.signal, async (d, ctx) => {
      this.#checkKey(key)
      let stored: unknown
      if (d.pull) stored = await d.pull(this.#ns, key)
      else {
        stored = await d.get(this.#ns, key)
        if (!this.#absent(stored)) await d.delete(this.#ns, key)
      }
      const value = this.#absent(stored) ? MISS : this.#decode(stored)
      const c = this.#counters
      if (!this.#absent(stored)) c.deletes++
      if (value === MISS) c.misses++
      else c.hits++
      if (ctx) ctx.hit = value !== MISS
      return value === MISS ? undefined : (value as T)
    })
  }

  /** Gives an existing entry a new TTL (default `defaultTtl`); resolves whether it existed. */
  touch(key: string, ttl?: Duration, options?: OperationOptions): Promise<boolean> {
    return this.#run('touch', key, undefined, options?.signal, (d) => {
      this.#checkKey(key)
      const ttlMs = parseTtl(ttl, this.#root.defaultTtlMs)
      if (d.touch) return d.touch(this.#ns, key, ttlMs)
      // A driver without its own touch: read and write back (not atomic), like pull() below.
      return Promise.resolve(d.get(this.#ns, key)).then(async (stored) => {
        if (this.#absent(stored)) return false
        await d.set(this.#ns, key, stored as StoredValue, ttlMs)
        return true
      })
    })
  }

  /**
   * Atomically adds `by` (default 1) to an integer entry, creating it at `by`; `ttl` applies
   * only when the entry is created. Counters are stored as decimal text, which every
   * serializer-independent reader understands. Throws `CACHE_UNSUPPORTED` where the driver
   * cannot do it atomically.
   */
  increment(key: string, by = 1, options?: SetOptions): Promise<number> {
    return this.#run('increment', key, undefined, options?.signal, (d) => {
      this.#checkKey(key)
      if (!Number.isSafeInteger(by))
        throw new CacheError('CACHE_NOT_A_NUMBER', `increment() needs a safe integer step, got ${String(by)}.`)
      const ttlMs = parseTtl(options?.ttl, this.#root.defaultTtlMs)
      if (!d.increment || !d.capabilities.atomicIncrement) throw this.#unsupported('increment')
      return d.increment(this.#ns, key, by, ttlMs)
    })
  }

  /** `increment(key, -by)`. */
  decrement(key: string, by = 1, options?: SetOptions): Promise<number> {
    return this.increment(key, -by, options)
  }

  /** Removes every entry of this namespace (and of namespaces nested in it), and nothing else. */
  clear(options?: OperationOptions): Promise<void> {
    return this.#run('clear', undefined, undefined, options?.signal, async (d) => {
      await d.clear(this.#ns)
    })
  }

  #unsupported(op: string): CacheError {
    return new CacheError(
      'CACHE_UNSUPPORTED',
      `The ${this.#root.driverName} cache driver does not support ${op}(); pick a driver that does (see the drivers table in the README).`,
      {
        details: { driver: this.#root.driverName, op },
      },
    )
  }

  // ---- batches -------------------------------------------------------------------------

  /**
   * Values in the order of `keys` (undefined for each missing one). Duplicate keys are read
   * once and answered at each position. One round trip on drivers with native batches
   * (Redis MGET, grouped by slot on a Cluster; one SELECT on databases).
   */
  getMany<T = unknown>(keys: readonly string[], options?: OperationOptions): Promise<Array<T | undefined>> {
    const root = this.#root
    const driver = root.driver
    if (
      driver !== undefined &&
      options?.signal === undefined &&
      !channels.getMany.hasSubscribers &&
      !this.#closed &&
      !root.closed
    ) {
      // Fast path, like get(): one reaction on the driver's promise, no wrapper coroutines.
      let unique: readonly string[]
      let pending: MaybePromise<readonly unknown[]>
      try {
        unique = this.#uniqueKeys(keys)
        pending = this.#readMany(driver, unique)
      } catch (err) {
        return Promise.reject(root.wrap(err, 'getMany', this.#ns) as Error)
      }
      return Promise.resolve(pending).then(
        (stored) => {
          try {
            return this.#answerMany<T>(driver, keys, unique, stored, undefined)
          } catch (err) {
            throw root.wrap(err, 'getMany', this.#ns)
          }
        },
        (err: unknown) => {
          throw root.wrap(err, 'getMany', this.#ns)
        },
      )
    }
    return this.#run('getMany', undefined, keys.length, options?.signal, async (d, ctx) => {
      const unique = this.#uniqueKeys(keys)
      return this.#answerMany<T>(d, keys, unique, await this.#readMany(d, unique), ctx)
    })
  }

  /** Validates every key; the keys without duplicates (the same array when there are none). */
  #uniqueKeys(keys: readonly string[]): readonly string[] {
    for (let i = 0; i < keys.length; i++) this.#checkKey(keys[i] as string)
    const set = new Set(keys)
    return set.size === keys.length ? keys : [...set]
  }

  /** Decodes a batch read of `unique` and answers it in the order of `keys`, counting hits and misses. */
  #answerMany<T>(
    d: CacheDriver,
    keys: readonly string[],
    unique: readonly string[],
    stored: readonly unknown[],
    ctx: TraceContext | undefined,
  ): Array<T | undefined> {
    if (stored.length !== unique.length) throw partialBatch(d, stored.length, unique.length)
    let hits = 0
    // Without duplicates (the usual case) the answer is built in place, without a map.
    const values = new Array<T | undefined>(unique.length)
    for (let i = 0; i < unique.length; i++) {
      const s = stored[i]
      const v = this.#absent(s) ? MISS : this.#decode(s)
      if (v !== MISS) {
        hits++
        values[i] = v as T
      }
    }
    const c = this.#counters
    c.hits += hits
    c.misses += unique.length - hits
    if (ctx) ctx.hits = hits
    if (unique === keys) return values
    const byKey = new Map<string, T | undefined>()
    for (let i = 0; i < unique.length; i++) byKey.set(unique[i] as string, values[i])
    return keys.map((k) => byKey.get(k))
  }

  /** One batch read (text when the serializer reads text); the driver's own promise, or an array. */
  #readMany(d: CacheDriver, keys: readonly string[]): MaybePromise<readonly unknown[]> {
    if (keys.length === 0) return []
    if (this.#root.textReads && d.getManyText !== undefined) return d.getManyText(this.#ns, keys)
    if (d.getMany) return d.getMany(this.#ns, keys)
    return Promise.all(keys.map((k) => d.get(this.#ns, k)))
  }

  /** Stores many entries (last one wins for a duplicate key); one round trip where the driver batches. */
  setMany<T = unknown>(entries: ReadonlyArray<SetManyEntry<T>>, options?: SetOptions): Promise<void> {
    return this.#run('setMany', undefined, entries.length, options?.signal, async (d) => {
      const byKey = new Map<string, DriverEntry>()
      for (const e of entries) {
        this.#checkKey(e.key)
        const ttlMs = parseTtl(e.ttl ?? options?.ttl, this.#root.defaultTtlMs)
        byKey.delete(e.key)
        byKey.set(e.key, { key: e.key, value: this.#encode(e.value, e.key), ttlMs })
      }
      await this.#writeMany(d, [...byKey.values()])
      this.#counters.sets += byKey.size
    })
  }

  async #writeMany(d: CacheDriver, list: DriverEntry[]): Promise<void> {
    if (list.length === 0) return
    if (d.setMany) await d.setMany(this.#ns, list)
    else await Promise.all(list.map(async (e) => d.set(this.#ns, e.key, e.value, e.ttlMs)))
  }

  /** Removes many keys; resolves how many existed. */
  deleteMany(keys: readonly string[], options?: OperationOptions): Promise<number> {
    return this.#run('deleteMany', undefined, keys.length, options?.signal, async (d) => {
      for (const key of keys) this.#checkKey(key)
      const unique = [...new Set(keys)]
      if (unique.length === 0) return 0
      let n: number
      if (d.deleteMany) n = await d.deleteMany(this.#ns, unique)
      else n = (await Promise.all(unique.map(async (k) => d.delete(this.#ns, k)))).filter(Boolean).length
      this.#counters.deletes += n
      return n
    })
  }

  // ---- getOrSet ------------------------------------------------------------------------

  /**
   * The cached value, or the loader's result cached for `ttl`. Concurrent callers of one key
   * in this process share a single loader call (stampede protection). A loader result of
   * `undefined` means "not found": it is remembered for `negativeTtl` when that is set, and
   * never cached otherwise; `ctx.skip()` returns a value without caching it.
   * @example
   * const user = await cache().getOrSet(`user:${id}`, () => db.one(sql`select ...`), { ttl: '10m', negativeTtl: '30s' })
   */
  getOrSet<T>(key: string, loader: (ctx: LoaderContext) => T | Promise<T>, options?: GetOrSetOptions): Promise<T> {
    const root = this.#root
    const d = root.syncDriver
    // Memory hit: answered synchronously, no inflight bookkeeping.
    if (
      d !== undefined &&
      options?.forceFresh !== true &&
      !channels.getOrSet.hasSubscribers &&
      !this.#closed &&
      typeof key === 'string' &&
      key.length > 0 &&
      key.length <= root.maxKeyLength
    ) {
      const stored = d.get(this.#ns, key)
      if (stored !== undefined) {
        try {
          const value = this.#decode(stored)
          this.#counters.hits++
          return Promise.resolve((value === MISS ? undefined : value) as T)
        } catch (err) {
          return Promise.reject(err as Error)
        }
      }
    }
    return this.#run('getOrSet', key, undefined, options?.signal, (driver, ctx) => {
      this.#checkKey(key)
      const slot = `${this.#ns}\u0000${key}`
      const existing = root.inflight.get(slot)
      if (existing !== undefined) return existing.promise as Promise<T>
      const promise = this.#loadOne(driver, key, loader, options, ctx).finally(() => {
        if (root.inflight.get(slot)?.promise === promise) root.inflight.delete(slot)
      })
      root.inflight.set(slot, { promise })
      return promise
    })
  }

  async #loadOne<T>(
    d: CacheDriver,
    key: string,
    loader: (ctx: LoaderContext) => T | Promise<T>,
    options: GetOrSetOptions | undefined,
    trace: TraceContext | undefined,
  ): Promise<T> {
    const root = this.#root
    const ttlMs = parseTtl(options?.ttl, root.defaultTtlMs)
    const negativeMs = parseTtl(
      options?.negativeTtl === 0 ? undefined : options?.negativeTtl,
      root.negativeTtlMs,
      'negativeTtl',
    )
    const negativeOff = options?.negativeTtl === 0
    const c = this.#counters
    if (options?.forceFresh !== true) {
      const stored = await this.#readOne(d, key)
      if (!this.#absent(stored)) {
        c.hits++
        if (trace) trace.hit = true
        const value = this.#decode(stored)
        return (value === MISS ? undefined : value) as T
      }
    }
    c.misses++
    if (trace) {
      trace.hit = false
      trace.loaded = true
    }
    let skip = false
    let chosenTtl = ttlMs
    const value = await callLoader(() =>
      loader({
        key,
        signal: root.lifetime.signal,
        skip: () => {
          skip = true
        },
        setTtl: (ttl) => {
          chosenTtl = parseTtl(ttl, root.defaultTtlMs)
        },
      }),
    )
    if (skip) return value
    try {
      if (value === undefined) {
        if (negativeMs !== undefined && !negativeOff) await d.set(this.#ns, key, this.#negative(), negativeMs)
      } else {
        await d.set(this.#ns, key, this.#encode(value, key), chosenTtl)
        c.sets++
      }
    } catch (err) {
      // The caller still gets the loaded value; the failed write is counted and published.
      root.wrap(err, 'getOrSet', this.#ns)
    }
    return value
  }

  /**
   * Batch `getOrSet`, dataloader style: one batch read for all keys, then ONE loader call
   * with every missing key; found values are written in one batch, keys the loader did not
   * return are negatively cached when `negativeTtl` is set. Keys already being loaded by a
   * concurrent call are awaited, not loaded twice. Results follow the order of `keys`.
   * @example
   * const users = await cache().getOrSetMany(ids, async (missing) => new Map((await loadUsers(missing)).map((u) => [u.id, u])))
   */
  getOrSetMany<T>(
    keys: readonly string[],
    loader: (missing: string[], ctx: LoaderContext) => BatchLoaderResult<T> | Promise<BatchLoaderResult<T>>,
    options?: GetOrSetOptions,
  ): Promise<Array<T | undefined>> {
    return this.#run('getOrSetMany', undefined, keys.length, options?.signal, async (d, trace) => {
      const root = this.#root
      for (const key of keys) this.#checkKey(key)
      const ttlMs = parseTtl(options?.ttl, root.defaultTtlMs)
      const negativeMs =
        options?.negativeTtl === 0 ? undefined : parseTtl(options?.negativeTtl, root.negativeTtlMs, 'negativeTtl')
      const unique = [...new Set(keys)]
      const results = new Map<string, unknown>()
      const waits: Array<Promise<void>> = []
      const mine: string[] = []
      const settle = new Map<string, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>()
      for (const key of unique) {
        const slot = `${this.#ns}\u0000${key}`
        const existing = root.inflight.get(slot)
        if (existing !== undefined) {
          waits.push(existing.promise.then((v) => void results.set(key, v)))
          continue
        }
        let resolve!: (v: unknown) => void
        let reject!: (e: unknown) => void
        const promise = new Promise<unknown>((res, rej) => {
          resolve = res
          reject = rej
        })
        promise.catch(() => undefined)
        const entry = { promise }
        root.inflight.set(slot, entry)
        void promise
          .finally(() => {
            if (root.inflight.get(slot) === entry) root.inflight.delete(slot)
          })
          .catch(() => undefined)
        settle.set(key, { resolve, reject })
        mine.push(key)
      }
      try {
        const c = this.#counters
        let missing = mine
        if (mine.length > 0 && options?.forceFresh !== true) {
          const stored = await this.#readMany(d, mine)
          if (stored.length !== mine.length) throw partialBatch(d, stored.length, mine.length)
          missing = []
          for (let i = 0; i < mine.length; i++) {
            const key = mine[i] as string
            const s = stored[i]
            if (this.#absent(s)) {
              missing.push(key)
              continue
            }
            const v = this.#decode(s)
            const value = v === MISS ? undefined : v
            results.set(key, value)
            settle.get(key)?.resolve(value)
          }
          c.hits += mine.length - missing.length
        }
        c.misses += missing.length
        if (trace) {
          trace.hits = mine.length - missing.length
          trace.loaded = missing.length > 0
        }
        if (missing.length > 0) {
          let skip = false
          let chosenTtl = ttlMs
          const loaded = await callLoader(() =>
            loader([...missing], {
              key: missing[0] as string,
              signal: root.lifetime.signal,
              skip: () => {
                skip = true
              },
              setTtl: (ttl) => {
                chosenTtl = parseTtl(ttl, root.defaultTtlMs)
              },
            }),
          )
          const found = readBatchResult(loaded, missing)
          const writes: DriverEntry[] = []
          for (const key of missing) {
            const value = found.get(key)
            results.set(key, value)
            settle.get(key)?.resolve(value)
            if (skip) continue
            if (value !== undefined) writes.push({ key, value: this.#encode(value, key), ttlMs: chosenTtl })
            else if (negativeMs !== undefined) writes.push({ key, value: this.#negative(), ttlMs: negativeMs })
          }
          try {
            await this.#writeMany(d, writes)
            c.sets += writes.length
          } catch (err) {
            root.wrap(err, 'getOrSetMany', this.#ns)
          }
        }
      } catch (err) {
        for (const s of settle.values()) s.reject(err)
        throw err
      }
      await Promise.all(waits)
      return keys.map((k) => results.get(k) as T | undefined)
    })
  }

  // ---- queries, stats, lifecycle -------------------------------------------------------

  /**
   * Audit-style read of stored entries of this namespace (drivers with query support: the
   * database driver): `{ prefix, updatedSince, limit }`, newest first.
   */
  entries<T = unknown>(query: EntriesQuery & OperationOptions = {}): Promise<Array<CacheEntry<T>>> {
    return this.#run('entries', undefined, undefined, query.signal, async (d) => {
      if (!d.entries || !d.capabilities.query) throw this.#unsupported('entries')
      const rows = await d.entries(this.#ns, {
        prefix: query.prefix,
        updatedSince: query.updatedSince,
        limit: query.limit,
      })
      return rows.map((r) => {
        const v = this.#decode(r.value)
        return {
          namespace: r.namespace,
          key: r.key,
          value: (v === MISS ? undefined : v) as T | undefined,
          expiresAt: r.expiresAt === undefined ? undefined : new Date(r.expiresAt),
          createdAt: new Date(r.createdAt),
          updatedAt: new Date(r.updatedAt),
        }
      })
    })
  }

  /** Hits, misses, sets, deletes, evictions and errors: totals and per namespace. */
  stats(): CacheStats {
    const total: CacheCounters = { hits: 0, misses: 0, sets: 0, deletes: 0, evictions: 0, errors: 0 }
    const namespaces: Record<string, CacheCounters> = {}
    for (const [ns, c] of this.#root.counters) {
      namespaces[ns] = { ...c }
      total.hits += c.hits
      total.misses += c.misses
      total.sets += c.sets
      total.deletes += c.deletes
      total.evictions += c.evictions
      total.errors += c.errors
    }
    const reads = total.hits + total.misses
    return { ...total, hitRatio: reads === 0 ? 0 : total.hits / reads, namespaces }
  }

  /** Loads the driver and does one round trip to the store, so start-up fails fast when wanted. */
  async ready(options?: OperationOptions): Promise<void> {
    this.#checkOpen()
    const root = this.#root
    await withSignal(
      (async () => {
        const d = await root.load()
        try {
          await d.ping?.()
        } catch (err) {
          throw root.wrap(err, 'ready', this.#ns)
        }
      })(),
      options?.signal,
    )
  }

  /**
   * Closes the cache: the root closes its driver (a client passed in stays open); a
   * namespace view only stops accepting calls. Idempotent.
   */
  async close(): Promise<void> {
    this.#closed = true
    if (this.#root.rootView === this) await this.#root.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

/** Carries a loader's failure through the driver-error wrapping untouched. */
class LoaderFailure {
  readonly error: unknown
  constructor(error: unknown) {
    this.error = error
  }
}

async function callLoader<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    throw new LoaderFailure(err)
  }
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

/**
 * Builds a cache from explicit options over the environment (`BEAVER_CACHE_*`) over
 * defaults. Synchronous and without I/O: the driver connects on first use (`ready()` to
 * fail fast). Invalid configuration throws one ConfigError at once.
 * @example
 * const cache = createCache()                                         // memory, from env
 * const shared = createCache({ driver: 'redis', redis: { url: 'redis://cache:6379' }, namespace: 'links' })
 * const user = await shared.getOrSet(`user:${id}`, () => loadUser(id), { ttl: '10m' })
 */
export function createCache(options: CacheOptions = {}): Cache {
  const root = new Root(options)
  const view = new Cache(root, root.config.namespace)
  root.rootView = view
  return view
}
