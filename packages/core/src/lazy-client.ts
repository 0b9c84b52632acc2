// The lifecycle of a client that a store is either given (the user's: reused, never closed) or
// makes for itself on first use (its own: connected once, closed by close()), and the one
// reading of a Redis Cluster seed list and of Sentinel settings. The Redis stores of ratelimit and session share them;
// ioredis stays those packages' optional peer: core only sees the client's shape.

/** What the lifecycle needs of a client: ioredis's `Redis` and `Cluster` fit. */
export interface LifecycleClient {
  readonly status: string
  on(event: 'error', listener: (error: unknown) => void): unknown
  connect(): Promise<unknown>
  quit(): Promise<unknown>
  disconnect(): void
}

/**
 * A given client, or one made on first use. Made clients get an `error` listener (each command
 * rejects with its own error, so an `error` event must not crash the process) and one connect
 * attempt: when it fails, ioredis goes on reconnecting in the background while commands fail
 * or wait as the client's options say.
 * @example
 * const client = new LazyClient(options.client, async () => new (await loadIoredis()).Redis(url, { lazyConnect: true }))
 * const redis = client.current ?? (await client.get())
 */
export class LazyClient<C extends LifecycleClient> {
  readonly #given: C | undefined
  readonly #make: () => Promise<C>
  #pending: Promise<C> | undefined
  #current: C | undefined

  constructor(given: C | undefined, make: () => Promise<C>) {
    this.#given = given
    this.#make = make
  }

  /** The client once it is made, so a hot path reaches it without awaiting a promise. */
  get current(): C | undefined {
    return this.#current
  }

  /** The given client, or the store's own, made and connected once. */
  get(): Promise<C> {
    this.#pending ??= (async () => {
      if (this.#given) return (this.#current = this.#given)
      const client = await this.#make()
      client.on('error', () => undefined)
      await client.connect().catch(() => undefined)
      return (this.#current = client)
    })()
    return this.#pending
  }

  /** Quits the store's own client (or drops it when it is not connected); a given client stays open. */
  async close(): Promise<void> {
    const pending = this.#pending
    this.#pending = undefined
    this.#current = undefined
    if (!pending || this.#given) return
    const client = await pending.catch(() => undefined)
    if (client?.status === 'ready') await client.quit().catch(() => client.disconnect())
    else client?.disconnect()
  }
}

/** One Redis node of a seed list. */
export interface RedisNode {
  host: string
  port: number
}

const NODE = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]/]+)):(\d{1,5})$/

/**
 * Reads `host:port` (IPv6 as `[::1]:7000`); throws a TypeError saying what was found, which a
 * config list field (`f.list({ of })`) reports under the variable's name.
 */
export function parseRedisNode(text: string): RedisNode {
  const m = NODE.exec(text.trim())
  const port = Number(m?.[3])
  if (!m || port < 1 || port > 65_535) {
    throw new TypeError(`"${text}" is not host:port (a port from 1 to 65535; IPv6 as [::1]:7000)`)
  }
  return { host: (m[1] ?? m[2]) as string, port }
}

/** `parseRedisNode` as a config list check. */
export function checkRedisNode(text: string): void {
  parseRedisNode(text)
}

/**
 * Where a Cluster client starts: the seed nodes when given, else the URL's host and port, with
 * the URL's user and password for every node (a Cluster takes them per node, not in a URL).
 */
export function redisClusterSeeds(
  url: string,
  nodes: readonly string[] | undefined,
): { nodes: RedisNode[]; username?: string; password?: string } {
  const u = new URL(url)
  const seeds =
    nodes && nodes.length > 0
      ? nodes.map(parseRedisNode)
      : [{ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) || 6379 }]
  return {
    nodes: seeds,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
  }
}

/**
 * What an ioredis `Redis` takes to find its master through Sentinel: the sentinels, the name of
 * the master group they watch, and the URL's user, password and db number for the master (its
 * host and port come from the sentinels).
 */
export function redisSentinelOptions(
  url: string,
  sentinels: readonly string[],
  name: string,
): { sentinels: RedisNode[]; name: string; username?: string; password?: string; db?: number } {
  const u = new URL(url)
  const db = Number(u.pathname.replace(/^\//, '') || 0)
  return {
    sentinels: sentinels.map(parseRedisNode),
    name,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(db > 0 ? { db } : {}),
  }
}

/** The Redis topology settings of a package's env schema (`<PREFIX><PKG>_REDIS_*`). */
export interface RedisTopologySettings {
  mode?: 'standalone' | 'cluster' | 'sentinel' | undefined
  clusterNodes?: readonly string[] | undefined
  sentinels?: readonly string[] | undefined
}

/**
 * Why a package's Redis topology settings do not fit together (nodes of one mode set under
 * another, or Sentinel without sentinels), naming the variables under `envName` (for example
 * `BEAVER_SESSION_REDIS_`); undefined when they fit.
 */
export function redisTopologyProblem(redis: RedisTopologySettings, envName: string): string | undefined {
  const mode = redis.mode ?? 'standalone'
  const has = (list: readonly string[] | undefined): boolean => (list?.length ?? 0) > 0
  if (mode !== 'cluster' && has(redis.clusterNodes)) {
    return `${envName}CLUSTER_NODES (redis.clusterNodes) is set but ${envName}MODE is ${mode}: set the mode to cluster, or remove the nodes`
  }
  if (mode !== 'sentinel' && has(redis.sentinels)) {
    return `${envName}SENTINELS (redis.sentinels) is set but ${envName}MODE is ${mode}: set the mode to sentinel, or remove the sentinels`
  }
  if (mode === 'sentinel' && !has(redis.sentinels)) {
    return `${envName}MODE is sentinel but ${envName}SENTINELS (redis.sentinels) is empty: list the sentinels as host:port, comma-separated`
  }
  return undefined
}
