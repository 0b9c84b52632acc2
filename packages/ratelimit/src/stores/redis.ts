import { createHash } from 'node:crypto'
import { importPeer, LazyClient, redisClusterSeeds, redisSentinelOptions, type LifecycleClient } from '@beaver-kit/core'
import type { RedisOptions } from 'ioredis'
import { apply as applyAlgorithm, MODE_CODE, type Algorithm, type Mode, type Rule, type State } from '../algorithms.ts'
import type { LimitRequest, StoreResult } from '../evaluate.ts'
import { RateLimitError } from '../errors.ts'
import type { RateLimitStore } from '../store.ts'
import {
  ALGORITHM_CODE,
  BLOCK_SCRIPT,
  FIXED_WINDOW_SCRIPT,
  GCRA_SCRIPT,
  LIMIT_SCRIPT,
  SLIDING_WINDOW_SCRIPT,
  TOKEN_BUCKET_SCRIPT,
} from '../redis-script.ts'

/**
 * The ioredis client methods the store uses, written structurally so that the package's types
 * never need ioredis installed (a memory-only user type-checks without it).
 */
export interface RedisStoreClient extends LifecycleClient {
  ping(): Promise<unknown>
  evalsha(sha: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>
  eval(script: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>
  del(...keys: string[]): Promise<unknown>
}

/** Options of the Redis store. */
export interface RedisStoreOptions {
  /** Default `redis://127.0.0.1:6379`. */
  url?: string
  password?: string
  /** First segment of every key. Default `rl`. */
  prefix?: string
  /** How long one call may take before it counts as a store failure. Default 500 ms. */
  timeoutMs?: number
  /** An ioredis `Redis` or `Cluster` of your own (not closed by the store). */
  client?: RedisStoreClient
  /**
   * Make an ioredis `Cluster` instead of a `Redis`, seeded by `nodes` (`host:port`) or, when
   * there are none, by the URL's host; the URL's user and password go to every node.
   */
  cluster?: { nodes?: readonly string[] }
  /**
   * Find the master through Sentinel: the sentinels (`host:port`) and the name of the master
   * group they watch (default `mymaster`), and the password the sentinels themselves require
   * (their `requirepass`); the URL gives the master's user, password and db.
   */
  sentinel?: { nodes: readonly string[]; name?: string; password?: string }
  /**
   * What shares a Redis Cluster slot. `key` (default): each key's state is in its own slot, so
   * keys spread over the cluster; a `limitAll()` whose keys fall in different slots is refused.
   * `namespace`: every key of a limiter namespace is in one slot, so any `limitAll()` is atomic,
   * at the cost of one node carrying the whole namespace. Standalone Redis is the same either way.
   */
  slot?: 'key' | 'namespace'
}

/** SHA1 of the scripts, computed once: every call is an EVALSHA, the text is sent only after NOSCRIPT. */
const LIMIT_SHA = createHash('sha1').update(LIMIT_SCRIPT).digest('hex')
const BLOCK_SHA = createHash('sha1').update(BLOCK_SCRIPT).digest('hex')

/** The small script of each algorithm's limit() (the sliding log has none: the general script). */
interface SmallScript {
  script: string
  sha: string
}
const SMALL_SCRIPTS = new Map<Algorithm, SmallScript>(
  (
    [
      ['fixed-window', FIXED_WINDOW_SCRIPT],
      ['sliding-window', SLIDING_WINDOW_SCRIPT],
      ['token-bucket', TOKEN_BUCKET_SCRIPT],
      ['gcra', GCRA_SCRIPT],
    ] as const
  ).map(([algorithm, script]) => [algorithm, { script, sha: createHash('sha1').update(script).digest('hex') }]),
)

type Reply = Array<[number, number, number, number, number, number]>

function toResult(row: Reply[number]): StoreResult {
  return {
    allowed: row[0] === 1,
    granted: Number(row[1]),
    remaining: Number(row[2]),
    resetMs: Number(row[3]),
    retryAfterMs: Number(row[4]),
    blocked: row[5] === 1,
  }
}

const firstResult = (reply: unknown): StoreResult => toResult((reply as Reply)[0] as Reply[number])

function blockedResult(ms: number): StoreResult {
  return { allowed: false, granted: 0, remaining: 0, resetMs: ms, retryAfterMs: ms, blocked: true }
}

/** The state a small script's reply carries, as the memory store keeps it. */
function replyState(reply: unknown, rule: Rule, start: number): State | undefined {
  switch (rule.algorithm) {
    case 'fixed-window':
      return { kind: 'window', start, count: reply as number, previous: 0 }
    case 'sliding-window': {
      const [count, previous] = reply as [number, number]
      return { kind: 'window', start, count, previous }
    }
    case 'token-bucket': {
      const [tokens, updated] = reply as [string | null, string | null]
      return tokens === null ? undefined : { kind: 'bucket', tokens: Number(tokens), updated: Number(updated) }
    }
    default: {
      const [tat] = reply as [string | null]
      return tat === null ? undefined : { kind: 'gcra', tat: Number(tat) }
    }
  }
}

/**
 * The decision of a small script's reply: the key's state before the call, or minus the
 * block's ms; made by the same function as on the memory store from the same state.
 */
function smallScriptResult(
  reply: unknown,
  rule: Rule,
  start: number,
  now: number,
  cost: number,
  mode: Mode,
): StoreResult {
  if (typeof reply === 'number' && reply < 0) return blockedResult(-reply)
  return applyAlgorithm(rule, replyState(reply, rule, start), now, cost, mode)
}

/**
 * After NOSCRIPT: EVAL with the text runs the script on the node that owns the keys and leaves
 * it in that node's cache, so a Cluster node that never saw it learns it in the same round trip.
 */
function reload(
  client: RedisStoreClient,
  script: string,
  numKeys: number,
  args: Array<string | number>,
): Promise<unknown> {
  return client.eval(script, numKeys, ...args).catch(crossSlot)
}

function messageOf(error: unknown): string | undefined {
  const message = (error as { message?: unknown } | null)?.message
  return typeof message === 'string' ? message : undefined
}

function isNoScript(error: unknown): boolean {
  return messageOf(error)?.startsWith('NOSCRIPT') === true
}

/** A script whose keys span Cluster slots is a usage error, not the store being away. */
function crossSlot(error: unknown): never {
  if (messageOf(error)?.startsWith('CROSSSLOT')) {
    throw new RateLimitError(
      'RATELIMIT_OPTIONS_INVALID',
      "limitAll() keys fall in different Redis Cluster slots, so they cannot be limited atomically; create the RedisStore with slot: 'namespace' to keep a namespace's keys in one slot",
      { cause: error },
    )
  }
  throw error
}

/**
 * Redis: every check is one EVALSHA (the script sent again when Redis answers NOSCRIPT, after
 * a restart or SCRIPT FLUSH): limit() runs its algorithm's small script (all but the sliding
 * log), everything else the general one, which evaluates all the limits of a call atomically. A
 * key's state, block and sequence keys share one hash tag, so each limit lives in one Cluster
 * slot. Commands fail fast while Redis is away (no offline queue), so the limiter's failure
 * policy decides instead of a hung request.
 */
export class RedisStore implements RateLimitStore {
  readonly name = 'redis'
  /** The store's own client bounds each command (ioredis `commandTimeout`); a client passed in does not. */
  readonly callTimeoutMs: number | undefined
  readonly #options: RedisStoreOptions
  readonly #prefix: string
  readonly #namespaceSlot: boolean
  readonly #client: LazyClient<RedisStoreClient>

  constructor(options: RedisStoreOptions = {}) {
    this.#options = options
    this.#prefix = `${options.prefix ?? 'rl'}:{`
    this.#namespaceSlot = options.slot === 'namespace'
    this.callTimeoutMs = options.client ? undefined : (options.timeoutMs ?? 500)
    // One client for the store's life: calls fail fast while it reconnects (no offline queue).
    this.#client = new LazyClient(options.client, () => this.#makeClient())
  }

  async #makeClient(): Promise<RedisStoreClient> {
    const { Redis, Cluster } = await importPeer('ioredis', () => import('ioredis'), 'the redis rate-limit store')
    // Auto-pipelining: the checks issued in one event-loop turn go out in one socket write.
    const options: RedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      maxRetriesPerRequest: 1,
      commandTimeout: this.#options.timeoutMs ?? 500,
      ...(this.#options.password ? { password: this.#options.password } : {}),
    }
    const url = this.#options.url ?? 'redis://127.0.0.1:6379'
    const { sentinel } = this.#options
    if (sentinel) {
      const found = redisSentinelOptions(url, sentinel.nodes, sentinel.name ?? 'mymaster')
      const auth = sentinel.password === undefined ? {} : { sentinelPassword: sentinel.password }
      return new Redis({ ...found, ...auth, ...options }) as unknown as RedisStoreClient
    }
    if (!this.#options.cluster) return new Redis(url, options) as unknown as RedisStoreClient
    const { nodes, ...credentials } = redisClusterSeeds(url, this.#options.cluster.nodes)
    return new Cluster(nodes, {
      lazyConnect: true,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      redisOptions: { ...credentials, ...options },
    }) as unknown as RedisStoreClient
  }

  #connect(): Promise<RedisStoreClient> {
    return this.#client.get()
  }

  /** EVALSHA, and on NOSCRIPT (a restarted or flushed Redis) the same call as EVAL with the text. */
  #eval(
    client: RedisStoreClient,
    sha: string,
    script: string,
    numKeys: number,
    args: Array<string | number>,
  ): Promise<unknown> {
    return client.evalsha(sha, numKeys, ...args).catch((error: unknown) => {
      if (!isNoScript(error)) return crossSlot(error)
      return reload(client, script, numKeys, args)
    })
  }

  /**
   * The first segment of a key's Redis keys, its hash tag included: `rl:{ns:key}` (a slot per
   * key) or `rl:{ns}:key` (a slot per namespace; the stored key always starts `ns:`).
   */
  #base(key: string): string {
    if (!this.#namespaceSlot) return this.#prefix + key + '}'
    const colon = key.indexOf(':')
    return this.#prefix + key.slice(0, colon) + '}' + key.slice(colon)
  }

  /** One limit, the hot path of `limit()`: one EVALSHA, no arrays of requests, no await before it is sent. */
  applyOne(key: string, rule: Rule, cost: number, mode: Mode, now: number): Promise<StoreResult> {
    const client = this.#client.current
    if (client === undefined) return this.apply([{ key, rule, cost }], now, mode).then((r) => r[0] as StoreResult)
    const base = this.#namespaceSlot ? this.#base(key) : this.#prefix + key + '}'
    const small = SMALL_SCRIPTS.get(rule.algorithm)
    if (small !== undefined) return this.#small(client, small, base, rule, cost, mode, now)
    const args = [
      base,
      base + ':b',
      base + ':q',
      now,
      MODE_CODE[mode],
      ALGORITHM_CODE[rule.algorithm],
      rule.limit,
      rule.windowMs,
      rule.burst,
      cost,
    ]
    return client.evalsha(LIMIT_SHA, 3, ...args).then(firstResult, (error: unknown) => {
      if (!isNoScript(error)) throw error
      return reload(client, LIMIT_SCRIPT, 3, args).then(firstResult)
    })
  }

  /** One limit through its algorithm's small script (redis-script.ts: FIXED_WINDOW_SCRIPT and the next ones). */
  #small(
    client: RedisStoreClient,
    { script, sha }: SmallScript,
    base: string,
    rule: Rule,
    cost: number,
    mode: Mode,
    now: number,
  ): Promise<StoreResult> {
    const w = rule.windowMs
    const start = Math.floor(now / w) * w
    const block = base + ':b'
    const m = MODE_CODE[mode]
    let args: Array<string | number>
    if (rule.algorithm === 'fixed-window') args = [base, block, start, start + w - now, m, rule.limit, cost]
    else if (rule.algorithm === 'sliding-window') args = [base, block, start, w, now - start, m, rule.limit, cost]
    else args = [base, block, now, m, rule.limit, w, rule.burst, cost]
    const decide = (reply: unknown): StoreResult => smallScriptResult(reply, rule, start, now, cost, mode)
    return client.evalsha(sha, 2, ...args).then(decide, (error: unknown) => {
      if (!isNoScript(error)) throw error
      return reload(client, script, 2, args).then(decide)
    })
  }

  async apply(requests: readonly LimitRequest[], now: number, mode: Mode): Promise<StoreResult[]> {
    const client = await this.#connect()
    const keys: string[] = []
    const args: Array<string | number> = [now, MODE_CODE[mode]]
    for (const r of requests) {
      const base = this.#base(r.key)
      keys.push(base, base + ':b', base + ':q')
      args.push(ALGORITHM_CODE[r.rule.algorithm], r.rule.limit, r.rule.windowMs, r.rule.burst, r.cost)
    }
    const reply = (await this.#eval(client, LIMIT_SHA, LIMIT_SCRIPT, keys.length, [...keys, ...args])) as Reply
    return reply.map(toResult)
  }

  async block(key: string, ms: number): Promise<void> {
    const client = await this.#connect()
    await this.#eval(client, BLOCK_SHA, BLOCK_SCRIPT, 1, [`${this.#base(key)}:b`, Math.max(0, Math.ceil(ms))])
  }

  async reset(key: string): Promise<void> {
    const client = await this.#connect()
    const base = this.#base(key)
    // The three share the hash tag, so one DEL stays in one Cluster slot.
    await client.del(base, base + ':b', base + ':q')
  }

  async ready(): Promise<void> {
    const client = await this.#connect()
    await client.ping()
  }

  close(): Promise<void> {
    return this.#client.close()
  }
}
