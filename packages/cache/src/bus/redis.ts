import { randomUUID } from 'node:crypto'
import { importPeer } from '@beaver-kit/core'
import type { Redis } from 'ioredis'
import { channels } from '../channels.ts'
import type { RedisClientLike } from '../types.ts'
import type { InvalidationBus, InvalidationMessage } from './bus.ts'
import { BusWire } from './wire.ts'

/** Options of {@link createRedisBus}. */
export interface RedisBusOptions {
  /** Redis URL; default `redis://127.0.0.1:6379`. Ignored when `client` is given. */
  url?: string | undefined
  /** An ioredis client to publish with (kept open on close); the subscriber is its `duplicate()`. */
  client?: RedisClientLike | undefined
  /** Pub/sub channel; default `beaver:cache:bus`. Processes sharing a cache must use the same. */
  channel?: string | undefined
  /**
   * Shared secret that signs every message (HMAC-SHA256). With it, messages without a valid
   * signature are dropped and counted (`rejected`), so nobody who can publish on the Redis
   * channel can evict other processes' entries; every process of the cache needs the same key.
   */
  key?: string | undefined
}

/**
 * The invalidation bus over Redis pub/sub: one extra connection per process for the
 * subscription. Messages are small JSON documents (`{"o":sender,"m":message,"s":signature}`).
 * @example const bus = createRedisBus({ url: 'redis://127.0.0.1:6379', key: process.env.BUS_KEY }); await bus.ready()
 */
export function createRedisBus(options: RedisBusOptions = {}): InvalidationBus {
  return new RedisBus(options)
}

class RedisBus implements InvalidationBus {
  readonly id = randomUUID()
  readonly #channel: string
  readonly #options: RedisBusOptions
  readonly #wire: BusWire
  readonly #handlers = new Set<(m: InvalidationMessage) => void>()
  readonly #reconnectHandlers = new Set<() => void>()
  #pub: Redis | undefined
  #sub: Redis | undefined
  #ownsPub = false
  #ready: Promise<void> | undefined
  #closed = false
  #everReady = false
  rejected = 0

  constructor(options: RedisBusOptions) {
    this.#options = options
    this.#channel = options.channel ?? 'beaver:cache:bus'
    this.#wire = new BusWire(options.key)
  }

  ready(): Promise<void> {
    this.#ready ??= this.#connect()
    return this.#ready
  }

  async #connect(): Promise<void> {
    const { Redis: RedisClass } = await importPeer('ioredis', () => import('ioredis'), 'the cache invalidation bus')
    const given = this.#options.client as Redis | undefined
    const pub =
      given ??
      new RedisClass(this.#options.url ?? 'redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 1 })
    this.#ownsPub = given === undefined
    this.#pub = pub
    const sub = pub.duplicate({ lazyConnect: true })
    this.#sub = sub
    sub.on('error', () => undefined)
    pub.on('error', () => undefined)
    sub.on('messageBuffer', (channel: Buffer, payload: Buffer) => {
      if (channel.toString() !== this.#channel) return
      this.#receive(payload.toString())
    })
    sub.on('ready', () => {
      // ioredis resubscribes on reconnect; messages published meanwhile were lost.
      if (this.#everReady && !this.#closed) for (const h of this.#reconnectHandlers) h()
    })
    await sub.subscribe(this.#channel)
    this.#everReady = true
    if (this.#ownsPub && pub.status === 'wait') await pub.connect()
  }

  #receive(text: string): void {
    const got = this.#wire.decode(text)
    if (typeof got === 'string') {
      this.rejected++
      if (channels.bus.hasSubscribers) channels.bus.publish({ event: got })
      return
    }
    if (got.sender === this.id) return
    const message = got.message
    if (channels.bus.hasSubscribers)
      channels.bus.publish({ event: 'received', kind: message.kind, namespace: message.namespace })
    for (const h of this.#handlers) h(message)
  }

  async publish(message: InvalidationMessage): Promise<void> {
    await this.ready()
    await (this.#pub as Redis).publish(this.#channel, this.#wire.encode(this.id, message))
  }

  subscribe(handler: (message: InvalidationMessage) => void): () => void {
    this.#handlers.add(handler)
    return () => {
      this.#handlers.delete(handler)
    }
  }

  onReconnect(handler: () => void): () => void {
    this.#reconnectHandlers.add(handler)
    return () => {
      this.#reconnectHandlers.delete(handler)
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#ready?.catch(() => undefined)
    this.#sub?.disconnect()
    if (this.#ownsPub) this.#pub?.disconnect()
  }
}
