import { eventChannel, sleep, tracingChannel } from '@beaver-kit/core'
import {
  createCache,
  parseTtl,
  type Cache,
  type CacheOptions,
  type CacheStats,
  type Duration,
  type LoaderContext,
  type OperationOptions,
  type SetOptions,
} from '../cache.ts'
import { cacheSchema, type CacheConfig } from '../config.ts'
import { cacheTiersSchema, type CacheTiersConfig, type CacheTiersConfigOptions } from '../config-part2.ts'
import { defineCacheDriver, type CacheDriver, type CacheDriverDefinition, type DriverContext } from '../driver.ts'
import { cacheDriverNames, loadDriverDefinition } from '../registry.ts'
import { cacheVariable, readCacheSection, resolveCacheSection, type EnvSource } from '../env.ts'
import { CacheError } from '../errors.ts'
import { jsonSerializer, msgpackSerializer, rawSerializer, utf8, type Serializer } from '../serializers.ts'
import { createRedisBus, type InvalidationBus } from '../bus/bus.ts'
import { part2Error } from './envelope.ts'
import { TieredDriver, type TierDefinition, type TieredMetrics } from './driver.ts'
import { AdaptiveStrategy, BasicStrategy, type TierStrategy } from './strategy.ts'

/** A tier given by name (built from the cache's env sections) or as a ready definition. */
export type TierInput = string | TierDefinition

/** Options of {@link createTieredCache}: part 1's cache options, plus tiers, grace and the bus. */
export interface TieredCacheOptions
  extends Omit<CacheOptions, 'driver' | 'driverOptions'>, Omit<CacheTiersConfigOptions, 'tiers' | 'bus'> {
  /** Tiers top first; default `BEAVER_CACHE_TIERS`, else memory over redis. */
  tiers?: readonly TierInput[]
  /** `basic`, `adaptive` or your own strategy; default `BEAVER_CACHE_TIER_STRATEGY`. */
  strategy?: 'basic' | 'adaptive' | TierStrategy
  /** `'redis'`, `'none'` or a bus instance (shared by several caches, not closed by them). */
  bus?: 'redis' | 'none' | InvalidationBus
}

/** Options of {@link TieredCache.set}. */
export interface TieredSetOptions extends SetOptions {
  /** Tags for `invalidateTags`. */
  tags?: readonly string[] | undefined
  /** Grace of this entry (how long it may be served stale after its TTL). */
  grace?: Duration | undefined
}

/** Options of {@link TieredCache.getOrSet}. */
export interface TieredGetOrSetOptions extends TieredSetOptions {
  /** How long an `undefined` loader result is remembered; default not at all. */
  negativeTtl?: Duration | undefined
  /** Ignore a cached value and load (callers of one key still share one call). */
  forceFresh?: boolean | undefined
  /** Serve a stale value at once while one background refresh runs; default from config (true). */
  staleWhileRevalidate?: boolean | undefined
  /** With a stale value (and no SWR), wait this long for the loader, then serve stale. */
  softTimeout?: Duration | undefined
  /** Longest this caller waits for the loader: `CACHE_LOADER_TIMEOUT`. */
  hardTimeout?: Duration | undefined
  /** Cluster-wide single-flight lease; 0 disables it for this call. */
  lease?: Duration | undefined
}

/** Result of {@link TieredCache.warm}. */
export interface WarmResult {
  loaded: number
  /** Keys that were already fresh. */
  skipped: number
  failed: number
  errors: Array<{ key: string; error: unknown }>
}

/** Reads of one namespace answered by the L1 fast path (a negative entry is a miss). */
interface FastCounters {
  hits: number
  misses: number
}

const RESOLVED_UNDEFINED: Promise<undefined> = Promise.resolve(undefined)
const warmChannel = eventChannel('cache', 'warm')
const graceChannel = eventChannel('cache', 'grace')
const getChannel = tracingChannel('cache', 'get')

interface Shared {
  driver: Promise<TieredDriver>
  /** `ready` once the driver and the serializer exist (the synchronous L1 hit path needs both). */
  fast: { ready: { driver: TieredDriver; serializer: Serializer } | undefined; closed: boolean }
  /** L1 reads answered without the part-1 facade, per namespace (merged into stats()). */
  fastHits: Map<string, FastCounters>
  inner: Cache
  config: CacheTiersConfig
  serializer: () => Promise<Serializer>
  maxKeyLength: number
  defaultTtlMs: number | undefined
  inflight: Map<string, Promise<unknown>>
  lifetime: AbortController
}

/**
 * A cache over several tiers with grace (stale-while-revalidate, stale on loader failure,
 * soft and hard loader timeouts), cluster-wide single-flight, tags and an invalidation bus.
 * Everything else (get/set/batches/namespaces/stats) is part 1's cache API over a
 * {@link TieredDriver}. Built by {@link createTieredCache}.
 */
export class TieredCache {
  readonly #s: Shared
  readonly #view: Cache
  readonly #ns: string
  readonly #fast: FastCounters
  #closed = false

  /** @internal use createTieredCache() */
  constructor(shared: Shared, view: Cache) {
    this.#s = shared
    this.#view = view
    this.#ns = view.namespaceName
    let fast = shared.fastHits.get(this.#ns)
    if (fast === undefined) {
      fast = { hits: 0, misses: 0 }
      shared.fastHits.set(this.#ns, fast)
    }
    this.#fast = fast
  }

  /** The full namespace of this view. */
  get namespaceName(): string {
    return this.#ns
  }

  /** The underlying part-1 cache view (every operation, without tags and grace). */
  get cache(): Cache {
    return this.#view
  }

  /** The tiered driver (metrics, tiers). Loads it on first call. */
  driver(): Promise<TieredDriver> {
    return this.#s.driver
  }

  /** A view of a nested namespace on the same tiers. */
  namespace(name: string): TieredCache {
    return new TieredCache(this.#s, this.#view.namespace(name))
  }

  /**
   * The value of `key`. A fresh L1 hit is answered synchronously (an already resolved
   * promise), without the facade: the memory tier holds the entry with its ref, hash and
   * text worked out at write time, so the hit is a lookup, a bit, four counters and a parse.
   * Values are still decoded on every read, so callers get copies, as from any other tier.
   */
  get<T = unknown>(key: string, options?: OperationOptions): Promise<T | undefined> {
    const s = this.#s
    const r = s.fast.ready
    if (
      r !== undefined &&
      !this.#closed &&
      !s.fast.closed &&
      options?.signal === undefined &&
      !getChannel.hasSubscribers &&
      typeof key === 'string' &&
      key.length > 0 &&
      key.length <= s.maxKeyLength
    ) {
      const hit = r.driver.peekTop(this.#ns, key)
      if (hit !== undefined) {
        const payload = hit.payload
        if (payload.byteLength === 0) {
          this.#fast.misses++
          return RESOLVED_UNDEFINED
        }
        try {
          const ser = r.serializer
          const value =
            ser.deserializeText !== undefined
              ? ser.deserializeText((hit.text ??= utf8(payload)))
              : ser.deserialize(payload)
          this.#fast.hits++
          return Promise.resolve(value as T)
        } catch (err) {
          return Promise.reject(err as Error)
        }
      }
    }
    return this.#view.get<T>(key, options)
  }
  getMany<T = unknown>(keys: readonly string[], options?: OperationOptions): Promise<Array<T | undefined>> {
    return this.#view.getMany<T>(keys, options)
  }
  has(key: string, options?: OperationOptions): Promise<boolean> {
    return this.#view.has(key, options)
  }
  ttl(key: string, options?: OperationOptions): Promise<number | undefined> {
    return this.#view.ttl(key, options)
  }
  delete(key: string, options?: OperationOptions): Promise<boolean> {
    return this.#view.delete(key, options)
  }
  deleteMany(keys: readonly string[], options?: OperationOptions): Promise<number> {
    return this.#view.deleteMany(keys, options)
  }
  pull<T = unknown>(key: string, options?: OperationOptions): Promise<T | undefined> {
    return this.#view.pull<T>(key, options)
  }
  touch(key: string, ttl?: Duration, options?: OperationOptions): Promise<boolean> {
    return this.#view.touch(key, ttl, options)
  }
  clear(options?: OperationOptions): Promise<void> {
    return this.#view.clear(options)
  }
  /** Part 1's counters, plus the L1 hits answered by the fast path. */
  stats(): CacheStats {
    const st = this.#view.stats()
    let hits = st.hits
    let misses = st.misses
    for (const [ns, n] of this.#s.fastHits) {
      if (n.hits === 0 && n.misses === 0) continue
      hits += n.hits
      misses += n.misses
      const c = (st.namespaces[ns] ??= { hits: 0, misses: 0, sets: 0, deletes: 0, evictions: 0, errors: 0 })
      c.hits += n.hits
      c.misses += n.misses
    }
    return { ...st, hits, misses, hitRatio: hits + misses === 0 ? 0 : hits / (hits + misses) }
  }
  ready(options?: OperationOptions): Promise<void> {
    return this.#view.ready(options)
  }

  /** Per-tier counters (hits, misses, promotions, demotions, rejections, ...), totals and per namespace. */
  async metrics(): Promise<TieredMetrics> {
    return (await this.#s.driver).metrics()
  }

  #checkKey(key: string): void {
    if (typeof key !== 'string' || key.length === 0 || key.length > this.#s.maxKeyLength) {
      throw part2Error(
        'CACHE_KEY_INVALID',
        `A cache key must be a non-empty string of at most ${this.#s.maxKeyLength} characters, got ${typeof key === 'string' ? `a string of length ${key.length}` : typeof key}.`,
      )
    }
  }

  /** Stores `value`; with `tags` or `grace`, the entry carries them in every tier. */
  async set<T = unknown>(key: string, value: T, options?: TieredSetOptions): Promise<void> {
    if (options?.tags === undefined && options?.grace === undefined) return this.#view.set(key, value, options)
    this.#checkKey(key)
    const ttlMs = parseTtl(options.ttl, this.#s.defaultTtlMs)
    const graceMs =
      options.grace === undefined ? undefined : (parseTtl(options.grace, undefined, 'grace') ?? Number.MAX_SAFE_INTEGER)
    const bytes = (await this.#s.serializer()).serialize(value)
    const d = await this.#s.driver
    await d.writeEnvelope(this.namespaceName, key, d.envelope(bytes, ttlMs, { graceMs, tags: options.tags }))
  }

  /**
   * Invalidates every entry of this namespace carrying one of `tags`, in every tier and every
   * process: `hard` (default) makes them misses; `soft` makes them stale, so grace can still
   * serve them while one refresh runs.
   */
  async invalidateTags(tags: readonly string[], options: { mode?: 'soft' | 'hard' } = {}): Promise<void> {
    const d = await this.#s.driver
    await d.invalidateTags(this.namespaceName, tags, options.mode ?? 'hard')
  }

  /**
   * The cached value, or the loader's. Fresh: returned. Stale within grace: returned at once
   * while one background refresh runs (stale-while-revalidate), or after `softTimeout`, or
   * when the loader fails. Missing: callers in this process share one loader call, and with a
   * shared tier the processes of a cluster share one too (a lease in the shared tier; the
   * others wait for the value to appear).
   */
  async getOrSet<T>(
    key: string,
    loader: (ctx: LoaderContext) => T | Promise<T>,
    options: TieredGetOrSetOptions = {},
  ): Promise<T> {
    this.#checkKey(key)
    const s = this.#s
    const d = await s.driver
    const ns = this.namespaceName
    const serializer = await s.serializer()
    const decode = (payload: Uint8Array): T =>
      (payload.byteLength === 0 ? undefined : serializer.deserialize(payload)) as T
    const r = options.forceFresh === true ? undefined : await d.read(ns, key)
    if (r?.state === 'fresh') return decode(r.envelope.payload)
    const stale = r?.state === 'stale' ? r.envelope : undefined
    const slot = `${ns}\u0000${key}`
    let flight = s.inflight.get(slot) as Promise<T> | undefined
    if (flight === undefined) {
      const started = this.#refresh(d, key, loader, options, serializer)
      flight = started
      s.inflight.set(slot, started)
      void started
        .finally(() => {
          if (s.inflight.get(slot) === started) s.inflight.delete(slot)
        })
        .catch(() => undefined)
    }
    const hardMs = parseOptionalMs(options.hardTimeout, s.config.hardTimeout)
    if (stale !== undefined) {
      const swr = options.staleWhileRevalidate ?? s.config.staleWhileRevalidate
      const serveStale = (reason: string, error?: unknown): T => {
        if (graceChannel.hasSubscribers) graceChannel.publish({ namespace: ns, key, reason, error })
        return decode(stale.payload)
      }
      if (swr) {
        flight.catch((error: unknown) => serveStale('refresh-failed', error))
        return serveStale('stale-while-revalidate')
      }
      const softMs = parseOptionalMs(options.softTimeout, s.config.softTimeout)
      try {
        const won = await raceTimeout(flight, softMs)
        return won.timedOut ? serveStale('soft-timeout') : won.value
      } catch (error) {
        return serveStale('loader-failed', error)
      }
    }
    const won = await raceTimeout(flight, hardMs)
    if (won.timedOut) {
      throw part2Error(
        'CACHE_LOADER_TIMEOUT',
        `The loader of "${key}" did not finish within the hard timeout (${hardMs} ms) and no stale value was available; raise hardTimeout or give the entry a grace period.`,
        {
          details: { key, namespace: ns, hardTimeoutMs: hardMs },
        },
      )
    }
    return won.value
  }

  async #refresh<T>(
    d: TieredDriver,
    key: string,
    loader: (ctx: LoaderContext) => T | Promise<T>,
    options: TieredGetOrSetOptions,
    serializer: Serializer,
  ): Promise<T> {
    const s = this.#s
    const ns = this.namespaceName
    const leaseMs = options.lease === 0 || options.lease === '0' ? 0 : parseOptionalMs(options.lease, s.config.lease)
    let leased = false
    if (leaseMs > 0 && d.hasSharedTier) {
      const since = Date.now()
      for (let round = 1; ; round++) {
        if (await d.acquireLease(ns, key, leaseMs)) {
          leased = true
          break
        }
        // Another process loads it: wait for its value (or for its lease to lapse).
        await sleep(Math.min(200, 10 * round), s.lifetime.signal)
        const r = await d.read(ns, key)
        if (r?.state === 'fresh' && r.envelope.createdAt >= since - 1) {
          return (r.envelope.payload.byteLength === 0 ? undefined : serializer.deserialize(r.envelope.payload)) as T
        }
        if (Date.now() - since > leaseMs) break
      }
    }
    try {
      let skip = false
      let ttlMs = parseTtl(options.ttl, s.defaultTtlMs)
      const value = await loader({
        key,
        signal: s.lifetime.signal,
        skip: () => {
          skip = true
        },
        setTtl: (ttl) => {
          ttlMs = parseTtl(ttl, s.defaultTtlMs)
        },
      })
      if (!skip) {
        const graceMs =
          options.grace === undefined
            ? undefined
            : (parseTtl(options.grace, undefined, 'grace') ?? Number.MAX_SAFE_INTEGER)
        if (value === undefined) {
          const negativeMs =
            options.negativeTtl === undefined ? undefined : parseTtl(options.negativeTtl, undefined, 'negativeTtl')
          if (negativeMs !== undefined)
            await d.writeEnvelope(ns, key, d.envelope(new Uint8Array(0), negativeMs, { graceMs: 0 }))
        } else {
          await d.writeEnvelope(
            ns,
            key,
            d.envelope(serializer.serialize(value), ttlMs, { graceMs, tags: options.tags }),
          )
        }
      }
      return value
    } finally {
      if (leased) await d.releaseLease(ns, key).catch(() => undefined)
    }
  }

  /**
   * Loads every key that is not fresh yet (`keys` may be an async iterator, e.g. a database
   * cursor), at most `concurrency` at a time, publishing progress on `beaver:cache:warm`.
   * @example await cache.warm(topProductIds, (id) => loadProduct(id), { concurrency: 8, ttl: '1h' })
   */
  async warm<T>(
    keys: Iterable<string> | AsyncIterable<string>,
    loader: (key: string) => T | Promise<T>,
    options: TieredSetOptions & { concurrency?: number } = {},
  ): Promise<WarmResult> {
    const result: WarmResult = { loaded: 0, skipped: 0, failed: 0, errors: [] }
    const d = await this.#s.driver
    const ns = this.namespaceName
    const concurrency = Math.max(1, options.concurrency ?? 4)
    const iterator = (
      Symbol.asyncIterator in keys ? keys[Symbol.asyncIterator]() : (keys as Iterable<string>)[Symbol.iterator]()
    ) as AsyncIterator<string> | Iterator<string>
    const one = async (key: string): Promise<void> => {
      try {
        const r = await d.read(ns, key)
        if (r?.state === 'fresh') result.skipped++
        else {
          await this.set(key, await loader(key), options)
          result.loaded++
        }
      } catch (error) {
        result.failed++
        result.errors.push({ key, error })
      }
      if (warmChannel.hasSubscribers)
        warmChannel.publish({
          namespace: ns,
          key,
          loaded: result.loaded,
          skipped: result.skipped,
          failed: result.failed,
        })
    }
    const worker = async (): Promise<void> => {
      for (;;) {
        const next = await iterator.next()
        if (next.done === true) return
        await one(next.value)
      }
    }
    await Promise.all(Array.from({ length: concurrency }, () => worker()))
    return result
  }

  /** Copies `keys` from lower tiers into the upper ones (start-up preloading), through the strategy. */
  async preload(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0
    const values = await (await this.#s.driver).getMany(this.namespaceName, keys)
    const n = values.filter((v) => v !== undefined).length
    if (warmChannel.hasSubscribers)
      warmChannel.publish({ namespace: this.namespaceName, preloaded: n, requested: keys.length })
    return n
  }

  /** Closes the cache (the root closes its tiers and, when it made it, the bus). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true
    if (this.#view === this.#s.inner) {
      this.#s.fast.closed = true
      this.#s.fast.ready = undefined
      this.#s.lifetime.abort(part2Error('CACHE_CLOSED', 'The cache was closed.'))
    }
    await this.#view.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

function parseOptionalMs(value: Duration | undefined, fallback: number): number {
  if (value === undefined) return fallback
  return parseTtl(value, undefined) ?? 0
}

async function raceTimeout<T>(
  promise: Promise<T>,
  ms: number,
): Promise<{ timedOut: false; value: T } | { timedOut: true }> {
  if (ms <= 0) return { timedOut: false, value: await promise }
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<{ timedOut: true }>((resolve) => {
    timer = setTimeout(() => resolve({ timedOut: true }), ms)
  })
  try {
    return await Promise.race([promise.then((value) => ({ timedOut: false as const, value })), timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Explicit section options of a tiered cache (they beat the env sections for the tiers of that name). */
interface TierSections {
  memory?: TieredCacheOptions['memory']
  redis?: TieredCacheOptions['redis']
  db?: TieredCacheOptions['db']
}

/** Builds the options a named tier's driver gets from the cache's env sections. */
function tierDriverOptions(
  name: string,
  config: CacheConfig,
  sections: TierSections,
  capacity: number | undefined,
): Record<string, unknown> {
  switch (name) {
    case 'memory':
      return { ...config.memory, ...sections.memory, ...(capacity === undefined ? {} : { maxItems: capacity + 1 }) }
    case 'redis':
      return { ...config.redis, ...sections.redis }
    case 'database':
      return { ...config.db, ...sections.db }
    default:
      // Part-2 drivers (s3, dynamodb, hybrid, encrypted...) read their own sections from the context.
      return {}
  }
}

function makeStrategy(
  input: TieredCacheOptions['strategy'],
  tiersConfig: CacheTiersConfig,
  baseConfig: CacheConfig,
): TierStrategy {
  if (typeof input === 'object') return input
  return (input ?? tiersConfig.tierStrategy) === 'basic'
    ? new BasicStrategy()
    : new AdaptiveStrategy({ capacity: Math.max(1000, tiersConfig.topCapacity || baseConfig.memory.maxItems) })
}

function tierInputs(given: readonly TierInput[] | undefined, tiersConfig: CacheTiersConfig): readonly TierInput[] {
  return given ?? (tiersConfig.tiers && tiersConfig.tiers.length > 0 ? tiersConfig.tiers : ['memory', 'redis'])
}

interface BuildTiered {
  inputs: readonly TierInput[]
  strategy: TierStrategy
  tiersConfig: CacheTiersConfig
  baseConfig: CacheConfig
  /** A bus instance (not closed by the driver); else `tiersConfig.bus` decides. */
  bus: InvalidationBus | undefined
  sections: TierSections
  source: EnvSource
}

/** Creates each tier's driver (by name from the env sections, or as given), the bus, and the tiered driver over them. */
async function buildTieredDriver(b: BuildTiered): Promise<TieredDriver> {
  const { inputs, tiersConfig, baseConfig, source } = b
  const defs: TierDefinition[] = []
  const slot: { tiered?: TieredDriver } = {}
  const pending: Array<{ index: number; ns: string; key: string }> = []
  try {
    for (const [index, input] of inputs.entries()) {
      if (typeof input !== 'string') {
        defs.push(input)
        continue
      }
      if (input === 'tiered' || !cacheDriverNames().includes(input)) {
        throw new CacheError(
          input === 'tiered' ? 'CACHE_OPTIONS_INVALID' : 'CACHE_DRIVER_UNKNOWN',
          `${cacheVariable(source, 'TIERS')} lists "${input}", which ${input === 'tiered' ? 'cannot be a tier of itself' : 'is no cache driver'}; list drivers top first, such as memory,redis (known: ${cacheDriverNames()
            .filter((n) => n !== 'tiered')
            .join(', ')}).`,
          { details: { tier: input, tiers: inputs.filter((t) => typeof t === 'string') } },
        )
      }
      const capacity =
        index === 0 && input === 'memory' && inputs.length > 1
          ? tiersConfig.topCapacity || baseConfig.memory.maxItems
          : undefined
      const definition = await loadDriverDefinition(input)
      const context: DriverContext = {
        config: baseConfig,
        storage: 'reference',
        onEvict: (ns, key) => {
          if (slot.tiered) slot.tiered.onTierEvict(index, ns, key)
          else pending.push({ index, ns, key })
        },
        envPrefix: source.envPrefix,
        env: source.env,
      }
      const driver: CacheDriver = await definition.create(
        tierDriverOptions(input, baseConfig, b.sections, capacity) as never,
        context,
      )
      defs.push({ driver, name: input, capacity })
    }
  } catch (err) {
    for (const d of defs) await Promise.resolve(d.driver.close()).catch(() => undefined)
    throw err
  }
  let bus = b.bus
  let ownsBus = false
  if (bus === undefined && tiersConfig.bus === 'redis') {
    bus = createRedisBus({ url: tiersConfig.busUrl ?? baseConfig.redis.url, channel: tiersConfig.busChannel })
    ownsBus = true
  }
  if (bus) await bus.ready()
  const tiered = new TieredDriver({
    tiers: defs,
    strategy: b.strategy,
    writes: tiersConfig.tierWrites,
    graceMs: tiersConfig.grace,
    bus,
    ownsBus,
  })
  slot.tiered = tiered
  for (const p of pending) tiered.onTierEvict(p.index, p.ns, p.key)
  return tiered
}

/** Options of the `tiered` driver definition: what `createTieredCache` takes about tiers, as driverOptions. */
export interface TieredDefinitionOptions extends Omit<CacheTiersConfigOptions, 'tiers' | 'bus'> {
  /** Tiers top first; default `BEAVER_CACHE_TIERS`, else memory over redis. */
  tiers?: readonly TierInput[] | undefined
  strategy?: 'basic' | 'adaptive' | TierStrategy | undefined
  bus?: 'redis' | 'none' | InvalidationBus | undefined
}

/**
 * The tiered driver as a definition, registered as `tiered`: `BEAVER_CACHE_DRIVER=tiered
 * BEAVER_CACHE_TIERS=memory,redis` gives part 1's cache API over the tiers (each tier from its
 * own env section), with the strategy, writes policy, grace and bus of `BEAVER_CACHE_TIER_*`,
 * `BEAVER_CACHE_GRACE` and `BEAVER_CACHE_BUS*`. Tags and grace-aware getOrSet need
 * {@link createTieredCache}, which builds the same driver.
 * @example const cache = createCache({ driver: 'tiered', driverOptions: { tiers: ['memory', 'redis'] } })
 */
export const tieredDriver = defineCacheDriver<TieredDefinitionOptions>({
  name: 'tiered',
  peers: [],
  create(options, context) {
    const { tiers, strategy, bus, ...scalars } = options
    const source: EnvSource = { envPrefix: context.envPrefix, env: context.env }
    const tiersConfig = readCacheSection(cacheTiersSchema, source, {
      ...scalars,
      bus: typeof bus === 'string' ? bus : undefined,
    })
    return buildTieredDriver({
      inputs: tierInputs(tiers, tiersConfig),
      strategy: makeStrategy(strategy, tiersConfig, context.config),
      tiersConfig,
      baseConfig: context.config,
      bus: typeof bus === 'object' ? bus : undefined,
      sections: {},
      source,
    })
  },
})

/**
 * Builds a tiered cache from options over `BEAVER_CACHE_*`: `BEAVER_CACHE_TIERS=memory,redis`
 * with each tier's own section (`BEAVER_CACHE_MEMORY_MAX_ITEMS`, `BEAVER_CACHE_REDIS_URL`...),
 * the strategy, grace and the bus. Synchronous and without I/O, like `createCache`.
 * @example
 * const cache = createTieredCache({ tiers: ['memory', 'redis'], strategy: 'adaptive', grace: '10m', bus: 'redis' })
 * const user = await cache.getOrSet(`user:${id}`, () => loadUser(id), { ttl: '1m', tags: [`team:${teamId}`] })
 */
export function createTieredCache(options: TieredCacheOptions = {}): TieredCache {
  const {
    tiers: givenTiers,
    strategy: strategyInput,
    bus: busInput,
    envPrefix,
    env,
    tierStrategy,
    tierWrites,
    topCapacity,
    grace,
    staleWhileRevalidate,
    softTimeout,
    hardTimeout,
    lease,
    busUrl,
    busChannel,
    ...cacheOptions
  } = options
  const source: EnvSource = { envPrefix, env }
  const tiersConfig = resolveCacheSection(cacheTiersSchema, {
    options: {
      tierStrategy,
      tierWrites,
      topCapacity,
      grace,
      staleWhileRevalidate,
      softTimeout,
      hardTimeout,
      lease,
      busUrl,
      busChannel,
      bus: typeof busInput === 'string' ? busInput : undefined,
    },
    ...source,
  }).values
  const { serializer: serializerOption, ...partOne } = cacheOptions
  const baseConfig = readCacheSection(cacheSchema, source, {
    ...partOne,
    serializer: typeof serializerOption === 'string' ? serializerOption : undefined,
  })
  const strategy = makeStrategy(strategyInput, tiersConfig, baseConfig)

  let made: Promise<TieredDriver> | undefined
  const build = (): Promise<TieredDriver> =>
    buildTieredDriver({
      inputs: tierInputs(givenTiers, tiersConfig),
      strategy,
      tiersConfig,
      baseConfig,
      bus: typeof busInput === 'object' ? busInput : undefined,
      sections: { memory: options.memory, redis: options.redis, db: options.db },
      source,
    })
  let serializerPromise: Promise<Serializer> | undefined
  const serializer = (): Promise<Serializer> =>
    (serializerPromise ??=
      typeof serializerOption === 'object'
        ? Promise.resolve(serializerOption)
        : baseConfig.serializer === 'msgpack'
          ? msgpackSerializer()
          : Promise.resolve(baseConfig.serializer === 'raw' ? rawSerializer : jsonSerializer))
  const fast: Shared['fast'] = { ready: undefined, closed: false }
  const load = (): Promise<TieredDriver> => {
    if (made === undefined) {
      made = build()
      // Once the driver and the serializer exist, L1 hits skip the facade.
      void Promise.all([made, serializer()]).then(
        ([driver, ser]) => {
          if (!fast.closed) fast.ready = { driver, serializer: ser }
        },
        () => undefined,
      )
    }
    return made
  }
  const definition: CacheDriverDefinition<never> = { name: 'tiered', peers: [], create: () => load() }
  const inner = createCache({ ...cacheOptions, envPrefix, env, driver: definition })
  const shared: Shared = {
    get driver() {
      return load()
    },
    inner,
    config: tiersConfig,
    serializer,
    maxKeyLength: baseConfig.maxKeyLength,
    defaultTtlMs: baseConfig.defaultTtl > 0 ? baseConfig.defaultTtl : undefined,
    inflight: new Map(),
    lifetime: new AbortController(),
    fast,
    fastHits: new Map(),
  }

  return new TieredCache(shared, inner)
}
