import type { Consumer, JsMsg } from '@nats-io/jetstream'
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
import {
  brokerCapabilities,
  ENVELOPE_HEADER,
  decodeEnvelope,
  envelopeOf,
  envelopeOfDelivery,
  type BrokerEnvelope,
} from './broker-message.ts'
import { MAX_DEAD_SCAN, bridgeMaxDelivered, isNotFound, scanDead, type DeadEntry } from './nats-dead.ts'
import { NatsLeases } from './nats-leases.ts'
import { NatsLink, type NatsHandles } from './nats-link.ts'
import { moveDelayed } from './nats-mover.ts'
import { queueNames, queueOfStream, type NatsQueueNames } from './nats-names.ts'
import type { NatsQueueOptions } from './nats-options.ts'
import { PullAhead, aheadSize, ema, pullInto, pullMessages } from './nats-pull-ahead.ts'
import type { PullLoop } from './nats-pull-loop.ts'
import { createStreams, ensureWorkConsumer, natsError } from './nats-streams.ts'
import { NatsTopics } from './nats-topics.ts'

export type { NatsQueueOptions } from './nats-options.ts'

interface QueueState {
  names: NatsQueueNames
  ready: Promise<void>
  /** The work consumer's ack_wait; lowered (never raised) to the shortest lease asked for. */
  ackWaitMs: number | undefined
  work: Promise<Consumer> | undefined
  /** The delay mover, and a topic group's relay, while this process consumes the queue. */
  loops: PullLoop[] | undefined
  advisories: { unsubscribe(): void } | undefined
  /** The next pull, in flight while this process's handlers run. */
  ahead: PullAhead
  /** Moving average of how long a delivery is held until it completes (ms); undefined until one did. */
  handleMs: number | undefined
}

const PUBLISH_WINDOW = 256
class NatsQueueDriver implements QueueDriver {
  readonly name = 'nats'
  // Nats-Msg-Id dedupes a repeated id within the duplicate window, but a dedupe key must free
  // itself once its message completes, which a time window cannot do: no dedupe, as on every broker.
  readonly capabilities = brokerCapabilities({ extendLease: true, fanOut: true })
  readonly #options: NatsQueueOptions
  readonly #ctx: QueueDriverContext
  readonly #link: NatsLink
  readonly #prefix: string
  readonly #queues = new Map<string, QueueState>()
  readonly #leases: NatsLeases
  readonly #topics: NatsTopics

  constructor(options: NatsQueueOptions, ctx: QueueDriverContext) {
    this.#options = options
    this.#ctx = ctx
    this.#prefix = options.prefix ?? 'bq'
    this.#link = new NatsLink(options, ctx)
    this.#leases = new NatsLeases(ctx.now)
    this.#topics = new NatsTopics(() => this.#h(), options, this.#prefix)
  }

  #h(): Promise<NatsHandles> {
    return this.#link.handles()
  }

  /** The queue's streams, created on first use (creating an identical stream again is a no-op). */
  #queue(queue: string): QueueState {
    let state = this.#queues.get(queue)
    if (!state) {
      const names = queueNames(this.#prefix, queue)
      state = {
        names,
        ready: this.#createStreams(names),
        ackWaitMs: undefined,
        work: undefined,
        loops: undefined,
        advisories: undefined,
        ahead: new PullAhead(this.#ctx.now),
        handleMs: undefined,
      }
      const own = state
      state.ready.catch(() => {
        if (this.#queues.get(queue) === own) this.#queues.delete(queue)
      })
      this.#queues.set(queue, state)
    }
    return state
  }

  async #createStreams(n: NatsQueueNames): Promise<void> {
    await createStreams(await this.#h(), n, this.#options, this.#ctx.settings.keepDeadMs)
  }

  /**
   * Publishes to one of the queue's subjects. A stream deleted behind the driver's back is
   * created again and the message sent once more.
   */
  async #send(
    queue: string,
    subject: (n: NatsQueueNames) => string,
    body: string,
    envelope: BrokerEnvelope,
    msgId: string,
  ): Promise<void> {
    const state = this.#queue(queue)
    await state.ready
    try {
      await this.#link.publish(subject(state.names), body, envelope, msgId)
    } catch (error) {
      if (!(error instanceof QueueError) || error.code !== 'QUEUE_NOT_FOUND') throw error
      await this.#forget(queue, state)
      const again = this.#queue(queue)
      await again.ready
      await this.#link.publish(subject(again.names), body, envelope, msgId)
    }
  }

  /** Drops what the driver knows of a queue whose streams or consumers are gone. */
  async #forget(queue: string, state: QueueState): Promise<void> {
    if (this.#queues.get(queue) === state) this.#queues.delete(queue)
    state.advisories?.unsubscribe()
    void state.ahead.stop(() => Promise.resolve())
    for (const loop of state.loops ?? []) await loop.stop()
  }

  async #publishCopy(queue: string, envelope: BrokerEnvelope, body: string, msgId: string): Promise<void> {
    const due = envelope.runAt <= this.#ctx.now()
    await this.#send(queue, (n) => (due ? n.jobs : n.delayed), body, envelope, msgId)
  }

  async enqueue(messages: readonly DriverMessage[]): Promise<string[]> {
    for (let i = 0; i < messages.length; i += PUBLISH_WINDOW) {
      await Promise.all(
        messages.slice(i, i + PUBLISH_WINDOW).map((m) => this.#publishCopy(m.queue, envelopeOf(m), m.payload, m.id)),
      )
    }
    return messages.map((m) => m.id)
  }

  subscribe(topic: string, queue: string): Promise<void> {
    return this.#topics.subscribe(topic, queue)
  }

  async publishTopic(topic: string, messages: readonly DriverMessage[]): Promise<string[]> {
    await this.#topics.publish(topic, messages, (...args) => this.#link.publish(...args))
    return messages.map((m) => m.id)
  }

  /** The durable pull consumer of a queue, its ack_wait lowered to `leaseMs` when that is shorter. */
  async #work(queue: string, leaseMs: number): Promise<Consumer> {
    const state = this.#queue(queue)
    const ackWaitMs = Math.max(100, leaseMs)
    if (state.work && state.ackWaitMs !== undefined && state.ackWaitMs <= ackWaitMs) return state.work
    const opening = (async () => {
      await state.ready
      const h = await this.#h()
      state.ackWaitMs = await ensureWorkConsumer(h, state.names, ackWaitMs, this.#options.maxDeliver ?? 1000)
      this.#watchMaxDeliveries(queue, state, h)
      return h.js.consumers.get(state.names.stream, state.names.work)
    })()
    state.work = opening
    opening.catch(() => {
      if (state.work === opening) state.work = undefined
    })
    return opening
  }

  /** Listens for JetStream's max-deliveries advisory of the queue's consumer (see bridgeMaxDelivered). */
  #watchMaxDeliveries(queue: string, state: QueueState, h: NatsHandles): void {
    if (state.advisories || this.#link.closed) return
    const n = state.names
    state.advisories = h.nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${n.stream}.${n.work}`, {
      callback: (_err, msg) => {
        const seq = Number((msg.json() as { stream_seq?: unknown }).stream_seq)
        if (!Number.isInteger(seq)) return
        const publish = this.#link.publish.bind(this.#link)
        const max = this.#options.maxDeliver ?? 1000
        void bridgeMaxDelivered(h.jsm, queue, n, seq, max, this.#ctx.now(), publish).catch(() => undefined)
      },
    })
  }

  async fetch(queue: string, options: FetchOptions): Promise<Delivery[]> {
    const state = this.#queue(queue)
    try {
      return await this.#fetch(queue, state, options)
    } catch (error) {
      // The stream or its consumer was deleted behind our back: the next fetch creates them.
      if (isNotFound(error) || isNotFound((error as Error).cause)) await this.#forget(queue, state)
      throw error
    }
  }

  async #fetch(queue: string, state: QueueState, options: FetchOptions): Promise<Delivery[]> {
    const consumer = await this.#work(queue, options.leaseMs)
    state.loops ??= [
      moveDelayed(
        () => this.#h(),
        queue,
        state.names,
        this.#ctx.now,
        (...args) => this.#link.publish(...args),
      ),
      ...this.#topics.relay(queue, this.#ctx.now, (...args) => this.#publishCopy(...args)),
    ]
    for (const loop of state.loops) loop.start()
    // Wait for one message (pulled ahead, or a new one), then take what the consumer says is
    // pending, up to max: a fetch for more than is there would wait out its expiry.
    const expires = Math.min(30_000, Math.max(1000, options.waitMs))
    const ahead = await state.ahead.take(options.max, options.signal)
    // Pulled ahead, they waited here while their ack_wait ran: their in-progress acks are
    // timed from when they came, not from now (see NatsLeases.hold).
    const beatFrom = ahead?.messages.length ? ahead.since : undefined
    const first = ahead?.messages.length
      ? ahead.messages
      : await pullMessages(consumer, 1, expires, options.signal, this.#giveBackLater)
    const got = [...first]
    // While messages pulled ahead wait (or are on their way), they are the next ones: what
    // the server counts as pending does not count them.
    let pending = state.ahead.busy ? 0 : (first[first.length - 1]?.info.pending ?? 0)
    while (got.length > 0 && got.length < options.max && pending > 0 && !options.signal.aborted) {
      const more = await pullMessages(
        consumer,
        Math.min(options.max - got.length, pending),
        1000,
        options.signal,
        this.#giveBackLater,
      )
      if (more.length === 0) break
      got.push(...more)
      pending = more[more.length - 1]?.info.pending ?? 0
    }
    // A backlog: the next messages are pulled while these run (see PullAhead).
    if (pending > 0 && got.length > 0 && !options.signal.aborted) {
      const holdMs = Math.min(expires, (state.ackWaitMs ?? options.leaseMs) / 2)
      const size = Math.min(pending, aheadSize(state.handleMs, holdMs))
      state.ahead.start(
        (signal, onMessage) => pullInto(consumer, size, expires, signal, onMessage),
        holdMs,
        (messages) => this.#giveBack(messages),
      )
    }
    const ackWaitMs = state.ackWaitMs ?? options.leaseMs
    return got.map((m, i) =>
      this.#leases.hold(queue, m, options.leaseMs, ackWaitMs, i < first.length ? beatFrom : undefined),
    )
  }

  /** Gives back in the background (what a cut-short pull brings after its abort). */
  readonly #giveBackLater = (messages: readonly JsMsg[]): void => void this.#giveBack(messages).catch(() => undefined)

  /** Messages nobody started go back with their delivery taken back (a copy, then an ack). */
  async #giveBack(messages: readonly JsMsg[]): Promise<void> {
    for (const m of messages) {
      const envelope = decodeEnvelope(m.headers?.get(ENVELOPE_HEADER))
      if (!envelope) {
        m.nak()
        continue
      }
      const copy = { ...envelope, attempts: envelope.attempts + m.info.deliveryCount - 1 }
      await this.#link.publish(m.subject, m.string(), copy, `${envelope.id}:back:${m.info.streamSequence}:${m.seq}`)
      m.ack()
    }
  }

  async complete(queue: string, deliveries: readonly Delivery[]): Promise<void> {
    const live = deliveries.map((d) => this.#leases.take(d)).filter((h) => h !== undefined)
    const state = this.#queues.get(queue)
    if (state && live.length > 0) {
      // How long a delivery is held, handler and ack batching included: sizes the pull ahead.
      const now = this.#ctx.now()
      for (const h of live) state.handleMs = ema(state.handleMs, Math.max(0, now - h.since))
    }
    // Confirmed acks: a work-queue stream drops the message once the server has the ack.
    await Promise.all(
      live.map((h) =>
        h.msg.ackAck().catch((error: unknown) => {
          throw natsError(error, 'acknowledge a message')
        }),
      ),
    )
  }

  async fail(queue: string, d: Delivery, failure: Failure): Promise<void> {
    const h = this.#leases.live(d)
    if (!h) return
    if (failure.kind === 'retry') {
      await this.#publishCopy(
        queue,
        { ...envelopeOfDelivery(d, d.attempt, failure.error), runAt: failure.runAt },
        d.payload,
        `${d.id}:retry:${d.token}`,
      )
    } else if (failure.kind === 'dead') {
      const envelope = {
        ...envelopeOfDelivery(d, d.attempt, failure.error),
        deadReason: failure.reason,
        deadAt: this.#ctx.now(),
      }
      await this.#send(queue, (n) => n.dead, d.payload, envelope, `${d.id}:dead:${d.token}`)
    }
    // Acknowledged only once the copy is stored: a crash in between redelivers the original.
    if (this.#leases.take(d)) await h.msg.ackAck().catch(() => undefined)
  }

  async release(queue: string, deliveries: readonly Delivery[]): Promise<void> {
    for (const d of deliveries) {
      const h = this.#leases.live(d)
      if (!h) continue
      // A nak would count a delivery; a copy with the attempt taken back does not.
      await this.#publishCopy(
        queue,
        { ...envelopeOfDelivery(d, d.attempt - 1, d.lastError), runAt: this.#ctx.now() },
        d.payload,
        `${d.id}:release:${d.token}`,
      )
      if (this.#leases.take(d)) await h.msg.ackAck().catch(() => undefined)
    }
  }

  async renew(_queue: string, deliveries: readonly Delivery[], leaseMs: number): Promise<RenewResult> {
    return this.#leases.renew(deliveries, leaseMs, this.#link.connected)
  }

  async cancel(): Promise<'removed' | 'signalled' | 'none'> {
    return 'none'
  }

  async counts(queue: string): Promise<QueueCounts> {
    const state = this.#queue(queue)
    await state.ready
    const { jsm } = await this.#h()
    const n = state.names
    try {
      const [main, dead, work] = await Promise.all([
        jsm.streams.info(n.stream, { subjects_filter: '>' }),
        jsm.streams.info(n.deadStream),
        jsm.consumers.info(n.stream, n.work).catch((error: unknown) => {
          if (isNotFound(error)) return undefined
          throw error
        }),
      ])
      const subjects = main.state.subjects ?? {}
      const active = work?.num_ack_pending ?? 0
      return {
        waiting: Math.max(0, (subjects[n.jobs] ?? 0) - active),
        active,
        delayed: subjects[n.delayed] ?? 0,
        completed: 0,
        failed: 0,
        dead: dead.state.messages,
      }
    } catch (error) {
      throw natsError(error, `count the messages of "${n.stream}"`)
    }
  }

  async get(queue: string, id: string): Promise<StoredMessage | undefined> {
    const active = this.#leases.active(queue, id)
    if (active) return active
    let found: StoredMessage | undefined
    await this.#scanDead(queue, (e) => {
      if (e.message.id !== id) return 'more'
      found = e.message
      return 'stop'
    })
    return found
  }

  async progress(): Promise<void> {
    // Brokers keep no record of a message to attach progress to (capabilities.history false).
  }

  async #scanDead(queue: string, visit: (entry: DeadEntry) => 'more' | 'stop'): Promise<void> {
    const state = this.#queue(queue)
    await state.ready
    const { jsm } = await this.#h()
    await scanDead(jsm, state.names.deadStream, queue, visit)
  }

  async listDead(queue: string, options: { limit: number; offset: number }): Promise<StoredMessage[]> {
    const out: StoredMessage[] = []
    let skip = options.offset
    await this.#scanDead(queue, (e) => {
      if (skip > 0) skip--
      else out.push(e.message)
      return out.length >= options.limit ? 'stop' : 'more'
    })
    return out
  }

  /** The dead entries `ids` selects, oldest first (as they were dead-lettered). */
  async #selectDead(queue: string, ids: readonly string[] | 'all'): Promise<DeadEntry[]> {
    const wanted = ids === 'all' ? undefined : new Set(ids)
    const taken: DeadEntry[] = []
    await this.#scanDead(queue, (e) => {
      if (!wanted || wanted.has(e.message.id)) taken.push(e)
      return taken.length >= MAX_DEAD_SCAN ? 'stop' : 'more'
    })
    return taken.reverse()
  }

  async replayDead(queue: string, ids: readonly string[] | 'all'): Promise<number> {
    const state = this.#queue(queue)
    const { jsm } = await this.#h()
    let n = 0
    for (const e of await this.#selectDead(queue, ids)) {
      const m = e.message
      const envelope = { ...envelopeOf({ ...m, dedupeKey: undefined }, 0, m.lastError), runAt: this.#ctx.now() }
      await this.#link.publish(
        state.names.jobs,
        m.payload,
        envelope,
        `${m.id}:replay:${state.names.deadStream}:${e.seq}`,
      )
      if (await jsm.streams.deleteMessage(state.names.deadStream, e.seq).catch(() => false)) n++
    }
    return n
  }

  async purgeDead(queue: string, ids: readonly string[] | 'all'): Promise<number> {
    const state = this.#queue(queue)
    await state.ready
    const { jsm } = await this.#h()
    if (ids === 'all') return (await jsm.streams.purge(state.names.deadStream)).purged
    let n = 0
    for (const e of await this.#selectDead(queue, ids)) {
      if (await jsm.streams.deleteMessage(state.names.deadStream, e.seq).catch(() => false)) n++
    }
    return n
  }

  async queues(): Promise<string[]> {
    const { jsm } = await this.#h()
    const out = new Set<string>(this.#queues.keys())
    for await (const name of jsm.streams.names(`${this.#prefix}.>`)) {
      const queue = queueOfStream(this.#prefix, name)
      if (queue !== undefined) out.add(queue)
    }
    return [...out]
  }

  async ping(): Promise<void> {
    const { jsm } = await this.#h()
    await jsm.getAccountInfo().catch((error: unknown) => {
      throw natsError(error, 'reach JetStream')
    })
  }

  async stopFetching(queue: string): Promise<void> {
    const state = this.#queues.get(queue)
    await state?.ahead.stop((messages) => this.#giveBack(messages))
    for (const loop of state?.loops ?? []) await loop.stop()
  }

  async close(): Promise<void> {
    if (this.#link.closed) return
    for (const state of this.#queues.values()) {
      await state.ahead.stop((messages) => this.#giveBack(messages))
      for (const loop of state.loops ?? []) await loop.stop()
      state.advisories?.unsubscribe()
    }
    this.#leases.clear()
    await this.#link.close()
  }
}

/**
 * NATS JetStream on the official client (`@nats-io/transport-node` + `@nats-io/jetstream`):
 * a work-queue stream per queue with a durable pull consumer (ack_wait as the lease, renewed
 * by in-progress acks), delays through a delay subject moved when due, a DLQ stream with the
 * reason (also for JetStream's own max_deliver), idempotent publish by Nats-Msg-Id.
 * @example createQueue({ driver: 'nats', nats: { servers: ['nats://127.0.0.1:4222'] } })
 */
export const natsDriver = defineQueueDriver<NatsQueueOptions>({
  name: 'nats',
  peers: ['@nats-io/transport-node', '@nats-io/jetstream'],
  section: 'nats',
  create: (options, ctx) => new NatsQueueDriver(options, ctx),
})
