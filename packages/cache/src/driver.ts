import type { CacheConfig, CacheSection } from './config.ts'
import type { HybridStats } from './hybrid/stats.ts'
import type { TieredMetrics } from './tiered/metrics.ts'

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

/** An entry read by a driver that keeps stale entries (grace): its bytes and whether it is past its TTL. */
export interface EntryRead {
  /** The stored bytes (empty = a negative entry). */
  value: Uint8Array
  /** Past its TTL (or soft-invalidated by a tag) but within its grace. */
  stale: boolean
  /** When it was written (ms since the epoch): a process waiting on another's lease knows a new value from an old one. */
  createdAt: number
}

/** How `setEntry` stores an entry: its TTL, grace and tags. */
export interface EntryOptions {
  ttlMs: number | undefined
  /** How long it may be served stale after its TTL; undefined = the driver's default grace. */
  graceMs?: number | undefined
  tags?: readonly string[] | undefined
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
  /** Entries are kept past their TTL for their grace (`getEntry`/`setEntry`): stale-while-revalidate. */
  readonly grace?: boolean
  /** Entries carry tags that `invalidateTags` invalidates (`setEntry` with tags). */
  readonly tags?: boolean
  /** A lease shared between processes (`acquireLease`/`releaseLease`): one process loads a cold key. */
  readonly leases?: boolean
}

/** Driver-specific counters merged into the cache's `stats()`. */
export interface DriverStats {
  /** The tiered driver: per-tier counters and the bus. */
  tiers?: TieredMetrics
  /** The hybrid driver: store health, queue depth, memory hits. */
  hybrid?: HybridStats
  /** The encrypted driver: entries re-encrypted under the current key on read. */
  encryption?: { reencrypted: number }
}

/**
 * The contract every cache driver implements: a few primitives over `(namespace, key)`. The
 * facade adds key and TTL validation, serialization, default TTLs, negative caching,
 * stampede protection, grace handling, stats and tracing, so a driver stays short and a
 * composite (tiers, hybrid, encryption) can stack drivers.
 *
 * Rules: `namespace` is the full namespace path (`'cache:users'`, `''` for none; segments never
 * contain `:`, spaces or control characters) and keys are already validated; `ttlMs` is a
 * positive integer or undefined (no expiry); errors are thrown as they come (the facade maps
 * them to `CACHE_CONNECTION`/`CACHE_DRIVER`) unless the driver throws a CacheError itself; no
 * two `(namespace, key)` pairs may share a stored entry; `clear(ns)` removes `ns` and the
 * namespaces nested under it (`ns:*`) and nothing else; `close()` is idempotent and never
 * closes a client it was given.
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
  /**
   * A fresh entry answered synchronously from a hot tier (the tiered driver's memory tier);
   * undefined means "ask get()", not "missing". The facade's get() tries it first, so an L1
   * hit costs no promise of the driver.
   */
  peek?(namespace: string, key: string): HotEntry | undefined
  /**
   * The entries `peek` answers keep the value the facade decoded from them, and every later
   * hit gets that same object (the memory tier under `BEAVER_CACHE_MEMORY_STORAGE=reference`).
   */
  readonly sharesDecoded?: boolean
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
  /**
   * Removes every expired entry the store still holds, in every namespace, and resolves how
   * many. Drivers whose store drops expired entries itself (Redis, KV, DynamoDB) leave it out.
   */
  purgeExpired?(): MaybePromise<number>
  /** An entry with its grace state (capability `grace`): fresh, or stale within its grace. */
  getEntry?(namespace: string, key: string): MaybePromise<EntryRead | undefined>
  /** Stores bytes with a grace and tags (capabilities `grace`, `tags`). */
  setEntry?(namespace: string, key: string, value: Uint8Array, options: EntryOptions): MaybePromise<void>
  /** `hard` makes the tagged entries of `namespace` misses; `soft` makes them stale (capability `tags`). */
  invalidateTags?(namespace: string, tags: readonly string[], mode: 'soft' | 'hard'): Promise<void>
  /** Takes the cross-process lease to load `key`; true when this process got it (capability `leases`). */
  acquireLease?(namespace: string, key: string, leaseMs: number): Promise<boolean>
  releaseLease?(namespace: string, key: string): Promise<void>
  /** Copies `keys` from lower tiers into the upper ones; resolves how many were found. */
  preload?(namespace: string, keys: readonly string[]): Promise<number>
  /** Driver-specific counters for the cache's `stats()`. */
  stats?(): DriverStats
}

/**
 * An entry of a hot tier as `peek` answers it: the serializer's bytes, with room for the facade
 * to keep their UTF-8 text or, when the driver shares decoded values, what it decoded.
 */
export interface HotEntry {
  readonly payload: Uint8Array
  /** The payload as UTF-8, kept by the first reader whose serializer reads text. */
  text: string | undefined
  /** The value `decodedBy` (the facade's codec) decoded from the payload, when values are shared. */
  value: unknown
  decodedBy: unknown
}

/** How a composite asks for an inner driver (a tier, the hybrid store, the encrypted inner driver). */
export interface LoadDriverOptions {
  /** The setting that named the driver, for the unknown-driver message (`TIERED_TIERS`). */
  setting?: string | undefined
  /** Options over the driver's own section (`{ maxItems }` for a bounded memory tier). */
  options?: Readonly<Record<string, unknown>> | undefined
  /** How a memory driver keeps values; composites that store bytes ask for `serialized`. */
  storage?: 'reference' | 'serialized' | undefined
  /** Called for every entry the inner driver evicts for room; default the cache's own counter. */
  onEvict?: ((namespace: string, key: string) => void) | undefined
}

/** What `create()` receives besides its own options. */
export interface DriverContext {
  /** The resolved cache settings (every section). */
  readonly config: CacheConfig
  /** How values are stored in a driver that can do both (memory). */
  readonly storage: 'reference' | 'serialized'
  /** Drivers call it for every entry they evict for room (not for expiry). */
  readonly onEvict: (namespace: string, key: string) => void
  /**
   * The full name of a setting under the cache's env prefix, for messages:
   * `variable('S3_BUCKET')` → `BEAVER_CACHE_S3_BUCKET` (`USER_CACHE_S3_BUCKET` under `USER_`).
   */
  variable(suffix: string): string
  /**
   * Builds another driver by name from its own section of the cache's settings (and the
   * explicit options of that section): how composites receive built drivers without a
   * registry of their own. The caller owns and closes what it gets.
   */
  loadDriver(name: string, options?: LoadDriverOptions): Promise<CacheDriver>
}

/**
 * A driver definition: the registry reads `name`, `peers` and `section` without building
 * anything; `create` runs on first use (it may be async and load an optional peer).
 */
export interface CacheDriverDefinition<O = Record<string, unknown>> {
  readonly name: string
  /** Optional packages the driver loads (checked against peerDependencies by a test). */
  readonly peers: readonly string[]
  /**
   * The section of the cache's settings that holds this driver's options (`redis` →
   * `BEAVER_CACHE_REDIS_*`): the facade and `loadDriver` pass that section, with the explicit
   * options of the same name over it. A registered driver without one gets `driverOptions`.
   */
  readonly section?: CacheSection | undefined
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
