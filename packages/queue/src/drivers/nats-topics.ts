import type { ConsumerConfig, JsMsg } from '@nats-io/jetstream'
import type { DriverMessage } from '../driver.ts'
import { ENVELOPE_HEADER, decodeEnvelope, envelopeOf, foreignEnvelope, type BrokerEnvelope } from './broker-message.ts'
import { isNotFound } from './nats-dead.ts'
import type { NatsHandles } from './nats-link.ts'
import type { NatsPublish } from './nats-mover.ts'
import { encodeName } from './nats-names.ts'
import type { NatsQueueOptions } from './nats-options.ts'
import { PullLoop } from './nats-pull-loop.ts'
import { MS, natsError } from './nats-streams.ts'

/** Publishes a copy into one of the driver's queues (ready or delayed by its run time). */
type PublishCopy = (queue: string, envelope: BrokerEnvelope, body: string, msgId: string) => Promise<void>

/**
 * Pub/sub fan-out on JetStream: a topic is a stream with interest retention on its own subject
 * (`<prefix>-topic.<topic>`, outside the `<prefix>.>` subjects of the queues) and each consumer
 * group a durable consumer on it, so the server keeps a message until every group took it.
 * While a process consumes a group's queue (`<topic>@<group>`), a relay moves what the group's
 * consumer delivers into that queue (Nats-Msg-Id `<id>:topic:<seq>`, so a relay that crashes
 * before its ack is deduped), where retries, delays and the DLQ work as for any queue.
 */
export class NatsTopics {
  readonly #handles: () => Promise<NatsHandles>
  readonly #options: NatsQueueOptions
  readonly #prefix: string
  readonly #streams = new Map<string, Promise<void>>()

  constructor(handles: () => Promise<NatsHandles>, options: NatsQueueOptions, prefix: string) {
    this.#handles = handles
    this.#options = options
    this.#prefix = prefix
  }

  #names(topic: string): { stream: string; subject: string } {
    const enc = encodeName(topic)
    return { stream: `${this.#prefix}-topic_${enc}`, subject: `${this.#prefix}-topic.${enc}` }
  }

  /** The topic of a group queue (`<ns>/<topic>@<group>`), or undefined for a plain queue. */
  static topicOf(queue: string): { topic: string; group: string } | undefined {
    const at = queue.lastIndexOf('@')
    return at < 0 ? undefined : { topic: queue.slice(0, at), group: queue.slice(at + 1) }
  }

  #stream(topic: string): Promise<void> {
    let p = this.#streams.get(topic)
    if (!p) {
      const { stream, subject } = this.#names(topic)
      const o = this.#options
      p = (async () => {
        const { jsm, jetstream } = await this.#handles()
        await jsm.streams.add({
          name: stream,
          subjects: [subject],
          retention: jetstream.RetentionPolicy.Interest,
          duplicate_window: (o.duplicateWindow ?? 120_000) * MS,
          storage: o.storage === 'memory' ? jetstream.StorageType.Memory : jetstream.StorageType.File,
          num_replicas: o.replicas ?? 1,
        })
      })().catch((error: unknown) => {
        throw natsError(error, `create the topic stream "${stream}"`)
      })
      this.#streams.set(topic, p)
      p.catch(() => this.#streams.delete(topic))
    }
    return p
  }

  #groupConsumer(h: NatsHandles): Partial<ConsumerConfig> {
    return {
      ack_policy: h.jetstream.AckPolicy.Explicit,
      // Only what is published from now on: a group starts with the topic's next message.
      deliver_policy: h.jetstream.DeliverPolicy.New,
      ack_wait: 30_000 * MS,
      max_deliver: -1,
      max_ack_pending: -1,
    }
  }

  /** Creates the topic's stream and the group's durable consumer on it (no-op when they exist). */
  async subscribe(topic: string, queue: string): Promise<void> {
    await this.#stream(topic)
    const h = await this.#handles()
    const { stream } = this.#names(topic)
    const durable = encodeName(NatsTopics.topicOf(queue)?.group ?? queue)
    await h.jsm.consumers.info(stream, durable).catch(async (error: unknown) => {
      if (!isNotFound(error)) throw natsError(error, `read the consumer of group "${durable}"`)
      await h.jsm.consumers.add(stream, { ...this.#groupConsumer(h), durable_name: durable })
    })
  }

  /** Publishes each message once to the topic's subject; the server keeps it for every group. */
  async publish(topic: string, messages: readonly DriverMessage[], publish: NatsPublish): Promise<void> {
    await this.#stream(topic)
    const { subject } = this.#names(topic)
    await Promise.all(messages.map((m) => publish(subject, m.payload, envelopeOf(m), m.id)))
  }

  /** The relay that moves a group's messages from its topic consumer into its queue (none for a plain queue). */
  relay(queue: string, now: () => number, publishCopy: PublishCopy): PullLoop[] {
    const of = NatsTopics.topicOf(queue)
    if (!of) return []
    const { stream } = this.#names(of.topic)
    const loop = new PullLoop(this.#handles, {
      stream,
      durable: encodeName(of.group),
      config: (h) => this.#groupConsumer(h),
      async look(m: JsMsg): Promise<void> {
        const decoded = decodeEnvelope(m.headers?.get(ENVELOPE_HEADER))
        const envelope = decoded ? { ...decoded, queue } : foreignEnvelope(`${m.seq}`, queue, now())
        await publishCopy(queue, envelope, m.string(), `${envelope.id}:topic:${m.seq}`)
        m.ack()
      },
    })
    return [loop]
  }
}
