import { createHash } from 'node:crypto'
import { importPeer, LazyClient, redisClusterSeeds, redisSentinelOptions, type LifecycleClient } from '@beaver-kit/core'
import type { RedisOptions } from 'ioredis'
import { turnWrites } from './turn-writes.ts'
import { mergeChanges, type SessionInfo, type SessionRecord, type SessionSave, type SessionStore } from './store.ts'

/**
 * The ioredis client methods the store uses, written structurally so that the package's types
 * never need ioredis installed. A `Redis` or a `Cluster` fits.
 */
export interface RedisSessionClient extends LifecycleClient {
  ping(): Promise<unknown>
  evalsha(sha: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>
  eval(script: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>
  hgetall(key: string): Promise<Record<string, string>>
  hvals(key: string): Promise<string[]>
  get(key: string): Promise<string | null>
  incr(key: string): Promise<number>
  del(...keys: string[]): Promise<unknown>
}

/** Options of `RedisSessionStore`. */
export interface RedisSessionStoreOptions {
  /** Default `redis://127.0.0.1:6379`. */
  url?: string | undefined
  /** First segment of every key. Default `session`. */
  prefix?: string | undefined
  /** An ioredis `Redis` or `Cluster` of your own (not closed by the store). */
  client?: RedisSessionClient | undefined
  /**
   * Make an ioredis `Cluster` instead of a `Redis`, seeded by `nodes` (`host:port`) or, when
   * there are none, by the URL's host; the URL's user and password go to every node.
   */
  cluster?: { nodes?: readonly string[] | undefined } | undefined
  /**
   * Find the master through Sentinel: the sentinels (`host:port`) and the name of the master
   * group they watch (default `mymaster`), and the password the sentinels themselves require
   * (their `requirepass`); the URL gives the master's user, password and db.
   */
  sentinel?: { nodes: readonly string[]; name?: string | undefined; password?: string | undefined } | undefined
}

// A session is a hash: `@m` holds the record without its data (JSON), `d:<key>` each data key
// (JSON), so a save writes only the fields a request changed. Every script touches the keys of
// one hash tag (the session id, or the user id): one Cluster slot.
const META = '@m'
const DATA = 'd:'
/**
 * The save script's first argument: write (a new session), write only if the session exists
 * and renew its expiry, replace it, or write only if it exists and leave its expiry alone.
 */
const CREATE = 0
const MERGE = 1
const REPLACE = 2
const KEEP = 3

/**
 * The save: KEYS[1] the session. ARGV: what to do (see CREATE...KEEP), ttl ms, the number of
 * fields to set, the field/value pairs, then the fields to delete. A session that must exist
 * and is gone (revoked, expired) is left alone: 0. Fields go in runs of 500 pairs, within
 * Lua's stack for unpack(). For MERGE the existence check is the PEXPIRE itself (0 when there
 * is no key): each call from Lua costs Redis about as much as a command from a client. Every
 * write that can create the hash sets its expiry in the same script, so no command leaves a
 * session hash without a TTL behind, whatever happens to the client between commands.
 */
const SAVE_SCRIPT = /* lua */ `
local mode = ARGV[1]
if mode == '1' then
  if redis.call('PEXPIRE', KEYS[1], ARGV[2]) == 0 then return 0 end
elseif mode == '3' then
  if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
elseif mode == '2' then
  redis.call('DEL', KEYS[1])
end
local last = 3 + 2 * tonumber(ARGV[3])
for from = 4, last, 1000 do
  redis.call('HSET', KEYS[1], unpack(ARGV, from, math.min(last, from + 999)))
end
for from = last + 1, #ARGV, 1000 do
  redis.call('HDEL', KEYS[1], unpack(ARGV, from, math.min(#ARGV, from + 999)))
end
if mode == '0' or mode == '2' then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
`

/**
 * The per-user index: KEYS[1] a hash id → info JSON, KEYS[2] a sorted set id → last seen.
 * ARGV: id, info JSON, last seen, cutoff (entries seen before it are dropped), ttl ms.
 * The sorted set finds the stale entries without reading every info.
 */
const INDEX_SCRIPT = /* lua */ `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
local stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[4])
for _, id in ipairs(stale) do redis.call('HDEL', KEYS[1], id) end
if #stale > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[4]) end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return 1
`

/** KEYS as the index's; ARGV the ids to drop. */
const UNINDEX_SCRIPT = /* lua */ `
for _, id in ipairs(ARGV) do
  redis.call('HDEL', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
end
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('DEL', KEYS[1], KEYS[2]) end
return 1
`

const sha = (script: string): string => createHash('sha1').update(script).digest('hex')
const SCRIPTS = {
  save: { text: SAVE_SCRIPT, sha: sha(SAVE_SCRIPT) },
  index: { text: INDEX_SCRIPT, sha: sha(INDEX_SCRIPT) },
  unindex: { text: UNINDEX_SCRIPT, sha: sha(UNINDEX_SCRIPT) },
} as const
type Script = (typeof SCRIPTS)[keyof typeof SCRIPTS]

function isNoScript(error: unknown): boolean {
  const message = (error as { message?: unknown } | null)?.message
  return typeof message === 'string' && message.startsWith('NOSCRIPT')
}

type Meta = Omit<SessionRecord, 'id' | 'data'>

function metaOf(record: SessionRecord): string {
  const meta: Meta = {
    userId: record.userId,
    created: record.created,
    lastSeen: record.lastSeen,
    generation: record.generation,
    device: record.device,
    ip: record.ip,
  }
  return JSON.stringify(meta)
}

/**
 * Sessions on Redis, without a cache between: a load is one HGETALL, a save one EVALSHA that
 * checks the session still exists (or creates it with its expiry) and writes only the changed
 * keys, so parallel requests lose nothing, no lock is taken, and no command leaves a hash
 * without a TTL. Scripts go by their SHA1 (computed once) and are sent
 * again (EVAL) only when Redis answers NOSCRIPT (after a restart or SCRIPT FLUSH). Keys:
 * `<prefix>:s:{<id>}`, and per user `<prefix>:u:{<user>}`, `<prefix>:ul:{<user>}`,
 * `<prefix>:g:{<user>}`: Cluster-safe.
 * @example
 * const sessions = createSessions({ store: new RedisSessionStore({ url: 'redis://127.0.0.1:6379' }) })
 */
export class RedisSessionStore implements SessionStore {
  readonly #options: RedisSessionStoreOptions
  readonly #prefix: string
  readonly #client: LazyClient<RedisSessionClient>
  /** On the store's own `Redis` (not a Cluster, not a client passed in): see turnWrites. */
  #batch: (() => void) | undefined

  constructor(options: RedisSessionStoreOptions = {}) {
    this.#options = options
    this.#prefix = options.prefix ?? 'session'
    this.#client = new LazyClient(options.client, () => this.#makeClient())
  }

  async #makeClient(): Promise<RedisSessionClient> {
    const { Redis, Cluster } = await importPeer('ioredis', () => import('ioredis'), 'the Redis session store')
    // Commands wait for a reconnect (the offline queue), through one retry each. The commands
    // of the requests handled in one event-loop turn go out in one write: fewer syscalls on
    // both sides, which on a busy Redis is most of what a load or a save costs. A Redis is
    // corked per turn (turnWrites), a Cluster (a socket per node) auto-pipelines.
    const options: RedisOptions = { lazyConnect: true, maxRetriesPerRequest: 1 }
    const url = this.#options.url ?? 'redis://127.0.0.1:6379'
    const { sentinel } = this.#options
    if (sentinel) {
      const found = redisSentinelOptions(url, sentinel.nodes, sentinel.name ?? 'mymaster')
      const auth = sentinel.password === undefined ? {} : { sentinelPassword: sentinel.password }
      const redis = new Redis({ ...found, ...auth, ...options })
      this.#batch = turnWrites(redis)
      return redis as unknown as RedisSessionClient
    }
    if (!this.#options.cluster) {
      const redis = new Redis(url, options)
      this.#batch = turnWrites(redis)
      return redis as unknown as RedisSessionClient
    }
    const { nodes, ...credentials } = redisClusterSeeds(url, this.#options.cluster.nodes)
    return new Cluster(nodes, {
      lazyConnect: true,
      redisOptions: { ...credentials, ...options, enableAutoPipelining: true },
    }) as unknown as RedisSessionClient
  }

  #connect(): Promise<RedisSessionClient> {
    return this.#client.get()
  }

  async #eval(script: Script, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    const client = this.#client.current ?? (await this.#connect())
    this.#batch?.()
    try {
      return await client.evalsha(script.sha, keys.length, ...keys, ...args)
    } catch (error) {
      if (!isNoScript(error)) throw error
      // EVAL runs it on the node that owns the keys and leaves it in that node's cache: a
      // Cluster node that never saw the script learns it in the same round trip.
      return client.eval(script.text, keys.length, ...keys, ...args)
    }
  }

  #session(id: string): string {
    return `${this.#prefix}:s:{${id}}`
  }

  #user(kind: 'u' | 'ul' | 'g', userId: string): string {
    return `${this.#prefix}:${kind}:{${userId}}`
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    const client = this.#client.current ?? (await this.#connect())
    this.#batch?.()
    const hash = await client.hgetall(this.#session(id))
    const meta = hash[META]
    if (meta === undefined) return undefined
    const data: Record<string, unknown> = {}
    for (const field in hash) {
      if (field.startsWith(DATA)) data[field.slice(DATA.length)] = JSON.parse(hash[field] as string)
    }
    return { ...(JSON.parse(meta) as Meta), id, data }
  }

  async set(record: SessionRecord, ttlMs: number): Promise<void> {
    const args: Array<string | number> = [REPLACE, ttl(ttlMs), 1, META, metaOf(record)]
    for (const k in record.data) args.push(DATA + k, JSON.stringify(record.data[k]))
    args[2] = (args.length - 3) / 2
    await this.#eval(SCRIPTS.save, [this.#session(record.id)], args)
  }

  async delete(id: string): Promise<void> {
    const client = await this.#connect()
    await client.del(this.#session(id))
  }

  async save({ record, previousId, changes, isNew, ttlMs, touch }: SessionSave): Promise<boolean> {
    if (previousId !== undefined) {
      // A new id (login): a new key in another slot, so no one script spans both. The data
      // stored under the old id is the base; the old key goes once the new one is written.
      const current = await this.get(previousId)
      await this.set({ ...record, data: mergeChanges(current?.data ?? record.data, changes) }, ttlMs)
      await this.delete(previousId)
      return true
    }
    // Only data changed (the session was not renewed): its meta and expiry stay as they are.
    const keep = !isNew && touch === false
    const args: Array<string | number> = keep
      ? [KEEP, 0, 0]
      : [isNew ? CREATE : MERGE, ttl(ttlMs), 1, META, metaOf(record)]
    let deletions: string[] | undefined
    for (const [k, c] of changes) {
      if (c) args.push(DATA + k, JSON.stringify(c.value))
      else (deletions ??= []).push(DATA + k)
    }
    args[2] = (args.length - 3) / 2
    if (deletions) for (const d of deletions) args.push(d)
    return (await this.#eval(SCRIPTS.save, [this.#session(record.id)], args)) === 1
  }

  async listUser(userId: string): Promise<SessionInfo[]> {
    const client = await this.#connect()
    const values = await client.hvals(this.#user('u', userId))
    return values.map((v) => JSON.parse(v) as SessionInfo).sort((a, b) => b.lastSeen - a.lastSeen)
  }

  async indexUser(userId: string, info: SessionInfo, ttlMs: number): Promise<void> {
    const keys = [this.#user('u', userId), this.#user('ul', userId)]
    await this.#eval(SCRIPTS.index, keys, [
      info.id,
      JSON.stringify(info),
      info.lastSeen,
      Date.now() - ttlMs,
      ttl(ttlMs),
    ])
  }

  async unindexUser(userId: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return
    await this.#eval(SCRIPTS.unindex, [this.#user('u', userId), this.#user('ul', userId)], ids)
  }

  async generation(userId: string): Promise<number> {
    const client = await this.#connect()
    return Number((await client.get(this.#user('g', userId))) ?? 0)
  }

  async bumpGeneration(userId: string): Promise<number> {
    const client = await this.#connect()
    return client.incr(this.#user('g', userId))
  }

  /** Connects and pings; rejects when Redis is away. */
  async ready(): Promise<void> {
    const client = await this.#connect()
    await client.ping()
  }

  close(): Promise<void> {
    return this.#client.close()
  }
}

/** PEXPIRE takes whole positive ms. */
function ttl(ms: number): number {
  return Math.max(1, Math.ceil(ms))
}
