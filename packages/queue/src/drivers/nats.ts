import { randomUUID } from 'node:crypto'
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
  ENVELOPE_HEADER,
  decodeEnvelope,
  encodeEnvelope,
  envelopeOf,
  envelopeOfDelivery,
  foreignEnvelope,
  toBrokerDelivery,
  toDeadMessage,
  type BrokerEnvelope,
} from './broker-message.ts'
import { MAX_DEAD_SCAN, isNotFound, scanDead, type DeadEntry } from './nats-dead.ts'
import { NatsLink, type NatsHandles } from './nats-link.ts'
import type { NatsQueueOptions } from './nats-options.ts'
import { queueNames, queueOfStream, type NatsQueueNames } from './nats-names.ts'
import { MoveDelayed } from './nats-mover.ts'

export type { NatsQueueOptions } from './nats-options.ts'

interface Held {
  queue: string
  msg: JsMsg
  envelope: BrokerEnvelope
  attempt: number
  /** The lease: past it the driver stops its in-progress acks and JetStream redelivers. */
  deadline: number
  lastBeat: number
  ackWaitMs: number
}

interface QueueState {
  names: NatsQueueNames
  ready: Promise<void>
  /** The work consumer's ack_wait; lowered (never raised) to the shortest lease asked for. */
  ackWaitMs: number | undefined
  work: Promise<Consumer> | undefined
  mover: MoveDelayed | undefined
  advisories: { unsubscribe(): void } | undefined
}

const MS = 1_000_000
const PUBLISH_TRIES = 3
const PUBLISH_WINDOW = 256
const HEARTBEAT_MS = 50

class NatsQueueDriver implements QueueDriver {
  readonly name = 'nats'
  readonly capabilities = Object.freeze({
    delay: true,
    priority: false,
    // Nats-Msg-Id dedupes a repeated id within the duplicate window, but a dedupe key must
    // free itself once its message completes, which a time window cannot do.
    dedupe: false,
    cancel: false,
    fairness: false,
    transactional: false,
    extendLease: true,
    durable: true,
    history: false,
  })
  readonly #options: NatsQueueOptions
  readonly #ctx: QueueDriverContext
  readonly #link: NatsLink
  readonly #prefix: string
  readonly #queues = new Map<string, QueueState>()
  readonly #held = new Map<string, Held>()
  #heartbeat: ReturnType<typeof setInterval> | undefined

  constructor(options: NatsQueueOptions, ctx: QueueDriverContext) {
    this.#options = options
    this.#ctx = ctx
    this.#prefix = options.prefix ?? 'bq'
    this.#link = new NatsLink(options, ctx)
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
        mover: undefined,
        advisories: undefined,
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
    const { jsm, jetstream } = await this.#h()
    const o = this.#options
    const common = {
      storage: o.storage === 'memory' ? jetstream.StorageType.Memory : jetstream.StorageType.File,
      num_replicas: o.replicas ?? 1,
    }
    try {
      await jsm.streams.add({
        name: n.stream,
        subjects: [n.jobs, n.delayed],
        retention: jetstream.RetentionPolicy.Workqueue,
        duplicate_window: (o.duplicateWindow ?? 120_000) * MS,
        ...common,
      })
      await jsm.streams.add({
        name: n.deadStream,
        subjects: [n.dead],
        retention: jetstream.RetentionPolicy.Limits,
        max_age: this.#ctx.settings.keepDeadMs * MS,
        duplicate_window: Math.min(this.#ctx.settings.keepDeadMs, 120_000) * MS,
        ...common,
      })
    } catch (error) {
      throw streamError(error, n.stream)
    }
  }

  /**
   * Publishes and resolves once the stream has stored it. A publish whose acknowledgement did
   * not come (a dropped connection) is sent again with the same Nats-Msg-Id, which the stream
   * stores once, so retrying never duplicates.
   */
  async #publish(subject: string, body: string, envelope: BrokerEnvelope, msgId: string): Promise<void> {
    const { js, headers } = await this.#h()
    const h = headers()
    h.set(ENVELOPE_HEADER, encodeEnvelope(envelope))
    let last: unknown
    for (let attempt = 1; attempt <= PUBLISH_TRIES; attempt++) {
      try {
        await js.publish(subject, body, { msgID: msgId, headers: h, timeout: 5000 })
        return
      } catch (error) {
        last = error
        // A refusal from the stream (no such subject, limits) does not get better by retrying.
        if ((error as { name?: string }).name === 'JetStreamApiError' || this.#link.closed) break
      }
    }
    throw new QueueError(
      'QUEUE_DRIVER_UNAVAILABLE',
      `JetStream did not acknowledge a message to "${subject}" (${(last as Error)?.message ?? String(last)}); it may not be stored.`,
      { cause: last },
    )
  }

  async #publishCopy(queue: string, envelope: BrokerEnvelope, body: string, msgId: string): Promise<void> {
    const state = this.#queue(queue)
    await state.ready
    const subject = envelope.runAt > this.#ctx.now() ? state.names.delayed : state.names.jobs
    await this.#publish(subject, body, envelope, msgId)
  }

  async enqueue(messages: readonly DriverMessage[]): Promise<string[]> {
    for (let i = 0; i < messages.length; i += PUBLISH_WINDOW) {
      await Promise.all(
        messages.slice(i, i + PUBLISH_WINDOW).map((m) => this.#publishCopy(m.queue, envelopeOf(m), m.payload, m.id)),
      )
    }
    return messages.map((m) => m.id)
  }

  /** The durable pull consumer of a queue, its ack_wait lowered to `leaseMs` when that is shorter. */
  async #work(queue: string, leaseMs: number): Promise<Consumer> {
    const state = this.#queue(queue)
    const ackWaitMs = Math.max(100, leaseMs)
    if (state.work && state.ackWaitMs !== undefined && state.ackWaitMs <= ackWaitMs) return state.work
    const opening = (async () => {
      await state.ready
      const { js, jsm, jetstream } = await this.#h()
      const n = state.names
      const info = await jsm.consumers.info(n.stream, n.work).catch((error: unknown) => {
        if (isNotFound(error)) return undefined
        throw error
      })
      if (!info) {
        await jsm.consumers.add(n.stream, {
          durable_name: n.work,
          ack_policy: jetstream.AckPolicy.Explicit,
          ack_wait: ackWaitMs * MS,
          max_deliver: this.#options.maxDeliver ?? 1000,
          max_ack_pending: -1,
          filter_subject: n.jobs,
        })
        state.ackWaitMs = ackWaitMs
      } else if ((info.config.ack_wait ?? 0) > ackWaitMs * MS) {
        await jsm.consumers.update(n.stream, n.work, { ack_wait: ackWaitMs * MS })
        state.ackWaitMs = ackWaitMs
      } else state.ackWaitMs = Math.round((info.config.ack_wait ?? ackWaitMs * MS) / MS)
      this.#watchMaxDeliveries(queue, state)
      return js.consumers.get(n.stream, n.work)
    })()
    state.work = opening
    opening.catch(() => {
      if (state.work === opening) state.work = undefined
    })
    return opening
  }

  /**
   * JetStream stops delivering a copy after max_deliver and only says so in an advisory, with
   * no DLQ of its own: the advisory is bridged here, the message moved to the DLQ with the
   * reason. Every consuming process listens; the DLQ copy's Nats-Msg-Id stores it once.
   */
  #watchMaxDeliveries(queue: string, state: QueueState): void {
    if (state.advisories) return
    const n = state.names
    void this.#h().then(({ nc }) => {
      if (state.advisories || this.#link.closed) return
      state.advisories = nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${n.stream}.${n.work}`, {
        callback: (_err, msg) => {
          const seq = Number((msg.json() as { stream_seq?: unknown }).stream_seq)
          if (Number.isInteger(seq)) void this.#bridgeMaxDelivered(queue, n, seq).catch(() => undefined)
        },
      })
    })
  }

  async #bridgeMaxDelivered(queue: string, n: NatsQueueNames, seq: number): Promise<void> {
    const { jsm } = await this.#h()
    const raw = await jsm.streams.getMessage(n.stream, { seq }).catch(() => null)
    if (!raw) return
    const now = this.#ctx.now()
    const envelope = decodeEnvelope(raw.header?.get(ENVELOPE_HEADER)) ?? foreignEnvelope(`${seq}`, queue, now)
    const max = this.#options.maxDeliver ?? 1000
    await this.#publish(
      n.dead,
      raw.string(),
      {
        ...envelope,
        attempts: envelope.attempts + max,
        deadReason: `attempts exhausted: JetStream delivered it max_deliver (${max}) times without an acknowledgement`,
        deadAt: now,
      },
      `${envelope.id}:dead:${n.stream}:${seq}`,
    )
    await jsm.streams.deleteMessage(n.stream, seq).catch(() => undefined)
  }

  async fetch(queue: string, options: FetchOptions): Promise<Delivery[]> {
    const consumer = await this.#work(queue, options.leaseMs)
    const state = this.#queue(queue)
    state.mover ??= new MoveDelayed(
      () => this.#h(),
      queue,
      state.names,
      this.#ctx.now,
      (subject, body, envelope, id) => this.#publish(subject, body, envelope, id),
    )
    state.mover.start()
    this.#startHeartbeat()
    // Wait for one message, then take what the consumer says is pending, up to max: a fetch
    // for more than is there would wait out its expiry.
    const first = await this.#pull(consumer, 1, Math.min(30_000, Math.max(1000, options.waitMs)), options.signal)
    const got = [...first]
    let pending = first[0]?.info.pending ?? 0
    while (got.length > 0 && got.length < options.max && pending > 0 && !options.signal.aborted) {
      const more = await this.#pull(consumer, Math.min(options.max - got.length, pending), 1000, options.signal)
      if (more.length === 0) break
      got.push(...more)
      pending = more[more.length - 1]?.info.pending ?? 0
    }
    return got.map((m) => this.#hold(queue, m, options.leaseMs, state.ackWaitMs ?? options.leaseMs))
  }

  /**
   * One pull request. An abort resolves at once with nothing; what the request still brings
   * is given back uncounted when it arrives.
   */
  async #pull(consumer: Consumer, max: number, expires: number, signal: AbortSignal): Promise<JsMsg[]> {
    if (signal.aborted) return []
    const got: JsMsg[] = []
    let iterator
    try {
      iterator = await consumer.fetch({ max_messages: max, expires })
    } catch (error) {
      throw natsError(error, 'fetch messages')
    }
    const reading = (async () => {
      for await (const m of iterator) got.push(m)
    })()
    let aborted = false
    const onAbort = (): void => void (aborted = true)
    await Promise.race([
      reading,
      new Promise<void>((resolve) => {
        signal.addEventListener('abort', () => (onAbort(), resolve()), { once: true })
        void reading.finally(resolve).catch(() => undefined)
      }),
    ]).catch((error: unknown) => {
      throw natsError(error, 'fetch messages')
    })
    if (aborted) {
      void reading.finally(() => this.#giveBack(got)).catch(() => undefined)
      return []
    }
    return got
  }

  /** Messages nobody started go back with their delivery taken back (a copy, then an ack). */
  async #giveBack(messages: readonly JsMsg[]): Promise<void> {
    for (const m of messages) {
      const envelope = decodeEnvelope(m.headers?.get(ENVELOPE_HEADER))
      if (!envelope) {
        m.nak()
        continue
      }
      const copy = { ...envelope, attempts: envelope.attempts + m.info.deliveryCount - 1 }
      await this.#publish(m.subject, m.string(), copy, `${envelope.id}:back:${m.info.streamSequence}:${m.seq}`)
      m.ack()
    }
  }

  #hold(queue: string, m: JsMsg, leaseMs: number, ackWaitMs: number): Delivery {
    const now = this.#ctx.now()
    const envelope =
      decodeEnvelope(m.headers?.get(ENVELOPE_HEADER)) ??
      foreignEnvelope(m.headers?.get('Nats-Msg-Id') || `${m.info.stream}:${m.seq}`, queue, now)
    const token = randomUUID()
    const attempt = envelope.attempts + m.info.deliveryCount
    this.#held.set(token, { queue, msg: m, envelope, attempt, deadline: now + leaseMs, lastBeat: now, ackWaitMs })
    return toBrokerDelivery(envelope, m.string(), attempt, token)
  }

  /**
   * The work consumer's ack_wait is the shortest lease any worker asked for; a delivery with a
   * longer lease is kept by in-progress acks (`working()`) until its own lease runs out.
   */
  #startHeartbeat(): void {
    if (this.#heartbeat) return
    this.#heartbeat = setInterval(() => {
      const now = this.#ctx.now()
      for (const h of this.#held.values()) {
        if (h.deadline > now && now - h.lastBeat >= h.ackWaitMs / 3) {
          h.lastBeat = now
          h.msg.working()
        }
      }
    }, HEARTBEAT_MS)
    this.#heartbeat.unref()
  }

  /** A live delivery, removed from the held set; undefined when its lease ran out (it may run elsewhere). */
  #take(d: Delivery): Held | undefined {
    const h = this.#held.get(d.token)
    if (!h) return undefined
    this.#held.delete(d.token)
    return h.deadline >= this.#ctx.now() ? h : undefined
  }

  async complete(_queue: string, deliveries: readonly Delivery[]): Promise<void> {
    const live = deliveries.map((d) => this.#take(d)).filter((h): h is Held => h !== undefined)
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
    const h = this.#held.get(d.token)
    if (!h || h.deadline < this.#ctx.now()) {
      this.#held.delete(d.token)
      return
    }
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
      const state = this.#queue(queue)
      await state.ready
      await this.#publish(state.names.dead, d.payload, envelope, `${d.id}:dead:${d.token}`)
    }
    // Acknowledged only once the copy is stored: a crash in between redelivers the original.
    if (this.#take(d)) await h.msg.ackAck().catch(() => undefined)
  }

  async release(queue: string, deliveries: readonly Delivery[]): Promise<void> {
    for (const d of deliveries) {
      const h = this.#held.get(d.token)
      if (!h || h.deadline < this.#ctx.now()) {
        this.#held.delete(d.token)
        continue
      }
      // A nak would count a delivery; a copy with the attempt taken back does not.
      await this.#publishCopy(
        queue,
        { ...envelopeOfDelivery(d, d.attempt - 1, d.lastError), runAt: this.#ctx.now() },
        d.payload,
        `${d.id}:release:${d.token}`,
      )
      if (this.#take(d)) await h.msg.ackAck().catch(() => undefined)
    }
  }

  async renew(_queue: string, deliveries: readonly Delivery[], leaseMs: number): Promise<RenewResult> {
    const now = this.#ctx.now()
    const lost: string[] = []
    for (const d of deliveries) {
      const h = this.#held.get(d.token)
      if (!h || h.deadline < now) {
        lost.push(d.id)
        continue
      }
      h.deadline = now + leaseMs
      h.lastBeat = now
      h.msg.working()
    }
    return { cancelled: [], lost }
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
    for (const h of this.#held.values()) {
      if (h.queue === queue && h.envelope.id === id) {
        return {
          ...toDeadMessage(h.envelope, h.msg.string()),
          state: 'active',
          attempt: h.attempt,
          deadReason: undefined,
          finishedAt: undefined,
        }
      }
    }
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
      await this.#publish(state.names.jobs, m.payload, envelope, `${m.id}:replay:${state.names.deadStream}:${e.seq}`)
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
    await this.#queues.get(queue)?.mover?.stop()
  }

  async close(): Promise<void> {
    if (this.#link.closed) return
    clearInterval(this.#heartbeat)
    for (const state of this.#queues.values()) {
      await state.mover?.stop()
      state.advisories?.unsubscribe()
    }
    this.#held.clear()
    await this.#link.close()
  }
}

function natsError(error: unknown, what: string): QueueError {
  if (error instanceof QueueError) return error
  return new QueueError(
    'QUEUE_DRIVER_UNAVAILABLE',
    `NATS could not ${what}: ${(error as Error)?.message ?? String(error)}; check BEAVER_QUEUE_NATS_SERVERS and that the server runs JetStream.`,
    { cause: error },
  )
}

function streamError(error: unknown, stream: string): QueueError {
  if (error instanceof QueueError) return error
  const text = (error as Error)?.message ?? String(error)
  const hint = /already in use|different configuration/i.test(text)
    ? `the stream exists with other settings; BEAVER_QUEUE_NATS_STORAGE and BEAVER_QUEUE_NATS_REPLICAS must match it, or delete it`
    : /replicas|peers|cluster/i.test(text)
      ? 'BEAVER_QUEUE_NATS_REPLICAS is more than the JetStream cluster has servers'
      : 'check that the server runs JetStream (-js) and the account may create streams'
  return new QueueError('QUEUE_DRIVER_UNAVAILABLE', `JetStream refused the stream "${stream}": ${text}; ${hint}.`, {
    cause: error,
  })
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
