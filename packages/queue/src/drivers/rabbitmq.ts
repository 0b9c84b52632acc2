import { randomUUID } from 'node:crypto'
import type { Channel, ConfirmChannel, ConsumeMessage, Message } from 'amqplib'
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
import {
  DEAD_LOOKUP_LIMIT,
  brokerCapabilities,
  delayBucket,
  envelopeOf,
  envelopeOfDelivery,
  foreignEnvelope,
  toActiveMessage,
  toBrokerDelivery,
  type BrokerEnvelope,
} from './broker-message.ts'
import { AckRunsByChannel } from './rabbitmq-ack-runs.ts'
import { RabbitDeadLetters } from './rabbitmq-dead-letters.ts'
import { AmqpLink } from './rabbitmq-link.ts'
import { isNotFound, kitEnvelopeOf, redeliveries } from './rabbitmq-messages.ts'
import { ConfirmedPublisher } from './rabbitmq-publisher.ts'
import { FetchWaiters } from './rabbitmq-waiters.ts'
import { RabbitTopology } from './rabbitmq-topology.ts'

/** Options of the rabbitmq driver (`BEAVER_QUEUE_RABBITMQ_*`). */
export interface RabbitQueueOptions {
  url?: string | undefined
  /** `quorum` (default: replicated, poison-message safe) or `classic`. */
  queueType?: 'quorum' | 'classic' | undefined
  /** First segment of every queue name. Default `bq`. */
  prefix?: string | undefined
  /**
   * Unacknowledged messages per consumer; 0 (default): the consumer's concurrency plus one, so
   * the next message is at hand when a handler finishes instead of one round trip away.
   */
  prefetch?: number | undefined
  /** Deletes a queue unused for this long (`x-expires`), for short-lived namespaces; 0: never. */
  expires?: number | undefined
}

interface Subscription {
  channel: Channel | undefined
  consumerTag: string | undefined
  opening: Promise<Channel> | undefined
  buffer: ConsumeMessage[]
  waiters: FetchWaiters
  /** The fetch signals that wake the waiters when they abort (see #wakeOnAbort). */
  watched: WeakSet<AbortSignal>
}

interface Held {
  queue: string
  msg: Message
  channel: Channel
  envelope: BrokerEnvelope
}

class RabbitQueueDriver implements QueueDriver {
  readonly name = 'rabbitmq'
  // The lease is the channel: a delivery stays unacknowledged until it is settled or the
  // channel closes (a crashed worker), as decision 0006 says; there is no lease to extend.
  readonly capabilities = brokerCapabilities({ extendLease: false, fanOut: true })
  readonly #link: AmqpLink
  readonly #ctx: QueueDriverContext
  readonly #topology: RabbitTopology
  readonly #publisher: ConfirmedPublisher
  readonly #deadLetters: RabbitDeadLetters
  readonly #prefetch: number
  readonly #subs = new Map<string, Subscription>()
  readonly #held = new Map<string, Held>()
  /** Each consumer channel's outstanding deliveries (see AckRuns). */
  readonly #runs = new AckRunsByChannel()
  #deliveries = 0

  constructor(options: RabbitQueueOptions, ctx: QueueDriverContext) {
    this.#ctx = ctx
    this.#prefetch = options.prefetch ?? 0
    this.#link = new AmqpLink(options.url ?? 'amqp://guest:guest@127.0.0.1:5672', ctx)
    this.#link.onChannelClosed((ch) => this.#channelClosed(ch))
    this.#topology = new RabbitTopology(this.#link, ctx, {
      prefix: options.prefix ?? 'bq',
      queueType: options.queueType ?? 'quorum',
      expires: options.expires ?? 0,
    })
    this.#publisher = new ConfirmedPublisher(this.#link)
    this.#deadLetters = new RabbitDeadLetters(this.#link, this.#topology, this.#publisher, ctx)
  }

  /** A channel the server closed: its unacknowledged messages went back to their queues. */
  #channelClosed(ch: Channel): void {
    for (const [token, h] of this.#held) if (h.channel === ch) this.#held.delete(token)
    for (const sub of this.#subs.values()) {
      if (sub.channel !== ch) continue
      sub.channel = undefined
      sub.opening = undefined
      sub.consumerTag = undefined
      sub.buffer = []
      sub.waiters.wakeAll()
    }
  }

  /** Publishes a copy to the queue itself, or to the delay queue its run time needs. */
  #publishCopy(ch: ConfirmChannel, queue: string, envelope: BrokerEnvelope, payload: string): Promise<void> {
    const wait = envelope.runAt - this.#ctx.now()
    if (wait <= 0) return this.#publisher.send(ch, this.#topology.main(queue), envelope, payload)
    return this.#topology
      .declareDelay(queue, delayBucket(wait))
      .then((target) => this.#publisher.send(ch, target, envelope, payload))
  }

  async enqueue(messages: readonly DriverMessage[]): Promise<string[]> {
    const ch = this.#publisher.open
    const [one] = messages
    if (messages.length === 1 && one && ch && this.#topology.isDeclared(one.queue)) {
      // The usual publish, one message to a declared queue on an open channel: sent in this
      // turn, with one promise between the caller and the broker's confirm.
      try {
        await this.#publishCopy(ch, one.queue, envelopeOf(one), one.payload)
      } catch (error) {
        if (!isNotFound(error)) throw error
        await this.#republish(messages)
      }
      return [one.id]
    }
    for (const q of new Set(messages.map((m) => m.queue))) await this.#topology.declare(q)
    const channel = await this.#publisher.channel()
    const results = await Promise.allSettled(
      messages.map((m) => this.#publishCopy(channel, m.queue, envelopeOf(m), m.payload)),
    )
    const missing = messages.filter((_, i) => {
      const r = results[i]
      return r?.status === 'rejected' && isNotFound(r.reason)
    })
    if (missing.length > 0) await this.#republish(missing)
    for (const r of results) if (r.status === 'rejected' && !isNotFound(r.reason)) throw r.reason
    return messages.map((m) => m.id)
  }

  /** The queue was deleted behind our back: declares it again and publishes what bounced, once. */
  async #republish(missing: readonly DriverMessage[]): Promise<void> {
    for (const q of new Set(missing.map((m) => m.queue))) {
      this.#topology.forget(q)
      await this.#topology.declare(q)
      // Its consumer went with it (the server's cancel notification may not have come).
      const sub = this.#subs.get(q)
      if (sub?.consumerTag !== undefined) {
        const tag = sub.consumerTag
        sub.consumerTag = undefined
        await sub.channel?.cancel(tag).catch(() => undefined)
        sub.waiters.wakeAll()
      }
    }
    const again = await this.#publisher.channel()
    await Promise.all(missing.map((m) => this.#publishCopy(again, m.queue, envelopeOf(m), m.payload)))
  }

  async subscribe(topic: string, queue: string): Promise<void> {
    await this.#topology.bind(topic, queue)
  }

  async publishTopic(topic: string, messages: readonly DriverMessage[]): Promise<string[]> {
    const exchange = await this.#topology.declareTopic(topic)
    const ch = await this.#publisher.channel()
    await Promise.all(
      messages.map(async (m) => {
        const wait = m.runAt - this.#ctx.now()
        const envelope = envelopeOf(m)
        if (wait <= 0) return this.#publisher.send(ch, '', envelope, m.payload, exchange)
        const delayQueue = await this.#topology.declareTopicDelay(topic, delayBucket(wait))
        return this.#publisher.send(ch, delayQueue, envelope, m.payload)
      }),
    )
    return messages.map((m) => m.id)
  }

  #sub(queue: string): Subscription {
    let sub = this.#subs.get(queue)
    if (!sub) {
      sub = {
        channel: undefined,
        consumerTag: undefined,
        opening: undefined,
        buffer: [],
        waiters: new FetchWaiters(),
        watched: new WeakSet(),
      }
      this.#subs.set(queue, sub)
    }
    return sub
  }

  /**
   * The consuming channel of a queue: (re)created, with prefetch and consumer, when missing
   * (a channel the server closed, a lost connection, a consumer stopped by stopFetching).
   */
  #consumer(queue: string, sub: Subscription, prefetch: number): Promise<Channel> {
    if (sub.channel && sub.consumerTag !== undefined) return Promise.resolve(sub.channel)
    sub.opening ??= (async () => {
      await this.#topology.declare(queue)
      let ch = sub.channel
      if (!ch) {
        ch = await this.#link.channel()
        // One beyond the handlers: while they run, the broker already sends the message the
        // next free slot takes, so a slot does not idle for the ack's round trip to the broker
        // and the next delivery's way back (every message at concurrency 1). It waits in the
        // buffer, which stopFetching gives back uncounted.
        await ch.prefetch(this.#prefetch > 0 ? this.#prefetch : Math.max(1, prefetch) + 1)
        // Deliveries may arrive before consume() resolves: the buffer must take them already.
        sub.channel = ch
      }
      const own = ch
      const { consumerTag } = await ch.consume(this.#topology.main(queue), (msg) => {
        if (sub.channel !== own) return
        if (!msg) {
          // The server cancelled the consumer (its queue was deleted, a quorum leader moved):
          // the next fetch declares the queue again and subscribes anew.
          sub.consumerTag = undefined
          this.#topology.forget(queue)
          sub.waiters.wakeAll()
          return
        }
        this.#runs.delivered(own, msg)
        sub.buffer.push(msg)
        sub.waiters.wakeAll()
      })
      sub.consumerTag = consumerTag
      sub.opening = undefined
      return ch
    })()
    sub.opening.catch(() => (sub.opening = undefined))
    return sub.opening
  }

  async fetch(queue: string, options: FetchOptions): Promise<Delivery[]> {
    const sub = this.#sub(queue)
    // Subscribed already (the usual case): no await, so a fetch costs one turn less.
    const ch =
      sub.channel && sub.consumerTag !== undefined ? sub.channel : await this.#consumer(queue, sub, options.max)
    if (sub.buffer.length === 0 && options.waitMs > 0 && !options.signal.aborted) {
      this.#wakeOnAbort(sub, options.signal)
      await sub.waiters.wait(options.waitMs)
    }
    if (sub.channel !== ch) return []
    const now = this.#ctx.now()
    return sub.buffer.splice(0, options.max).map((msg) => {
      // A topic's copy carries the topic's name: it is this group queue's message now.
      const decoded = kitEnvelopeOf(msg.properties, queue)
      const envelope = decoded
        ? decoded.queue === queue
          ? decoded
          : { ...decoded, queue }
        : foreignEnvelope(String(msg.properties.messageId ?? randomUUID()), queue, now)
      // Tokens name deliveries held by this driver instance only: a counter is enough.
      const token = `${++this.#deliveries}`
      this.#held.set(token, { queue, msg, channel: ch, envelope })
      return toBrokerDelivery(envelope, msg.content.toString(), envelope.attempts + redeliveries(msg) + 1, token)
    })
  }

  /**
   * Wakes the queue's waiting fetches when `signal` aborts. A consumer passes the same signal
   * to every fetch until it aborts it, so one listener per signal does, instead of adding and
   * removing one per fetch (~1 µs each on an EventTarget, at every message at concurrency 1).
   */
  #wakeOnAbort(sub: Subscription, signal: AbortSignal): void {
    if (sub.watched.has(signal)) return
    sub.watched.add(signal)
    signal.addEventListener(
      'abort',
      () => {
        sub.waiters.wakeAll()
      },
      { once: true },
    )
  }

  #take(d: Delivery): Held | undefined {
    const h = this.#held.get(d.token)
    if (h) this.#held.delete(d.token)
    return h
  }

  #ack(h: Held): void {
    try {
      h.channel.ack(h.msg)
      this.#runs.settledApart(h.channel, h.msg)
    } catch {
      // The channel closed meanwhile: the broker has requeued the message (at-least-once).
    }
  }

  async complete(_queue: string, deliveries: readonly Delivery[]): Promise<void> {
    const taken = deliveries.flatMap((d) => this.#take(d) ?? [])
    const channel = taken[0]?.channel
    if (!channel) return
    // A batch spanning a channel recreated meanwhile acknowledges the other one's on their own.
    for (const h of taken) if (h.channel !== channel) this.#ack(h)
    const msgs = taken.flatMap((h) => (h.channel === channel ? [h.msg] : []))
    try {
      this.#link.gatherWrites(this.#runs.ack(channel, msgs))
    } catch {
      // The channel closed meanwhile: the broker has requeued the messages (at-least-once).
    }
  }

  async fail(queue: string, d: Delivery, failure: Failure): Promise<void> {
    const h = this.#held.get(d.token)
    if (!h) return
    if (failure.kind !== 'cancelled') {
      const ch = await this.#publisher.channel()
      if (failure.kind === 'retry') {
        await this.#publishCopy(
          ch,
          queue,
          { ...envelopeOfDelivery(d, d.attempt, failure.error), runAt: failure.runAt },
          d.payload,
        )
      } else {
        const envelope = {
          ...envelopeOfDelivery(d, d.attempt, failure.error),
          deadReason: failure.reason,
          deadAt: this.#ctx.now(),
        }
        await this.#publisher.send(ch, this.#topology.dead(queue), envelope, d.payload)
      }
    }
    // Acknowledged only once the copy is confirmed: a crash in between redelivers the
    // original (a duplicate at worst, never a loss).
    if (this.#take(d)) this.#ack(h)
  }

  async release(queue: string, deliveries: readonly Delivery[]): Promise<void> {
    const ch = await this.#publisher.channel()
    for (const d of deliveries) {
      const h = this.#held.get(d.token)
      if (!h) continue
      // A requeue would count a delivery (x-delivery-count); a copy with the attempt taken
      // back does not.
      await this.#publisher.send(
        ch,
        this.#topology.main(queue),
        { ...envelopeOfDelivery(d, d.attempt - 1, d.lastError) },
        d.payload,
      )
      if (this.#take(d)) this.#ack(h)
    }
  }

  async renew(_queue: string, deliveries: readonly Delivery[]): Promise<RenewResult> {
    return { cancelled: [], lost: deliveries.filter((d) => !this.#held.has(d.token)).map((d) => d.id) }
  }

  async cancel(): Promise<'removed' | 'signalled' | 'none'> {
    return 'none'
  }

  async counts(queue: string): Promise<QueueCounts> {
    await this.#topology.declare(queue)
    const ch = await this.#link.admin()
    const [main, dead] = await Promise.all([
      ch.checkQueue(this.#topology.main(queue)),
      ch.checkQueue(this.#topology.dead(queue)),
    ])
    const delayed = await this.#topology.delayed(queue)
    let active = 0
    for (const h of this.#held.values()) if (h.queue === queue) active++
    return { waiting: main.messageCount, active, delayed, completed: 0, failed: 0, dead: dead.messageCount }
  }

  async get(queue: string, id: string): Promise<StoredMessage | undefined> {
    for (const h of this.#held.values()) {
      if (h.queue === queue && h.envelope.id === id)
        return toActiveMessage(h.envelope, h.msg.content.toString(), h.envelope.attempts + redeliveries(h.msg) + 1)
    }
    return (await this.listDead(queue, { limit: DEAD_LOOKUP_LIMIT, offset: 0 })).find((m) => m.id === id)
  }

  async progress(): Promise<void> {
    // Brokers keep no record of a message to attach progress to (capabilities.history false).
  }

  listDead(queue: string, options: { limit: number; offset: number }): Promise<StoredMessage[]> {
    return this.#deadLetters.list(queue, options)
  }

  replayDead(queue: string, ids: readonly string[] | 'all'): Promise<number> {
    return this.#deadLetters.replay(queue, ids)
  }

  purgeDead(queue: string, ids: readonly string[] | 'all'): Promise<number> {
    return this.#deadLetters.purge(queue, ids)
  }

  async queues(): Promise<string[]> {
    return this.#topology.queues()
  }

  async ping(): Promise<void> {
    await this.#link.publisher()
  }

  async stopFetching(queue: string): Promise<void> {
    const sub = this.#subs.get(queue)
    await sub?.opening?.catch(() => undefined)
    if (!sub?.channel || sub.consumerTag === undefined) return
    const tag = sub.consumerTag
    sub.consumerTag = undefined
    await sub.channel.cancel(tag).catch(() => undefined)
    await this.#giveBack(queue, sub)
  }

  /** Messages pushed to a consumer but never handed to a handler go back uncounted. */
  async #giveBack(queue: string, sub: Subscription): Promise<void> {
    const buffered = sub.buffer.splice(0)
    const ch = sub.channel
    if (buffered.length === 0 || !ch) return
    const publisher = await this.#publisher.channel().catch(() => undefined)
    for (const msg of buffered) {
      const envelope = kitEnvelopeOf(msg.properties, queue)
      try {
        if (!envelope || !publisher) throw new Error('requeue instead')
        await this.#publisher.send(
          publisher,
          this.#topology.main(queue),
          { ...envelope, attempts: envelope.attempts + redeliveries(msg) },
          msg.content.toString(),
        )
        ch.ack(msg)
        this.#runs.settledApart(ch, msg)
      } catch {
        // A plain requeue instead (counted as a delivery by a quorum queue).
        try {
          ch.nack(msg, false, true)
          this.#runs.settledApart(ch, msg)
        } catch {
          // The channel closed: the broker requeued it already.
        }
      }
    }
  }

  async close(): Promise<void> {
    if (this.#link.closed) return
    for (const [queue, sub] of this.#subs) await this.#giveBack(queue, sub)
    this.#subs.clear()
    this.#held.clear()
    await this.#link.close()
  }
}

/**
 * RabbitMQ on amqplib: quorum queues, publisher confirms, a DLQ per queue (also the queue's
 * dead-letter target), delays through per-delay TTL queues, channels recreated when the
 * server closes them.
 * @example createQueue({ driver: 'rabbitmq', rabbitmq: { url: 'amqp://guest:guest@127.0.0.1:5672' } })
 */
export const rabbitmqDriver = defineQueueDriver<RabbitQueueOptions>({
  name: 'rabbitmq',
  peers: ['amqplib'],
  section: 'rabbitmq',
  create: (options, ctx) => new RabbitQueueDriver(options, ctx),
})
