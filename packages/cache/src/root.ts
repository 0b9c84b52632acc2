import { isBeaverError, isNetworkErrorCode, publishCounters, type CounterSource } from '@beaver-kit/core'
import {
  DEFAULT_PREFIX,
  describeInstance,
  listFields,
  resolveConfig,
  type InstanceDescription,
  type ResolvedConfig,
} from '@beaver-kit/config'
import { channels } from './channels.ts'
import { Codec } from './codec.ts'
import { cacheSchema, type CacheConfig, type CacheSection, type CacheSettings } from './config.ts'
import type { CacheDriver, CacheDriverDefinition, DriverContext, LoadDriverOptions } from './driver.ts'
import { CacheError } from './errors.ts'
import { cacheDrivers } from './registry.ts'
import { jsonSerializer, msgpackSerializer, rawSerializer, type Serializer } from './serializers.ts'
import { Flights } from './single-flight.ts'
import type { CacheCounters, CacheOptions, CacheStats } from './types.ts'

// Beyond the network codes core knows: PostgreSQL and MySQL codes for a lost connection.
const CONNECTION_CODES = new Set(['57P01', '08006', '08001', '08003', 'PROTOCOL_CONNECTION_LOST'])

type Definition = CacheDriverDefinition<unknown>

/** The cache was closed: what every call on it (or on one of its namespace views) gets. */
export function closedError(): CacheError {
  return new CacheError(
    'CACHE_CLOSED',
    'The cache was closed; create a new one (or call resetCache() for the default instance).',
  )
}

/**
 * The shared state behind a cache and all its namespace views: the settings resolved once,
 * one driver (one connection), the codec, counters, the in-process flights and the lifetime
 * signal loaders see. Creating it does no I/O.
 */
export class CacheRoot {
  readonly config: CacheConfig
  readonly driverName: string
  readonly envPrefix: string | false | undefined
  readonly maxKeyLength: number
  readonly defaultTtlMs: number | undefined
  readonly negativeTtlMs: number | undefined
  readonly counters = new Map<string, CacheCounters>()
  readonly lifetime = new AbortController()
  readonly flights = new Flights(this.lifetime.signal)
  /** Set once the driver exists; `syncDriver` too when it answers synchronously. */
  driver: CacheDriver | undefined
  syncDriver: CacheDriver | undefined
  /** The driver when it answers hot entries synchronously (`peek`). */
  peekDriver: CacheDriver | undefined
  codec: Codec | undefined
  /** The driver keeps values by reference (codec.byReference), read on the sync hot path. */
  byReference = false
  /** The peek driver's entries keep what the codec decoded (driver.sharesDecoded). */
  sharedHot = false
  closed = false
  /** The view createCache() returned: closing it closes the driver. */
  rootView: object | undefined = undefined
  readonly #resolved: ResolvedConfig<CacheConfig>
  readonly #options: CacheOptions
  readonly #definition: Definition | undefined
  #serializer: Serializer | undefined
  #loading: Promise<CacheDriver> | undefined
  #closing: Promise<void> | undefined
  // The counters per namespace, read by metrics when scraped (nothing is observed per operation).
  readonly #published: CounterSource = () =>
    Array.from(this.counters, ([namespace, c]) => ({
      labels: { driver: this.driverName, namespace },
      counts: { ...c },
    }))
  readonly #unpublish: () => void

  constructor(options: CacheOptions) {
    this.#options = options
    const { envPrefix, env, driver, serializer } = options
    this.envPrefix = envPrefix
    this.#resolved = resolveConfig(cacheSchema, {
      options: {
        ...settingsOf(options),
        driver: typeof driver === 'string' ? driver : undefined,
        serializer: typeof serializer === 'string' ? serializer : undefined,
      },
      envPrefix,
      ...(env === undefined ? {} : { env }),
    })
    const config = this.#resolved.values
    this.config = config
    this.#definition = typeof driver === 'object' ? (driver as Definition) : undefined
    this.driverName = this.#definition?.name ?? config.driver
    this.maxKeyLength = config.maxKeyLength
    this.defaultTtlMs = config.defaultTtl > 0 ? config.defaultTtl : undefined
    this.negativeTtlMs = config.negativeTtl > 0 ? config.negativeTtl : undefined
    if (typeof serializer === 'object') this.#serializer = serializer
    else if (config.serializer === 'json') this.#serializer = jsonSerializer
    else if (config.serializer === 'raw') this.#serializer = rawSerializer
    // A driver whose definition is at hand and whose create() is synchronous (memory) exists
    // at once, so the first get() already takes the synchronous path. No I/O happens here.
    const definition = this.#definition ?? cacheDrivers.peek(this.driverName)
    if (definition === undefined && !cacheDrivers.has(this.driverName)) {
      // Fail at creation for a name nobody can load (a typo in BEAVER_CACHE_DRIVER).
      throw cacheDrivers.unknown(this.driverName, this.variable('DRIVER'))
    }
    if (definition !== undefined && this.#serializer !== undefined) {
      const made = definition.create(this.#optionsFor(definition, true), this.context())
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
    }
    this.#unpublish = publishCounters('cache', this.#published)
  }

  /** The full name of a setting under this cache's env prefix: `variable('S3_BUCKET')`. */
  variable(suffix: string): string {
    const prefix = typeof this.envPrefix === 'string' ? this.envPrefix : DEFAULT_PREFIX
    return `${prefix}CACHE_${suffix}`
  }

  /** The context a definition's create() gets: settings, eviction counting, and built inner drivers. */
  context(overrides: Pick<LoadDriverOptions, 'storage' | 'onEvict'> = {}): DriverContext {
    return {
      config: this.config,
      storage: overrides.storage ?? this.config.memory.storage,
      onEvict: overrides.onEvict ?? ((ns) => this.#evicted(ns)),
      variable: (suffix) => this.variable(suffix),
      loadDriver: (name, options) => this.#loadInner(name, options),
    }
  }

  #evicted(ns: string): void {
    this.count(ns).evictions++
    if (channels.evict.hasSubscribers) channels.evict.publish({ namespace: ns, driver: this.driverName })
  }

  /**
   * A definition's options: its section of the resolved settings (explicit settings already
   * in it, parsed), plus what the explicit section holds beyond settings (a client, a built
   * driver, a strategy object).
   */
  #optionsFor(definition: Definition, main: boolean, overrides?: Readonly<Record<string, unknown>>): unknown {
    const section: CacheSection | undefined = definition.section
    const fromSettings = section === undefined ? {} : (this.config[section] as object)
    const extras = section === undefined ? {} : extrasOf(section, this.#options[section])
    return { ...fromSettings, ...extras, ...(main ? this.#options.driverOptions : undefined), ...overrides }
  }

  async #loadInner(name: string, options: LoadDriverOptions = {}): Promise<CacheDriver> {
    const definition = await cacheDrivers.load(
      name,
      options.setting === undefined ? undefined : this.variable(options.setting),
    )
    return definition.create(this.#optionsFor(definition, false, options.options), this.context(options))
  }

  #adopt(driver: CacheDriver): CacheDriver {
    if (this.closed) {
      void Promise.resolve(driver.close()).catch(() => undefined)
      throw closedError()
    }
    this.codec = new Codec(this.#serializer as Serializer, driver.capabilities, this.config.maxEntrySize)
    this.driver = driver
    this.byReference = this.codec.byReference
    if (driver.capabilities.sync) this.syncDriver = driver
    if (driver.peek !== undefined) this.peekDriver = driver
    this.sharedHot = driver.sharesDecoded === true
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
      this.#serializer ??= await msgpackSerializer()
      const definition = this.#definition ?? (await cacheDrivers.load(this.driverName, this.variable('DRIVER')))
      const driver = await definition.create(this.#optionsFor(definition, true), this.context())
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
  wrap(err: unknown, op: string, ns: string): unknown {
    let out: unknown = err
    if (isBeaverError(err) && !err.code.startsWith('CACHE_') && !err.code.startsWith('CORE_')) {
      // Another kit package's error (the database driver's DB_CONNECTION, ...): keep it as the cause.
      const code = /CONNECTION|TIMEOUT|CLOSED|AUTH/.test(err.code) ? 'CACHE_CONNECTION' : 'CACHE_DRIVER'
      out = new CacheError(code, `The ${this.driverName} cache failed during ${op}: ${err.message}`, {
        cause: err,
        details: { driver: this.driverName, op, namespace: ns, causeCode: err.code },
      })
    } else if (!isBeaverError(err)) {
      const code = connectionLike(err) ? 'CACHE_CONNECTION' : 'CACHE_DRIVER'
      const what = code === 'CACHE_CONNECTION' ? 'could not reach its store' : 'got an error from its store'
      out = new CacheError(
        code,
        `The ${this.driverName} cache ${what} during ${op}: ${(err as Error | undefined)?.message ?? String(err)}`,
        { cause: err, details: { driver: this.driverName, op, namespace: ns } },
      )
    }
    if (ns !== '' || op !== 'load') this.count(ns).errors++
    if (channels.error.hasSubscribers)
      channels.error.publish({ op, namespace: ns, driver: this.driverName, error: out })
    return out
  }

  /** Counters of every namespace, their totals, and the driver's own counters. */
  stats(): CacheStats {
    const total: CacheCounters = { hits: 0, misses: 0, sets: 0, deletes: 0, evictions: 0, errors: 0 }
    const namespaces: Record<string, CacheCounters> = {}
    for (const [ns, c] of this.counters) {
      namespaces[ns] = { ...c }
      for (const k of Object.keys(total) as Array<keyof CacheCounters>) total[k] += c[k]
    }
    const reads = total.hits + total.misses
    return { ...total, hitRatio: reads === 0 ? 0 : total.hits / reads, namespaces, ...this.driver?.stats?.() }
  }

  /** The settings (secrets masked) and the live state, for `describe()`. */
  describe(namespace: string): InstanceDescription {
    const d = this.driver
    return describeInstance('cache', this.envPrefix, this.#resolved.entries, {
      driver: this.driverName,
      namespace,
      loaded: d !== undefined,
      closed: this.closed,
      synchronous: d?.capabilities.sync,
      grace: d === undefined ? undefined : d.capabilities.grace === true,
      tags: d === undefined ? undefined : d.capabilities.tags === true,
    })
  }

  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    this.closed = true
    this.#unpublish()
    this.lifetime.abort(closedError())
    const driver = this.driver ?? (await this.#loading?.catch(() => undefined))
    this.syncDriver = undefined
    this.peekDriver = undefined
    if (driver !== undefined) await driver.close()
  }
}

const FIELDS = listFields(cacheSchema)
const SECTION_FIELDS = new Map<string, Set<string>>()
for (const { path } of FIELDS) {
  if (path.length !== 2) continue
  const [section, field] = path as [string, string]
  const set = SECTION_FIELDS.get(section) ?? new Set<string>()
  set.add(field)
  SECTION_FIELDS.set(section, set)
}

/** An explicit value the schema validates (text, a number, a boolean, a list of text), not a driver's object. */
function isSetting(value: unknown): boolean {
  if (value === null || value === undefined) return false
  if (Array.isArray(value)) return value.every((v) => typeof v === 'string')
  return typeof value !== 'object' && typeof value !== 'function'
}

/**
 * The explicit options that are settings of the schema: a client, a built driver, a strategy or
 * a key ring object is for the driver, not for the schema to validate.
 */
function settingsOf(options: CacheOptions): CacheSettings {
  const out: Record<string, unknown> = {}
  for (const { path } of FIELDS) {
    let value: unknown = options
    for (const key of path) value = (value as Record<string, unknown> | undefined)?.[key]
    if (!isSetting(value)) continue
    let at = out
    for (const key of path.slice(0, -1)) at = (at[key] ??= {}) as Record<string, unknown>
    at[path[path.length - 1] as string] = value
  }
  return out as CacheSettings
}

/** What an explicit section holds beyond its settings (those are in the resolved config, parsed). */
function extrasOf(section: CacheSection, explicit: object | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (explicit === undefined) return out
  const fields = SECTION_FIELDS.get(section)
  for (const [key, value] of Object.entries(explicit)) {
    if (value === undefined || (fields?.has(key) === true && isSetting(value))) continue
    out[key] = value
  }
  return out
}

function connectionLike(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false
  const e = err as { code?: unknown; name?: unknown; message?: unknown }
  if (isNetworkErrorCode(e.code) || (typeof e.code === 'string' && CONNECTION_CODES.has(e.code))) return true
  if (e.name === 'MaxRetriesPerRequestError' || e.name === 'ClusterAllFailedError') return true
  const m = typeof e.message === 'string' ? e.message : ''
  return /connection (is )?closed|connection terminated|socket (hang up|closed)|stream isn't writeable|connect ECONN|server has gone away|Connection lost/i.test(
    m,
  )
}
