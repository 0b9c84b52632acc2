import { importPeer } from '@beaver-kit/core'
import type { RedisOptions } from 'ioredis'
import type { Mode } from '../algorithms.ts'
import type { LimitRequest, StoreResult } from '../evaluate.ts'
import type { RateLimitStore } from '../store.ts'
import { ALGORITHM_CODE, BLOCK_SCRIPT, LIMIT_SCRIPT } from '../redis-script.ts'
import { MODE_CODE } from '../algorithms.ts'

/**
 * The ioredis client methods the store uses, written structurally so that the package's types
 * never need ioredis installed (a memory-only user type-checks without it).
 */
export interface RedisStoreClient {
  readonly status: string
  defineCommand(name: string, definition: { numberOfKeys?: number; lua: string }): void
  on(event: 'error', listener: (error: unknown) => void): unknown
  connect(): Promise<unknown>
  ping(): Promise<unknown>
  del(...keys: string[]): Promise<unknown>
  quit(): Promise<unknown>
  disconnect(): void
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
  /** An ioredis client of your own (not closed by the store). */
  client?: RedisStoreClient
}

type Scripted = RedisStoreClient & {
  beaverLimit(numKeys: number, ...args: Array<string | number>): Promise<number[][]>
  beaverBlock(key: string, ms: number): Promise<number>
}

/**
 * Redis: every check is one EVALSHA of one script (ioredis reloads it on NOSCRIPT), which
 * evaluates all the limits of a call atomically. A key's state, block and sequence keys share
 * one hash tag, so each limit lives in one Cluster slot. Commands fail fast while Redis is
 * away (no offline queue), so the limiter's failure policy decides instead of a hung request.
 */
export class RedisStore implements RateLimitStore {
  readonly name = 'redis'
  readonly #options: RedisStoreOptions
  readonly #prefix: string
  #client: Promise<Scripted> | undefined
  #own = false

  constructor(options: RedisStoreOptions = {}) {
    this.#options = options
    this.#prefix = options.prefix ?? 'rl'
  }

  #keys(key: string): [string, string, string] {
    const base = `${this.#prefix}:{${key}}`
    return [base, `${base}:b`, `${base}:q`]
  }

  #connect(): Promise<Scripted> {
    this.#client ??= (async () => {
      let client = this.#options.client
      if (!client) {
        const { Redis } = await importPeer('ioredis', () => import('ioredis'), 'the redis rate-limit store')
        const options: RedisOptions = {
          lazyConnect: true,
          enableOfflineQueue: false,
          maxRetriesPerRequest: 1,
          commandTimeout: this.#options.timeoutMs ?? 500,
          ...(this.#options.password ? { password: this.#options.password } : {}),
        }
        client = new Redis(this.#options.url ?? 'redis://127.0.0.1:6379', options) as RedisStoreClient
        client.on('error', () => undefined) // surfaced per call, through the failure policy
        this.#own = true
        // One client for the store's life: when this first attempt fails, ioredis keeps
        // reconnecting in the background while calls fail fast (no offline queue).
        await client.connect().catch(() => undefined)
      }
      client.defineCommand('beaverLimit', { lua: LIMIT_SCRIPT })
      client.defineCommand('beaverBlock', { numberOfKeys: 1, lua: BLOCK_SCRIPT })
      return client as Scripted
    })()
    return this.#client
  }

  async apply(requests: readonly LimitRequest[], now: number, mode: Mode): Promise<StoreResult[]> {
    const client = await this.#connect()
    const keys: string[] = []
    const args: Array<string | number> = [now, MODE_CODE[mode]]
    for (const r of requests) {
      keys.push(...this.#keys(r.key))
      args.push(ALGORITHM_CODE[r.rule.algorithm], r.rule.limit, r.rule.windowMs, r.rule.burst, r.cost)
    }
    const reply = await client.beaverLimit(keys.length, ...keys, ...args)
    return reply.map(([allowed, granted, remaining, resetMs, retryAfterMs, blocked]) => ({
      allowed: allowed === 1,
      granted: Number(granted),
      remaining: Number(remaining),
      resetMs: Number(resetMs),
      retryAfterMs: Number(retryAfterMs),
      blocked: blocked === 1,
    }))
  }

  async block(key: string, ms: number): Promise<void> {
    const client = await this.#connect()
    await client.beaverBlock(this.#keys(key)[1], Math.max(0, Math.ceil(ms)))
  }

  async reset(key: string): Promise<void> {
    const client = await this.#connect()
    await client.del(...this.#keys(key))
  }

  async ready(): Promise<void> {
    const client = await this.#connect()
    await client.ping()
  }

  async close(): Promise<void> {
    const pending = this.#client
    this.#client = undefined
    if (!pending || !this.#own) return
    const client = await pending.catch(() => undefined)
    if (client?.status === 'ready') await client.quit().catch(() => client.disconnect())
    else client?.disconnect()
  }
}
