import { randomUUID } from 'node:crypto'
import { eventChannel, importPeer } from '@beaver-kit/core'
import type { Redis } from 'ioredis'

/** What one process tells the others so they drop copies from their local (memory) tiers. */
export type InvalidationMessage =
  | { readonly kind: 'delete'; readonly namespace: string; readonly keys: readonly string[] }
  | { readonly kind: 'clear'; readonly namespace: string }
  | {
      readonly kind: 'tags'
      readonly namespace: string
      readonly tags: readonly string[]
      readonly at: number
      readonly mode: 'soft' | 'hard'
    }

/**
 * Carries invalidations between processes that share a tier. A process never receives its
 * own messages. Delivery is at most once (pub/sub): a process that was disconnected clears
 * its local tiers when it reconnects (`onReconnect`), so it never serves what it missed.
 */
export interface InvalidationBus {
  /** This process's id on the bus. */
  readonly id: string
  publish(message: InvalidationMessage): Promise<void>
  /** Adds a handler for messages from other processes; returns the unsubscribe function. */
  subscribe(handler: (message: InvalidationMessage) => void): () => void
  /** Adds a handler for "the subscription was lost and is back" (messages may have been missed). */
  onReconnect(handler: () => void): () => void
  /** Resolves once the subscription is active. */
  ready(): Promise<void>
  close(): Promise<void>
}

/** Options of {@link createRedisBus}. */
export interface RedisBusOptions {
  /** Redis URL; default `redis://127.0.0.1:6379`. Ignored when `client` is given. */
  url?: string | undefined
  /** A client to publish with (kept open on close); the subscriber is its `duplicate()`. */
  client?: Redis | undefined
  /** Pub/sub channel; default `beaver:cache:bus`. Processes sharing a cache must use the same. */
  channel?: string | undefined
}

const busEvent = eventChannel('cache', 'bus')

/**
 * The invalidation bus over Redis pub/sub: one extra connection per process for the
 * subscription. Messages are small JSON documents (`{"o":sender,"m":message}`).
 * @example const bus = createRedisBus({ url: 'redis://127.0.0.1:6379' }); await bus.ready()
 */
export function createRedisBus(options: RedisBusOptions = {}): InvalidationBus {
  return new RedisBus(options)
}

class RedisBus implements InvalidationBus {
  readonly id = randomUUID()
  readonly #channel: string
  readonly #options: RedisBusOptions
  readonly #handlers = new Set<(m: InvalidationMessage) => void>()
  readonly #reconnectHandlers = new Set<() => void>()
  #pub: Redis | undefined
  #sub: Redis | undefined
  #ownsPub = false
  #ready: Promise<void> | undefined
  #closed = false
  #everReady = false

  constructor(options: RedisBusOptions) {
    this.#options = options
    this.#channel = options.channel ?? 'beaver:cache:bus'
  }

  ready(): Promise<void> {
    this.#ready ??= this.#connect()
    return this.#ready
  }

  async #connect(): Promise<void> {
    const { Redis: RedisClass } = await importPeer('ioredis', () => import('ioredis'), 'the cache invalidation bus')
    const pub =
      this.#options.client ??
      new RedisClass(this.#options.url ?? 'redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 1 })
    this.#ownsPub = this.#options.client === undefined
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
    let parsed: { o?: unknown; m?: unknown }
    try {
      parsed = JSON.parse(text) as { o?: unknown; m?: unknown }
    } catch {
      if (busEvent.hasSubscribers) busEvent.publish({ event: 'malformed', bytes: text.length })
      return
    }
    if (parsed.o === this.id || typeof parsed.m !== 'object' || parsed.m === null) return
    const message = parsed.m as InvalidationMessage
    if (busEvent.hasSubscribers)
      busEvent.publish({ event: 'received', kind: message.kind, namespace: message.namespace })
    for (const h of this.#handlers) h(message)
  }

  async publish(message: InvalidationMessage): Promise<void> {
    await this.ready()
    await (this.#pub as Redis).publish(this.#channel, JSON.stringify({ o: this.id, m: message }))
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
