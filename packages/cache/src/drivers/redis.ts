import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis'
import { isUtf8 } from 'node:buffer'
import { importPeer, parseRedisNode } from '@beaver-kit/core'
import { channels } from '../channels.ts'
import { CacheError } from '../errors.ts'
import { defineCacheDriver, storeCapabilities, type CacheDriver, type DriverEntry } from '../driver.ts'

/** Options of the Redis driver: the `BEAVER_CACHE_REDIS_*` settings (durations in ms) and an ioredis client or options. */
export interface RedisCacheOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://` for TLS. */
  url?: string | undefined
  /** `standalone` (default), `cluster` or `sentinel`. */
  mode?: 'standalone' | 'cluster' | 'sentinel' | undefined
  /** Cluster seed nodes, `host:port`; default the URL's host. */
  clusterNodes?: readonly string[] | undefined
  /** Sentinel addresses, `host:port`. */
  sentinels?: readonly string[] | undefined
  sentinelName?: string | undefined
  /** The password the sentinels themselves require (their `requirepass`). */
  sentinelPassword?: string | undefined
  username?: string | undefined
  password?: string | undefined
  tls?: boolean | undefined
  /** ms */
  connectTimeout?: number | undefined
  /** ms; 0 waits for the answer. */
  commandTimeout?: number | undefined
  maxRetriesPerRequest?: number | undefined
  /** Keys per SCAN page and per UNLINK in clear(). */
  clearBatch?: number | undefined
  /** A client you own (Redis or Cluster): reused as it is, never closed by the cache. */
  client?: Redis | Cluster | undefined
  /** Passed to ioredis as is (merged over what the URL and env give). */
  connection?: RedisOptions | undefined
  /** Passed to the ioredis Cluster (mode cluster). */
  cluster?: ClusterOptions | undefined
}

// Adds to an integer (missing = 0), sets the TTL only when the key is created, refuses a
// non-integer: one script, so it is atomic and touches one key (Cluster-safe).
const INCREMENT = `local v = redis.call('GET', KEYS[1])
if v and not string.match(v, '^%-?%d+$') then return redis.error_reply('CACHE_NOT_A_NUMBER') end
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if (not v) and ARGV[2] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return n`

function orUndefined<T>(v: T | null): T | undefined {
  return v ?? undefined
}

// ioredis writes a command with a Buffer argument through a slower concatenating path (about
// 1.5 µs more per SET here). Small values that are valid UTF-8 (JSON, counters) go as strings:
// decoding valid UTF-8 and encoding it again gives the same bytes, so nothing changes on the wire.
const TEXT_LIMIT = 16 * 1024
// Most Redis keys of batch reads kept built (see RedisStore.#fullKeys).
const KEY_CACHE_MAX = 10_000

function toArg(value: Uint8Array | string): Buffer | string {
  if (typeof value === 'string') return value
  const buf = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  return buf.byteLength <= TEXT_LIMIT && isUtf8(buf) ? buf.toString('utf8') : buf
}

/**
 * The Redis key of `key` in `namespace`: `<namespace>::<key>` (`links:users::42`). Namespace
 * segments hold no ":", so the first "::" ends the namespace: no two (namespace, key) pairs
 * share a Redis key, and `clear()` of `a:b` (pattern `a:b:*`) never reaches `a`'s key `b:x`
 * (stored as `a::b:x`).
 */
export function redisKey(namespace: string, key: string): string {
  return `${namespace}::${key}`
}

function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&')
}

/** The Redis hash slot of a key (CRC16/XMODEM of the key or its `{hash tag}`, mod 16384). */
export function keySlot(key: string): number {
  let s = key
  const open = s.indexOf('{')
  if (open >= 0) {
    const close = s.indexOf('}', open + 1)
    if (close > open + 1) s = s.slice(open + 1, close)
  }
  const bytes = Buffer.from(s, 'utf8')
  let crc = 0
  for (const b of bytes) {
    crc ^= b << 8
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  }
  return crc % 16384
}

/**
 * Redis through ioredis: standalone, Sentinel or Cluster. Values are the serializer's bytes
 * under `<namespace>::<key>` with a native PX expiry; counters are decimal integers; an empty
 * string is a negative-cache entry. Batches are one MGET / one pipeline (grouped by node on a
 * Cluster); clear() walks SCAN pages and UNLINKs, never FLUSHDB.
 */
export class RedisStore implements CacheDriver {
  readonly name = 'redis'
  readonly capabilities = storeCapabilities({ atomicIncrement: true, text: true })
  readonly client: Redis | Cluster
  readonly #owned: boolean
  readonly #cluster: boolean
  readonly #clearBatch: number
  readonly #keyCache = new Map<string, Map<string, string>>()
  #keyCacheSize = 0
  #keyCacheNs: string | undefined
  #keyCacheMap: Map<string, string> | undefined
  #closing: Promise<void> | undefined

  constructor(client: Redis | Cluster, owned: boolean, clearBatch = 500) {
    this.client = client
    this.#owned = owned
    this.#cluster = (client as Cluster).isCluster === true
    this.#clearBatch = clearBatch
    if (owned) {
      // Connection errors surface on the commands that fail; this listener keeps ioredis from
      // printing "Unhandled error event" and publishes them for logs and metrics.
      client.on('error', (error: unknown) => {
        this.connectionErrors++
        if (channels.error.hasSubscribers)
          channels.error.publish({ op: 'connection', driver: 'redis', namespace: '', error })
      })
    }
  }

  /** Connection-level errors seen on a client the driver owns. */
  connectionErrors = 0

  get(ns: string, key: string): Promise<Uint8Array | undefined> {
    return this.client.getBuffer(redisKey(ns, key)).then(orUndefined)
  }

  set(ns: string, key: string, value: unknown, ttlMs: number | undefined): Promise<void> {
    const k = redisKey(ns, key)
    const v = toArg(value as Uint8Array | string)
    // The client's own promise (its 'OK' is not read): no wrapper coroutine per write.
    return (ttlMs === undefined
      ? this.client.set(k, v)
      : this.client.set(k, v, 'PX', ttlMs)) as Promise<unknown> as Promise<void>
  }

  async delete(ns: string, key: string): Promise<boolean> {
    return (await this.client.unlink(redisKey(ns, key))) > 0
  }

  async has(ns: string, key: string): Promise<boolean> {
    // STRLEN is 0 both for a missing key and for a negative entry (empty string).
    return (await this.client.strlen(redisKey(ns, key))) > 0
  }

  /** The value as text (ioredis decodes the reply as UTF-8 itself): the json serializer's read path. */
  getText(ns: string, key: string): Promise<string | undefined> {
    return this.client.get(redisKey(ns, key)).then(orUndefined)
  }

  getMany(ns: string, keys: readonly string[]): Promise<Array<Uint8Array | undefined>> {
    return this.#getMany(ns, keys, false)
  }

  /** `getMany` as text: one MGET whose replies ioredis decodes once, straight to strings. */
  getManyText(ns: string, keys: readonly string[]): Promise<Array<string | undefined>> {
    return this.#getMany(ns, keys, true)
  }

  /**
   * The Redis keys of a batch. Each is built once and kept (per namespace, at most
   * KEY_CACHE_MAX in all): ioredis flattens a concatenated key when it writes the command, so
   * a kept key costs neither the concatenation nor the flattening again (about a third of
   * building an MGET of 100 keys).
   */
  #fullKeys(ns: string, keys: readonly string[]): string[] {
    const full = new Array<string>(keys.length)
    for (let i = 0; i < keys.length; i++) full[i] = this.#fullKey(ns, keys[i] as string)
    return full
  }

  #fullKey(ns: string, key: string): string {
    let known = ns === this.#keyCacheNs ? this.#keyCacheMap : this.#keyCache.get(ns)
    if (known === undefined) {
      known = new Map()
      this.#keyCache.set(ns, known)
    }
    this.#keyCacheNs = ns
    this.#keyCacheMap = known
    let k = known.get(key)
    if (k === undefined) {
      if (++this.#keyCacheSize > KEY_CACHE_MAX) {
        // Too many distinct keys to keep: start over (a key is only ever rebuilt, never wrong).
        this.#keyCache.clear()
        known.clear()
        this.#keyCache.set(ns, known)
        this.#keyCacheSize = 1
      }
      k = redisKey(ns, key)
      known.set(key, k)
    }
    return k
  }

  #getMany(ns: string, keys: readonly string[], text: true): Promise<Array<string | undefined>>
  #getMany(ns: string, keys: readonly string[], text: false): Promise<Array<Uint8Array | undefined>>
  async #getMany(ns: string, keys: readonly string[], text: boolean): Promise<Array<Uint8Array | string | undefined>> {
    const full = this.#fullKeys(ns, keys)
    if (!this.#cluster) {
      const replies: Array<Buffer | string | null> = text
        ? await this.client.mget(full)
        : await this.client.mgetBuffer(full)
      // In place: null (missing) becomes undefined without a second array.
      for (let i = 0; i < replies.length; i++) if (replies[i] === null) (replies as unknown[])[i] = undefined
      return replies as Array<Buffer | string | undefined>
    }
    const out = new Array<Uint8Array | string | undefined>(full.length)
    await Promise.all(
      this.#groups(full).map(async (idx) => {
        if (idx.length === 1) {
          const i = idx[0] as number
          const k = full[i] as string
          out[i] = (text ? await this.client.get(k) : await this.client.getBuffer(k)) ?? undefined
          return
        }
        const p = this.client.pipeline()
        for (const i of idx) {
          if (text) p.get(full[i] as string)
          else p.getBuffer(full[i] as string)
        }
        const replies = await p.exec()
        idx.forEach((i, j) => {
          const [err, v] = replies?.[j] ?? [new Error('missing pipeline reply'), null]
          if (err) throw err
          out[i] = (v as Buffer | string | null) ?? undefined
        })
      }),
    )
    return out
  }

  async setMany(ns: string, entries: readonly DriverEntry[]): Promise<void> {
    const run = async (list: readonly DriverEntry[]): Promise<void> => {
      // One pipeline per node: one round trip. Not a transaction (MULTI costs several times
      // more in ioredis): after a dropped connection some entries may be written, each whole.
      const m = this.client.pipeline()
      for (const e of list) {
        const k = this.#fullKey(ns, e.key)
        const v = toArg(e.value as Uint8Array | string)
        if (e.ttlMs === undefined) m.set(k, v)
        else m.set(k, v, 'PX', e.ttlMs)
      }
      const replies = await m.exec()
      if (replies === null)
        throw new CacheError(
          'CACHE_DRIVER',
          'Redis aborted the MULTI of setMany (EXEC returned null); nothing was written.',
        )
      for (const [err] of replies) if (err) throw err
    }
    if (!this.#cluster) return run(entries)
    const full = entries.map((e) => redisKey(ns, e.key))
    await Promise.all(this.#groups(full, true).map((idx) => run(idx.map((i) => entries[i] as DriverEntry))))
  }

  async deleteMany(ns: string, keys: readonly string[]): Promise<number> {
    const full = keys.map((k) => redisKey(ns, k))
    if (!this.#cluster) return this.client.unlink(...full)
    const counts = await Promise.all(
      this.#groups(full, true).map((idx) => this.client.unlink(...idx.map((i) => full[i] as string))),
    )
    return counts.reduce((a, b) => a + b, 0)
  }

  /**
   * Indexes of `keys` grouped so each group can go in one command or pipeline: by slot
   * when `sameSlot` (multi-key commands), else by the node serving the slot.
   */
  #groups(keys: readonly string[], sameSlot = false): number[][] {
    const cluster = this.client as Cluster
    const groups = new Map<string, number[]>()
    keys.forEach((k, i) => {
      const slot = keySlot(k)
      const nodes = sameSlot ? undefined : cluster.slots[slot]
      const id = nodes && nodes.length > 0 ? (nodes[0] as string) : `slot:${slot}`
      const list = groups.get(id)
      if (list) list.push(i)
      else groups.set(id, [i])
    })
    return [...groups.values()]
  }

  async increment(ns: string, key: string, by: number, ttlMs: number | undefined): Promise<number> {
    try {
      return (await this.client.eval(INCREMENT, 1, redisKey(ns, key), by, ttlMs ?? '')) as number
    } catch (err) {
      const message = (err as Error).message ?? ''
      if (message.includes('CACHE_NOT_A_NUMBER') || message.includes('not an integer')) {
        throw new CacheError(
          'CACHE_NOT_A_NUMBER',
          'The value is not an integer, so it cannot be incremented; delete it or use set().',
          { cause: err },
        )
      }
      throw err
    }
  }

  async ttl(ns: string, key: string): Promise<number | undefined> {
    const ms = await this.client.pttl(redisKey(ns, key))
    if (ms === -2) return undefined
    return ms === -1 ? Infinity : ms
  }

  async touch(ns: string, key: string, ttlMs: number | undefined): Promise<boolean> {
    const k = redisKey(ns, key)
    if (ttlMs !== undefined) return (await this.client.pexpire(k, ttlMs)) === 1
    const replies = await this.client.multi().exists(k).persist(k).exec()
    const [err, exists] = replies?.[0] ?? [null, 0]
    if (err) throw err
    return exists === 1
  }

  async pull(ns: string, key: string): Promise<Uint8Array | undefined> {
    return (await this.client.getdelBuffer(redisKey(ns, key))) ?? undefined
  }

  async clear(ns: string): Promise<void> {
    if (ns === '') {
      throw new CacheError(
        'CACHE_CLEAR_UNSCOPED',
        'clear() on Redis needs a namespace: without one it would remove every key of the database. Set BEAVER_CACHE_NAMESPACE or use cache.namespace(name).',
      )
    }
    // `ns::key` (its own keys) and `ns:child::key` (nested namespaces) both start with `ns:`.
    const pattern = `${globEscape(ns)}:*`
    const nodes: Redis[] = this.#cluster ? (this.client as Cluster).nodes('master') : [this.client as Redis]
    if (this.#cluster && nodes.length === 0) {
      await this.client.ping()
      nodes.push(...(this.client as Cluster).nodes('master'))
    }
    await Promise.all(nodes.map((node) => this.#clearNode(node, pattern)))
  }

  async #clearNode(node: Redis, pattern: string): Promise<void> {
    let cursor = '0'
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', this.#clearBatch)
      cursor = next
      if (keys.length === 0) continue
      if (!this.#cluster) await node.unlink(...keys)
      else {
        // Keys of one page may sit in different slots: UNLINK each inside one pipeline.
        const p = node.pipeline()
        for (const k of keys) p.unlink(k)
        const replies = await p.exec()
        for (const [err] of replies ?? []) if (err) throw err
      }
    } while (cursor !== '0')
  }

  async ping(): Promise<void> {
    await this.client.ping()
  }

  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    if (!this.#owned) return
    const c = this.client
    if (c.status === 'wait' || c.status === 'end' || c.status === 'close') {
      c.disconnect()
      return
    }
    try {
      await c.quit()
    } catch {
      c.disconnect()
    }
  }
}

/** Builds the ioredis client the options describe (lazily connecting), without any I/O. */
export async function createRedisClient(options: RedisCacheOptions): Promise<Redis | Cluster> {
  const { Redis, Cluster } = await importPeer('ioredis', () => import('ioredis'), 'the redis cache driver')
  const url = new URL(options.url ?? 'redis://127.0.0.1:6379')
  const tls = options.tls === true || url.protocol === 'rediss:' ? {} : undefined
  const common: RedisOptions = {
    lazyConnect: true,
    connectTimeout: options.connectTimeout ?? 10_000,
    maxRetriesPerRequest: options.maxRetriesPerRequest ?? 3,
    ...(options.commandTimeout ? { commandTimeout: options.commandTimeout } : {}),
    ...(tls ? { tls } : {}),
    username: options.username ?? (url.username ? decodeURIComponent(url.username) : undefined),
    password: options.password ?? (url.password ? decodeURIComponent(url.password) : undefined),
  }
  const db = Number(url.pathname.replace(/^\//, '') || 0)
  switch (options.mode ?? 'standalone') {
    case 'cluster': {
      const seeds =
        options.clusterNodes && options.clusterNodes.length > 0
          ? options.clusterNodes.map(parseRedisNode)
          : [{ host: url.hostname, port: Number(url.port) || 6379 }]
      return new Cluster(seeds, {
        lazyConnect: true,
        ...options.cluster,
        redisOptions: { ...common, ...options.connection },
      })
    }
    case 'sentinel': {
      if (!options.sentinels || options.sentinels.length === 0) {
        throw new CacheError(
          'CACHE_OPTIONS_INVALID',
          'Redis mode sentinel needs BEAVER_CACHE_REDIS_SENTINELS (host:port, comma-separated).',
        )
      }
      return new Redis({
        ...common,
        db,
        sentinels: options.sentinels.map(parseRedisNode),
        name: options.sentinelName ?? 'mymaster',
        ...(options.sentinelPassword ? { sentinelPassword: options.sentinelPassword } : {}),
        ...options.connection,
      })
    }
    default:
      return new Redis({ ...common, host: url.hostname, port: Number(url.port) || 6379, db, ...options.connection })
  }
}

/**
 * The Redis driver definition (registered as `redis`; needs the optional peer `ioredis`).
 * @example
 * import { redisDriver } from '@beaver-kit/cache/redis'
 * const cache = createCache({ driver: redisDriver, redis: { client: myRedis }, namespace: 'links' })
 */
export const redisDriver = defineCacheDriver<RedisCacheOptions>({
  name: 'redis',
  peers: ['ioredis'],
  section: 'redis',
  async create(options) {
    const client = options.client ?? (await createRedisClient(options))
    return new RedisStore(client, options.client === undefined, options.clearBatch)
  },
})
