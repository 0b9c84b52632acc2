import type { CacheConfig } from './config.ts'

/** A value or a promise of it: drivers that answer synchronously (memory) return plain values. */
export type MaybePromise<T> = T | Promise<T>

/**
 * What a driver stores. With `capabilities.values === 'bytes'` it is a Uint8Array made by the
 * facade's serializer (or, only for drivers declaring `capabilities.text`, a string holding
 * those bytes as UTF-8), and an EMPTY Uint8Array is a negative entry ("known missing").
 * With `'any'` (the memory driver by reference) it is the caller's value itself, and
 * {@link NEGATIVE} marks a negative entry.
 */
export type StoredValue = unknown

/** Marks a negative entry in drivers that store values by reference. */
export const NEGATIVE: unique symbol = Symbol.for('beaver-kit.cache.negative')

/** One entry of a batch write. `ttlMs` undefined means no expiry. */
export interface DriverEntry {
  key: string
  value: StoredValue
  ttlMs: number | undefined
}

/** One stored entry as `entries()` returns it (query support). */
export interface DriverRow {
  namespace: string
  key: string
  value: Uint8Array
  /** ms since epoch; undefined when it never expires. */
  expiresAt: number | undefined
  createdAt: number
  updatedAt: number
}

/** Filter of `entries()`. */
export interface EntriesQuery {
  /** Only keys starting with this text. */
  prefix?: string | undefined
  /** Only entries written at or after this time. */
  updatedSince?: Date | undefined
  /** At most this many rows (driver may cap it). */
  limit?: number | undefined
}

/** What a driver does natively. The facade emulates the rest, or refuses with `CACHE_UNSUPPORTED`. */
export interface CacheDriverCapabilities {
  /** `'bytes'`: values are serializer output; `'any'`: values are kept by reference. */
  readonly values: 'bytes' | 'any'
  /** Every primitive returns synchronously (no promise), so the facade can answer without a microtask. */
  readonly sync: boolean
  /** getMany/setMany/deleteMany are single round trips (else the facade loops over the primitives). */
  readonly batch: boolean
  /** increment() is atomic; the facade never emulates it. */
  readonly atomicIncrement: boolean
  /** entries() is available (audit-style queries). */
  readonly query: boolean
  /**
   * set/setMany also accept a string value, meaning its UTF-8 bytes. The facade then passes
   * a text serializer's output without encoding it first; and, when the driver also has
   * `getText`/`getManyText`, reads values as text for a serializer with `deserializeText`.
   */
  readonly text?: boolean
}

/**
 * The contract every cache driver implements: a few primitives over `(namespace, key)`. The
 * facade adds key and TTL validation, serialization, default TTLs, negative caching,
 * stampede protection, stats and tracing, so a driver stays short and a wrapper (tiers,
 * encryption) can stack drivers.
 *
 * Rules: `namespace` is the full namespace path (`'cache:users'`, `''` for none) and keys are
 * already validated; `ttlMs` is a positive integer or undefined (no expiry); errors are
 * thrown as they come (the facade maps them to `CACHE_CONNECTION`/`CACHE_DRIVER`) unless the
 * driver throws a CacheError itself; `clear(ns)` removes `ns` and the namespaces nested under
 * it (`ns:*`) and nothing else; `close()` is idempotent and never closes a client it was given.
 */
export interface CacheDriver {
  readonly name: string
  readonly capabilities: CacheDriverCapabilities
  /** The stored value, or undefined when missing. */
  get(namespace: string, key: string): MaybePromise<StoredValue | undefined>
  set(namespace: string, key: string, value: StoredValue, ttlMs: number | undefined): MaybePromise<void>
  /** Resolves true when the key existed. */
  delete(namespace: string, key: string): MaybePromise<boolean>
  /** Removes the namespace and every namespace nested under it. */
  clear(namespace: string): MaybePromise<void>
  close(): MaybePromise<void>
  has?(namespace: string, key: string): MaybePromise<boolean>
  /** Values in the order of `keys` (which holds no duplicates). */
  getMany?(namespace: string, keys: readonly string[]): MaybePromise<Array<StoredValue | undefined>>
  /**
   * `get` answering the stored bytes decoded as UTF-8 (drivers with `capabilities.text`). The
   * facade calls it only when its serializer reads text (json), so a client that decodes
   * replies itself (ioredis `get`/`mget`) is not made to build Buffers that are then decoded
   * again. The bytes in the store are the same either way.
   */
  getText?(namespace: string, key: string): MaybePromise<string | undefined>
  /** `getMany` answering text, like {@link CacheDriver.getText}. */
  getManyText?(namespace: string, keys: readonly string[]): MaybePromise<Array<string | undefined>>
  setMany?(namespace: string, entries: readonly DriverEntry[]): MaybePromise<void>
  /** Resolves the number of keys that existed. */
  deleteMany?(namespace: string, keys: readonly string[]): MaybePromise<number>
  /**
   * Adds `by` to an integer value (missing counts as 0) and resolves the result; `ttlMs`
   * applies only when the key is created. Throws `CACHE_NOT_A_NUMBER` for a non-integer.
   */
  increment?(namespace: string, key: string, by: number, ttlMs: number | undefined): MaybePromise<number>
  /** Remaining ms, `Infinity` when it never expires, undefined when missing. */
  ttl?(namespace: string, key: string): MaybePromise<number | undefined>
  /** Sets a new TTL on an existing entry; resolves whether it existed. Without it the facade reads and writes back. */
  touch?(namespace: string, key: string, ttlMs: number | undefined): MaybePromise<boolean>
  /** Reads and deletes in one step. Without it the facade reads, then deletes. */
  pull?(namespace: string, key: string): MaybePromise<StoredValue | undefined>
  /** Audit-style reads (query capability). */
  entries?(namespace: string, query: EntriesQuery): Promise<DriverRow[]>
  /** Round trip to the store, for `ready()`. */
  ping?(): Promise<void>
}

/** What `create()` receives besides its own options. */
export interface DriverContext {
  /** The resolved cache configuration (driver sections included). */
  readonly config: CacheConfig
  /** How values are stored in a driver that can do both (memory). */
  readonly storage: 'reference' | 'serialized'
  /** Drivers call it for every entry they evict for room (not for expiry). */
  readonly onEvict: (namespace: string, key: string) => void
  /**
   * Where the cache read its settings: a driver with settings of its own (`BEAVER_CACHE_S3_*`,
   * `BEAVER_CACHE_TIERS`...) reads them from the same place. `envPrefix: false` = no environment.
   */
  readonly envPrefix?: string | false | undefined
  /** The environment the cache was given (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
}

/**
 * A driver definition: the registry reads `name` and `peers` without building anything;
 * `create` runs on first use (it may be async and load an optional peer).
 */
export interface CacheDriverDefinition<O = Record<string, unknown>> {
  readonly name: string
  /** Optional packages the driver loads (checked against peerDependencies by a test). */
  readonly peers: readonly string[]
  create(options: O, context: DriverContext): CacheDriver | Promise<CacheDriver>
}

/**
 * The capabilities of a remote store of serialized values: asynchronous, native batches, no
 * atomic increment, no query; pass what differs.
 * @example readonly capabilities = storeCapabilities({ atomicIncrement: true, text: true })
 */
export function storeCapabilities(differences: Partial<CacheDriverCapabilities> = {}): CacheDriverCapabilities {
  return Object.freeze({
    values: 'bytes',
    sync: false,
    batch: true,
    atomicIncrement: false,
    query: false,
    ...differences,
  })
}

/**
 * Declares a driver; typed identity, so third parties get checking on `create`.
 * @example
 * export const myDriver = defineCacheDriver<{ url: string }>({ name: 'mine', peers: [], create: (o) => new MyDriver(o.url) })
 * registerCacheDriver('mine', myDriver)
 */
export function defineCacheDriver<O>(definition: CacheDriverDefinition<O>): CacheDriverDefinition<O> {
  return definition
}
