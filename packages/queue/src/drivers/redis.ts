import { randomUUID } from 'node:crypto'
import { importPeer } from '@beaver-kit/core'
import type { Cluster, Redis, RedisOptions } from 'ioredis'
import {
  defineQueueDriver,
  type Delivery,
  type DriverMessage,
  type Failure,
  type FetchOptions,
  type QueueCounts,
  type QueueDriver,
  type QueueDriverContext,
  type RenewResult,
  type StoredMessage,
} from '../driver.ts'
import { QueueError } from '../errors.ts'
import { keepFreshLeases } from './claim-lease.ts'
import { publishGroupCopies } from './fan-out.ts'
import * as scripts from './redis-scripts.ts'

/** Options of the redis driver (`BEAVER_QUEUE_REDIS_*`). */
export interface RedisQueueOptions {
  url?: string | undefined
  password?: string | undefined
  /** First segment of every key. Default `bq`. */
  prefix?: string | undefined
  /** Connect to a Redis Cluster seeded by the URL. */
  cluster?: boolean | undefined
  /** A client to use (never closed by the queue); blocking waits use its duplicates. */
  client?: Redis | Cluster | undefined
}

type Client = Redis | Cluster
type ScriptName = keyof typeof SCRIPTS
type Scripted = Client & Record<ScriptName, (...args: (string | number)[]) => Promise<unknown>>

const SCRIPTS = {
  bqEnqueue: scripts.enqueueScript,
  bqClaim: scripts.claimScript,
  bqComplete: scripts.completeScript,
  bqFail: scripts.failScript,
  bqRelease: scripts.releaseScript,
  bqRenew: scripts.renewScript,
  bqCancel: scripts.cancelScript,
  bqProgress: scripts.progressScript,
  bqReplay: scripts.replayScript,
  bqPurge: scripts.purgeScript,
}

const FIELDS_PER_JOB = 15
const PRUNE_EVERY_MS = 1000

class RedisQueueDriver implements QueueDriver {
  readonly name = 'redis'
  readonly capabilities = Object.freeze({
    delay: true,
    priority: true,
    dedupe: true,
    cancel: true,
    fairness: true,
    transactional: false,
    extendLease: true,
    durable: true,
    history: true,
    fanOut: true,
  })
  readonly #options: RedisQueueOptions
  readonly #ctx: QueueDriverContext
  readonly #prefix: string
  #client: Scripted | undefined
  #opening: Promise<Scripted> | undefined
  readonly #blockers: Client[] = []
  readonly #busyBlockers = new Set<Client>()
  readonly #known = new Set<string>()
  readonly #lastPrune = new Map<string, number>()
  #closed = false

  constructor(options: RedisQueueOptions, ctx: QueueDriverContext) {
    this.#options = options
    this.#ctx = ctx
    this.#prefix = options.prefix ?? 'bq'
  }

  /** `bq:{ns/queue}:`: the hash tag keeps every key of a queue in one Cluster slot. */
  #key(queue: string): string {
    return `${this.#prefix}:{${queue}}:`
  }

  #connect(): Promise<Scripted> {
    this.#opening ??= (async () => {
      let client: Client | undefined = this.#options.client
      if (!client) {
        const { Redis, Cluster } = await importPeer('ioredis', () => import('ioredis'), 'the redis queue driver')
        const url = this.#options.url ?? 'redis://127.0.0.1:6379'
        const base: RedisOptions = {
          lazyConnect: true,
          ...(this.#options.password ? { password: this.#options.password } : {}),
        }
        if (this.#options.cluster) {
          const u = new URL(url)
          client = new Cluster([{ host: u.hostname, port: Number(u.port) || 6379 }], {
            lazyConnect: true,
            redisOptions: base,
          })
        } else {
          client = new Redis(url, base)
        }
        client.on('error', () => undefined)
        await client.connect()
      }
      for (const [name, lua] of Object.entries(SCRIPTS)) client.defineCommand(name, { numberOfKeys: 1, lua })
      // ioredis reconnects by itself and holds commands meanwhile, so consumers simply wait;
      // the connection events tell the facade (beaver:queue:connection) that they do.
      let lost = false
      client.on('close', () => {
        if (lost || this.#closed) return
        lost = true
        this.#ctx.onConnection('lost')
      })
      client.on('ready', () => {
        if (!lost) return
        lost = false
        this.#ctx.onConnection('restored')
      })
      await this.#checkEviction(client)
      this.#client = client as Scripted
      return this.#client
    })()
    this.#opening.catch(() => (this.#opening = undefined))
    return this.#opening
  }

  // An evicting Redis silently drops queued jobs when memory runs out: refuse to start on one.
  // volatile-* policies only evict keys with a TTL, and no queue key has one.
  async #checkEviction(client: Client): Promise<void> {
    let policy: string | undefined
    try {
      const reply = (await client.call('CONFIG', 'GET', 'maxmemory-policy')) as string[]
      policy = reply[1]
    } catch {
      const info = String(await client.call('INFO', 'memory'))
      policy = /maxmemory_policy:(\S+)/.exec(info)?.[1]
    }
    if (policy?.startsWith('allkeys-')) {
      throw new QueueError(
        'QUEUE_EVICTION_POLICY',
        `Redis maxmemory-policy is "${policy}", which evicts queue data under memory pressure; set it to noeviction (CONFIG SET maxmemory-policy noeviction, or in redis.conf) before using the redis queue driver.`,
        { details: { policy } },
      )
    }
  }

  async #blocker(client: Client): Promise<Client> {
    const free = this.#blockers.pop()
    if (free) return free
    // Cluster#duplicate and Redis#duplicate differ in signature; either gives a client on the same servers.
    const dup = (client as Redis).duplicate()
    dup.on('error', () => undefined)
    return dup
  }

  async enqueue(messages: readonly DriverMessage[]): Promise<string[]> {
    const client = await this.#connect()
    const byQueue = new Map<string, DriverMessage[]>()
    for (const m of messages) {
      const list = byQueue.get(m.queue)
      if (list) list.push(m)
      else byQueue.set(m.queue, [m])
    }
    const ids = new Map<DriverMessage, string>()
    for (const [queue, list] of byQueue) {
      if (!this.#known.has(queue)) {
        await client.sadd(`${this.#prefix}:queues`, queue)
        this.#known.add(queue)
      }
      for (let i = 0; i < list.length; i += 500) {
        const chunk = list.slice(i, i + 500)
        const args: (string | number)[] = [this.#key(queue), this.#ctx.now()]
        for (const m of chunk) {
          args.push(
            m.id,
            m.priority,
            m.runAt,
            m.maxAttempts,
            m.backoffBaseMs,
            m.backoffMaxMs,
            m.timeoutMs,
            m.group ?? '',
            m.dedupeKey ?? '',
            m.payload,
            Object.keys(m.headers).length > 0 ? JSON.stringify(m.headers) : '',
            m.createdAt,
          )
        }
        const out = (await client.bqEnqueue(...args)) as string[]
        chunk.forEach((m, k) => ids.set(m, String(out[k])))
      }
    }
    return messages.map((m) => ids.get(m) as string)
  }

  async subscribe(topic: string, queue: string): Promise<void> {
    const client = await this.#connect()
    await client.sadd(`${this.#prefix}:topic:${topic}`, queue)
  }

  // Each group's copy is one script call on that queue's slot, so a failure part-way leaves
  // some groups without it: publish rejects, and publishing again with the same id stores the
  // missing copies only (an id is stored once per queue).
  async publishTopic(topic: string, messages: readonly DriverMessage[]): Promise<string[]> {
    const client = await this.#connect()
    const groups = (await client.smembers(`${this.#prefix}:topic:${topic}`)).sort()
    return publishGroupCopies(groups, messages, {}, (copies) => this.enqueue(copies))
  }

  async #claim(
    client: Scripted,
    queue: string,
    options: FetchOptions,
    completed: readonly Delivery[] = [],
  ): Promise<{ deliveries: Delivery[]; next: number }> {
    const now = this.#ctx.now()
    const token = randomUUID()
    const prune = now - (this.#lastPrune.get(queue) ?? 0) >= PRUNE_EVERY_MS
    if (prune) this.#lastPrune.set(queue, now)
    const out = (await client.bqClaim(
      this.#key(queue),
      now,
      options.max,
      now + options.leaseMs,
      token,
      options.groupLimit === undefined ? '' : options.groupLimit,
      this.#ctx.settings.keepCompletedMs,
      this.#ctx.settings.keepCompletedMax,
      this.#ctx.settings.keepDeadMs,
      prune ? 1 : 0,
      ...completed.flatMap((d) => [d.id, d.token]),
    )) as string[]
    const next = out[0] ? Number(out[0]) : Infinity
    const deliveries: Delivery[] = []
    for (let i = 1; i < out.length; i += FIELDS_PER_JOB) {
      const f = out.slice(i, i + FIELDS_PER_JOB)
      deliveries.push({
        id: String(f[0]),
        queue,
        attempt: Number(f[1]),
        priority: Number(f[2]),
        runAt: Number(f[3]),
        maxAttempts: Number(f[4]),
        backoffBaseMs: Number(f[5]),
        backoffMaxMs: Number(f[6]),
        timeoutMs: Number(f[7]),
        group: f[8] ? String(f[8]) : undefined,
        dedupeKey: f[9] ? String(f[9]) : undefined,
        payload: String(f[10]),
        headers: f[11] ? (JSON.parse(String(f[11])) as Record<string, string>) : {},
        createdAt: Number(f[12]),
        lastError: f[13] ? String(f[13]) : undefined,
        token,
        leaseUntil: now + options.leaseMs,
      })
    }
    return {
      deliveries: await keepFreshLeases(deliveries, now, options.leaseMs, this.#ctx.now, {
        renew: (held, leaseMs) => this.renew(queue, held, leaseMs),
        release: (held) => this.release(queue, held),
      }),
      next,
    }
  }

  async fetch(queue: string, options: FetchOptions): Promise<Delivery[]> {
    const client = await this.#connect()
    const first = await this.#claim(client, queue, options)
    if (first.deliveries.length > 0 || options.waitMs <= 0 || options.signal.aborted) return first.deliveries
    const waitMs = Math.min(options.waitMs, Math.max(1, first.next - this.#ctx.now()))
    const blocker = await this.#blocker(client)
    this.#busyBlockers.add(blocker)
    let broken = false
    const onAbort = (): void => {
      broken = true
      blocker.disconnect()
    }
    options.signal.addEventListener('abort', onAbort, { once: true })
    try {
      // An abort while the blocker was being found fired before the listener: do not block.
      if (!options.signal.aborted) await blocker.blpop(`${this.#key(queue)}mark`, Math.max(0.01, waitMs / 1000))
    } catch (error) {
      if (!broken) throw error
    } finally {
      options.signal.removeEventListener('abort', onAbort)
      this.#busyBlockers.delete(blocker)
      if (broken || this.#closed) blocker.disconnect()
      else this.#blockers.push(blocker)
    }
    if (options.signal.aborted || this.#closed) return []
    return (await this.#claim(client, queue, options)).deliveries
  }

  async completeAndFetch(queue: string, completed: readonly Delivery[], options: FetchOptions): Promise<Delivery[]> {
    const client = await this.#connect()
    return (await this.#claim(client, queue, options, completed)).deliveries
  }

  async complete(queue: string, deliveries: readonly Delivery[]): Promise<void> {
    if (deliveries.length === 0) return
    const client = await this.#connect()
    await client.bqComplete(this.#key(queue), this.#ctx.now(), ...deliveries.flatMap((d) => [d.id, d.token]))
  }

  async fail(queue: string, d: Delivery, failure: Failure): Promise<void> {
    const client = await this.#connect()
    await client.bqFail(
      this.#key(queue),
      this.#ctx.now(),
      d.id,
      d.token,
      failure.kind,
      failure.kind === 'retry' ? failure.runAt : 0,
      failure.kind === 'dead' ? failure.reason : '',
      failure.error,
    )
  }

  async release(queue: string, deliveries: readonly Delivery[]): Promise<void> {
    if (deliveries.length === 0) return
    const client = await this.#connect()
    await client.bqRelease(this.#key(queue), ...deliveries.flatMap((d) => [d.id, d.token]))
  }

  async renew(queue: string, deliveries: readonly Delivery[], leaseMs: number): Promise<RenewResult> {
    const result: RenewResult = { cancelled: [], lost: [] }
    if (deliveries.length === 0) return result
    const client = await this.#connect()
    const out = (await client.bqRenew(
      this.#key(queue),
      this.#ctx.now() + leaseMs,
      ...deliveries.flatMap((d) => [d.id, d.token]),
    )) as number[]
    deliveries.forEach((d, i) => {
      if (Number(out[i]) === 0) result.lost.push(d.id)
      else if (Number(out[i]) === 2) result.cancelled.push(d.id)
    })
    return result
  }

  async cancel(queue: string, id: string): Promise<'removed' | 'signalled' | 'none'> {
    const client = await this.#connect()
    return (await client.bqCancel(this.#key(queue), this.#ctx.now(), id)) as 'removed' | 'signalled' | 'none'
  }

  async counts(queue: string): Promise<QueueCounts> {
    const client = await this.#connect()
    const k = this.#key(queue)
    const now = this.#ctx.now()
    const [waiting, active, delayedDue, delayed, completed, failed, dead] = await Promise.all([
      client.zcard(`${k}wait`),
      client.zcard(`${k}active`),
      client.zcount(`${k}delayed`, '-inf', now),
      client.zcount(`${k}delayed`, `(${now}`, '+inf'),
      client.zcard(`${k}done`),
      client.scard(`${k}failed`),
      client.zcard(`${k}dead`),
    ])
    // Due delayed messages are promoted at the next claim; until then they count as waiting.
    return { waiting: waiting + delayedDue, active, delayed, completed, failed, dead }
  }

  async #read(queue: string, ids: readonly string[]): Promise<StoredMessage[]> {
    if (ids.length === 0) return []
    const client = await this.#connect()
    const k = this.#key(queue)
    const pipeline = client.pipeline()
    for (const id of ids) pipeline.hgetall(`${k}j:${id}`)
    const replies = (await pipeline.exec()) ?? []
    const now = this.#ctx.now()
    const out: StoredMessage[] = []
    ids.forEach((id, i) => {
      const h = replies[i]?.[1] as Record<string, string> | undefined
      if (!h || Object.keys(h).length === 0) return
      const runAt = Number(h.ra)
      const raw = h.st ?? 'waiting'
      out.push({
        id,
        queue,
        payload: h.p ?? '',
        headers: h.h ? (JSON.parse(h.h) as Record<string, string>) : {},
        priority: Number(h.pr),
        runAt,
        maxAttempts: Number(h.ma),
        backoffBaseMs: Number(h.bb),
        backoffMaxMs: Number(h.bm),
        timeoutMs: Number(h.to),
        group: h.g || undefined,
        dedupeKey: h.dk || undefined,
        createdAt: Number(h.ca),
        state: raw === 'waiting' && runAt > now ? 'delayed' : (raw as StoredMessage['state']),
        attempt: Number(h.at ?? 0),
        lastError: h.le,
        deadReason: h.dr,
        finishedAt: h.fa === undefined ? undefined : Number(h.fa),
        progress: h.pg,
      })
    })
    return out
  }

  async get(queue: string, id: string): Promise<StoredMessage | undefined> {
    return (await this.#read(queue, [id]))[0]
  }

  async progress(queue: string, d: Delivery, value: string): Promise<void> {
    const client = await this.#connect()
    await client.bqProgress(this.#key(queue), d.id, d.token, value)
  }

  async listDead(queue: string, options: { limit: number; offset: number }): Promise<StoredMessage[]> {
    const client = await this.#connect()
    const ids = await client.zrevrange(`${this.#key(queue)}dead`, options.offset, options.offset + options.limit - 1)
    return this.#read(queue, ids)
  }

  async replayDead(queue: string, ids: readonly string[] | 'all'): Promise<number> {
    if (ids !== 'all' && ids.length === 0) return 0
    const client = await this.#connect()
    return Number(await client.bqReplay(this.#key(queue), this.#ctx.now(), ...(ids === 'all' ? ['all'] : ids)))
  }

  async purgeDead(queue: string, ids: readonly string[] | 'all'): Promise<number> {
    if (ids !== 'all' && ids.length === 0) return 0
    const client = await this.#connect()
    return Number(await client.bqPurge(this.#key(queue), ...(ids === 'all' ? ['all'] : ids)))
  }

  async queues(): Promise<string[]> {
    const client = await this.#connect()
    return client.smembers(`${this.#prefix}:queues`)
  }

  async ping(): Promise<void> {
    const client = await this.#connect()
    await client.ping()
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const b of [...this.#blockers, ...this.#busyBlockers]) b.disconnect()
    this.#blockers.length = 0
    const client = this.#client ?? (await this.#opening?.catch(() => undefined))
    if (client && !this.#options.client) await client.quit().catch(() => client.disconnect())
  }
}

/**
 * Redis through ioredis: sorted sets and Lua scripts (priority, delays, leases, DLQ, dedupe,
 * cancel, fairness in one atomic script each), blocked consumers woken by a marker list,
 * Cluster-safe hash tags, and a refusal to start on an evicting maxmemory-policy.
 * @example createQueue({ driver: redisDriver, redis: { url: 'redis://127.0.0.1:6379' } })
 */
export const redisDriver = defineQueueDriver<RedisQueueOptions>({
  name: 'redis',
  peers: ['ioredis'],
  section: 'redis',
  create: (options, ctx) => new RedisQueueDriver(options ?? {}, ctx),
})
