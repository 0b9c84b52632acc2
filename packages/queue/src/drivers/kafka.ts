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
  ENVELOPE_HEADER,
  brokerCapabilities,
  encodeEnvelope,
  envelopeOf,
  envelopeOfDelivery,
  toActiveMessage,
  toBrokerDelivery,
  type BrokerEnvelope,
} from './broker-message.ts'
import { deadRecord, readDead, tombstone } from './kafka-dead.ts'
import { KafkaLink, kafkaError, type OutRecord } from './kafka-link.ts'
import { queueOfTopic, type KafkaQueueNames, type KafkaQueueOptions } from './kafka-options.ts'
import { KafkaReader, type Held } from './kafka-reader.ts'
import { startGroupAtEnd } from './kafka-subscribe.ts'

export type { KafkaQueueOptions, KafkaSaslMechanism } from './kafka-options.ts'

/**
 * A record of the main or delay topic. The key is the group, so a group's messages share a
 * partition and keep their order; without a group it is the message id, never null: kafkajs
 * partitions a batch again on every retry, and null keys go round-robin, so a retried batch
 * would carry other messages under the sequence numbers the idempotent producer already used.
 */
function record(envelope: BrokerEnvelope, payload: string): OutRecord {
  return {
    key: envelope.group ?? envelope.id,
    value: payload,
    headers: { [ENVELOPE_HEADER]: encodeEnvelope(envelope) },
  }
}

class KafkaQueueDriver implements QueueDriver {
  readonly name = 'kafka'
  // No lease per message: a record is redelivered when its consumer leaves the group (crash,
  // session timeout), not after a time, so extendLease is false.
  readonly capabilities = brokerCapabilities({ extendLease: false, fanOut: true })
  readonly #link: KafkaLink
  readonly #ctx: QueueDriverContext
  readonly #readers = new Map<string, Promise<KafkaReader>>()
  /** Group queue → its topic, for the group queues known to be subscribed (here or by another process). */
  readonly #subscribed = new Map<string, Promise<string>>()

  constructor(options: KafkaQueueOptions, ctx: QueueDriverContext) {
    this.#link = new KafkaLink(options)
    this.#ctx = ctx
  }

  async #produce(queue: string, due: OutRecord[], later: OutRecord[]): Promise<void> {
    const names = await this.#link.topics(queue)
    await this.#link.send(names.topic, due)
    await this.#link.send(names.delay, later)
  }

  async enqueue(messages: readonly DriverMessage[]): Promise<string[]> {
    for (const [queue, { due, later }] of this.#split(messages)) await this.#produce(queue, due, later)
    return messages.map((m) => m.id)
  }

  #split(messages: readonly DriverMessage[]): Map<string, { due: OutRecord[]; later: OutRecord[] }> {
    const now = this.#ctx.now()
    const byQueue = new Map<string, { due: OutRecord[]; later: OutRecord[] }>()
    for (const m of messages) {
      const entry = byQueue.get(m.queue) ?? { due: [], later: [] }
      byQueue.set(m.queue, entry)
      ;(m.runAt > now ? entry.later : entry.due).push(record(envelopeOf(m), m.payload))
    }
    return byQueue
  }

  /**
   * A topic is a Kafka topic (and one for its delayed messages) that every group reads with a
   * consumer group of its own, started at the end when the group subscribes. The group queue's
   * own topics hold its retries, dead messages and replays, so they stay the group's.
   */
  async subscribe(topic: string, queue: string): Promise<void> {
    let done = this.#subscribed.get(queue)
    if (!done) {
      done = (async () => {
        const fan = await this.#link.fanTopics(topic)
        const names = await this.#link.topics(queue)
        await startGroupAtEnd(this.#link, names.group, [fan.topic, fan.delay])
        return topic
      })()
      this.#subscribed.set(queue, done)
      done.catch(() => this.#subscribed.delete(queue))
    }
    await done
  }

  /** Written once to the topic: nothing is stored per group, so no subscribed group costs a copy. */
  async publishTopic(topic: string, messages: readonly DriverMessage[]): Promise<string[]> {
    const fan = await this.#link.fanTopics(topic)
    for (const { due, later } of this.#split(messages).values()) {
      await this.#link.send(fan.topic, due)
      await this.#link.send(fan.delay, later)
    }
    return messages.map((m) => m.id)
  }

  /**
   * The queue's topics, with its topic's two when it is a subscribed group queue: subscribed
   * here, or (another process did it) the group has offsets on the topic. A group queue is named
   * `<ns>/<topic>@<group>` by the facade, and no other queue name holds an `@`, so any process
   * (a dashboard, a worker after a restart) counts and reads it without subscribing again; one
   * nobody subscribed does not read the topic (it would from its beginning).
   */
  async #names(queue: string): Promise<KafkaQueueNames> {
    const names = await this.#link.topics(queue)
    const at = queue.lastIndexOf('@')
    if (at < 0) return names
    const topic = queue.slice(0, at)
    if (!this.#subscribed.has(queue)) {
      const fan = await this.#link.fanTopics(topic)
      const admin = await this.#link.admin()
      const offsets = await admin
        .fetchOffsets({ groupId: names.group, topics: [fan.topic] })
        .catch((error: unknown) => {
          throw kafkaError(error, `read the offsets of group queue "${queue}"`)
        })
      if (!offsets.some((t) => t.partitions.some((p) => Number(p.offset) >= 0))) return names
      this.#subscribed.set(queue, Promise.resolve(topic))
    }
    return { ...names, fanOut: await this.#link.fanTopics(topic) }
  }

  /** The queue's reader, started on first fetch; a stopping one is awaited and replaced. */
  async #reader(queue: string): Promise<KafkaReader> {
    for (;;) {
      const existing = this.#readers.get(queue)
      if (!existing) break
      const reader = await existing
      if (!reader.stopping) return reader
      await reader.stopped
      if (this.#readers.get(queue) === existing) this.#readers.delete(queue)
    }
    const started = (async () => {
      const names = await this.#names(queue)
      const reader = new KafkaReader(this.#link, queue, names, this.#ctx.now, this.#link.options.bufferSize ?? 256)
      await reader.start()
      return reader
    })()
    this.#readers.set(queue, started)
    started.catch(() => this.#readers.delete(queue))
    return started
  }

  async fetch(queue: string, options: FetchOptions): Promise<Delivery[]> {
    const reader = await this.#reader(queue)
    let got: Held[]
    try {
      got = await reader.take(options.max, options.waitMs, options.signal)
    } catch (error) {
      this.#readers.delete(queue)
      await reader.kill().catch(() => undefined)
      throw error
    }
    return got.map((h) => toBrokerDelivery(h.envelope, h.payload, h.envelope.attempts + 1, h.token))
  }

  async stopFetching(queue: string): Promise<void> {
    const reader = await this.#readers.get(queue)?.catch(() => undefined)
    // Not awaited: the consumer leaves the group once the handlers still running settle.
    void reader?.stop().catch(() => undefined)
  }

  async #readerOf(queue: string): Promise<KafkaReader | undefined> {
    return this.#readers.get(queue)?.catch(() => undefined)
  }

  async complete(queue: string, deliveries: readonly Delivery[]): Promise<void> {
    await (await this.#readerOf(queue))?.settle(deliveries.map((d) => d.token))
  }

  async fail(queue: string, d: Delivery, failure: Failure): Promise<void> {
    const reader = await this.#readerOf(queue)
    // Reassigned to another member (a rebalance): that one redelivers it, so no copy from here.
    if (!reader?.owns(d.token)) return
    const names = await this.#link.topics(queue)
    if (failure.kind === 'retry') {
      const envelope = { ...envelopeOfDelivery(d, d.attempt, failure.error), runAt: failure.runAt }
      await this.#link.send(names.delay, [record(envelope, d.payload)])
    } else if (failure.kind === 'dead') {
      const envelope = {
        ...envelopeOfDelivery(d, d.attempt, failure.error),
        deadReason: failure.reason,
        deadAt: this.#ctx.now(),
      }
      await this.#link.send(names.dead, [deadRecord(envelope, d.payload)])
    }
    // Committed only once the copy is stored: a crash in between redelivers the original.
    await reader.settle([d.token])
  }

  async release(queue: string, deliveries: readonly Delivery[]): Promise<void> {
    ;(await this.#readerOf(queue))?.release(deliveries.map((d) => d.token))
  }

  async renew(queue: string, deliveries: readonly Delivery[]): Promise<RenewResult> {
    const reader = await this.#readerOf(queue)
    return { cancelled: [], lost: deliveries.filter((d) => !reader?.owns(d.token)).map((d) => d.id) }
  }

  async cancel(): Promise<'removed' | 'signalled' | 'none'> {
    return 'none'
  }

  /**
   * From the group's committed offsets and the topics' end offsets: `waiting` and `delayed` are
   * the group's lag on the main and delay topics, less what this process is handling (`active`).
   */
  async counts(queue: string): Promise<QueueCounts> {
    const names = await this.#names(queue)
    const admin = await this.#link.admin()
    const lag = async (topic: string, committed: Map<string, number>): Promise<number> => {
      const ends = await admin.fetchTopicOffsets(topic)
      return ends.reduce((sum, p) => {
        const from = committed.get(`${topic}/${p.partition}`) ?? -1
        return sum + Number(p.high) - (from >= 0 ? from : Number(p.low))
      }, 0)
    }
    try {
      const mains = [names.topic, ...(names.fanOut ? [names.fanOut.topic] : [])]
      const delays = [names.delay, ...(names.fanOut ? [names.fanOut.delay] : [])]
      const offsets = await admin.fetchOffsets({ groupId: names.group, topics: [...mains, ...delays] })
      const committed = new Map(
        offsets.flatMap((t) => t.partitions.map((p) => [`${t.topic}/${p.partition}`, Number(p.offset)] as const)),
      )
      const sum = async (topics: string[]) =>
        (await Promise.all(topics.map((t) => lag(t, committed)))).reduce((a, b) => a + b, 0)
      const [main, delay] = await Promise.all([sum(mains), sum(delays)])
      const held = (await this.#readerOf(queue))?.activeHeld() ?? []
      const activeMain = held.filter((h) => mains.includes(h.topic)).length
      const dead = (await readDead(this.#link, names.dead, queue, this.#ctx.now())).messages
      return {
        waiting: Math.max(0, main - activeMain),
        active: held.length,
        delayed: Math.max(0, delay - (held.length - activeMain)),
        completed: 0,
        failed: 0,
        dead: dead.length,
      }
    } catch (error) {
      throw kafkaError(error, `count queue "${queue}"`)
    }
  }

  async get(queue: string, id: string): Promise<StoredMessage | undefined> {
    for (const h of (await this.#readerOf(queue))?.activeHeld() ?? []) {
      if (h.envelope.id === id) return toActiveMessage(h.envelope, h.payload, h.envelope.attempts + 1)
    }
    return (await this.listDead(queue, { limit: DEAD_LOOKUP_LIMIT, offset: 0 })).find((m) => m.id === id)
  }

  async progress(): Promise<void> {
    // No per-message record to attach it to (capabilities.history false).
  }

  async listDead(queue: string, options: { limit: number; offset: number }): Promise<StoredMessage[]> {
    const names = await this.#link.topics(queue)
    const { messages } = await readDead(this.#link, names.dead, queue, this.#ctx.now())
    return messages.slice(options.offset, options.offset + options.limit)
  }

  async replayDead(queue: string, ids: readonly string[] | 'all'): Promise<number> {
    const names = await this.#link.topics(queue)
    const { chosen, partitions } = await this.#deadChosen(queue, names.dead, ids)
    const now = this.#ctx.now()
    await this.#link.send(
      names.topic,
      chosen.map((m) =>
        record({ ...envelopeOf({ ...m, dedupeKey: undefined }, 0, m.lastError), runAt: now }, m.payload),
      ),
    )
    // Tombstoned only once the copy is stored: a crash in between leaves it listed (replayable again).
    await this.#link.send(
      names.dead,
      chosen.map((m) => tombstone(m.id, partitions.get(m.id) ?? 0)),
    )
    return chosen.length
  }

  async purgeDead(queue: string, ids: readonly string[] | 'all'): Promise<number> {
    const names = await this.#link.topics(queue)
    const { chosen, partitions } = await this.#deadChosen(queue, names.dead, ids)
    await this.#link.send(
      names.dead,
      chosen.map((m) => tombstone(m.id, partitions.get(m.id) ?? 0)),
    )
    return chosen.length
  }

  async #deadChosen(
    queue: string,
    topic: string,
    ids: readonly string[] | 'all',
  ): Promise<{ chosen: StoredMessage[]; partitions: Map<string, number> }> {
    const { messages, partitions } = await readDead(this.#link, topic, queue, this.#ctx.now())
    const wanted = ids === 'all' ? undefined : new Set(ids)
    return { chosen: messages.filter((m) => !wanted || wanted.has(m.id)), partitions }
  }

  async queues(): Promise<string[]> {
    const admin = await this.#link.admin()
    const topics = await admin.listTopics().catch((error: unknown) => {
      throw kafkaError(error, 'list topics')
    })
    return topics.flatMap((t) => queueOfTopic(this.#link.prefix, t) ?? [])
  }

  async ping(): Promise<void> {
    await this.queues()
  }

  async close(): Promise<void> {
    if (this.#link.closed) return
    const readers = [...this.#readers.values()]
    this.#readers.clear()
    await Promise.allSettled(readers.map(async (r) => (await r).kill()))
    await this.#link.close()
  }
}

/**
 * Apache Kafka on kafkajs: a topic per queue (plus its delay and dead topics), the message key
 * set from `group` so a group keeps its order, one consumer group per queue with offsets
 * committed after the handler (at least once), an idempotent producer with acks from every
 * in-sync replica, retries and delays through the delay topic, a DLQ topic with tombstones.
 * @example createQueue({ driver: 'kafka', kafka: { brokers: ['kafka-1:9092'] } })
 */
export const kafkaDriver = defineQueueDriver<KafkaQueueOptions>({
  name: 'kafka',
  peers: ['kafkajs'],
  section: 'kafka',
  create: (options, ctx) => new KafkaQueueDriver(options, ctx),
})
