import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream'
import { ENVELOPE_HEADER, decodeEnvelope, foreignEnvelope, type BrokerEnvelope } from './broker-message.ts'
import { isNotFound } from './nats-dead.ts'
import type { NatsHandles } from './nats-link.ts'
import type { NatsQueueNames } from './nats-names.ts'

// A nak delay longer than this is renewed by the next look, so a server restart or a clock
// change never holds a message much past its time.
const MAX_NAK_MS = 3_600_000
const EARLY_MS = 5
const BATCH = 64

type Publish = (subject: string, body: string, envelope: BrokerEnvelope, msgId: string) => Promise<void>

/**
 * Moves delayed messages to the ready subject when they are due. nats-server 2.9 has no
 * per-message schedule (message schedules came with 2.12), so a delayed message is published
 * to the queue's `delayed` subject, whose own durable consumer (no delivery limit) looks at
 * it: not due yet, it is nak'ed with the time left as the redelivery delay (the server holds
 * it that long); due, it is published to `jobs` (Nats-Msg-Id `<id>:due:<seq>`, so a mover
 * that crashes before its ack is deduped) and acknowledged. Every consuming process runs one
 * mover per queue; the consumer hands each message to one of them.
 */
export class MoveDelayed {
  readonly #handles: () => Promise<NatsHandles>
  readonly #queue: string
  readonly #names: NatsQueueNames
  readonly #now: () => number
  readonly #publish: Publish
  #loop: Promise<void> | undefined
  #messages: ConsumerMessages | undefined
  #stopped = false

  constructor(
    handles: () => Promise<NatsHandles>,
    queue: string,
    names: NatsQueueNames,
    now: () => number,
    publish: Publish,
  ) {
    this.#handles = handles
    this.#queue = queue
    this.#names = names
    this.#now = now
    this.#publish = publish
  }

  start(): void {
    if (this.#loop) return
    this.#stopped = false
    this.#loop = this.#run().finally(() => (this.#loop = undefined))
  }

  async stop(): Promise<void> {
    this.#stopped = true
    this.#messages?.stop()
    await this.#loop
  }

  async #run(): Promise<void> {
    let failures = 0
    while (!this.#stopped) {
      try {
        const { js, jsm, jetstream } = await this.#handles()
        const n = this.#names
        await jsm.consumers.info(n.stream, n.mover).catch(async (error: unknown) => {
          if (!isNotFound(error)) throw error
          await jsm.consumers.add(n.stream, {
            durable_name: n.mover,
            ack_policy: jetstream.AckPolicy.Explicit,
            ack_wait: 30_000 * 1_000_000,
            max_deliver: -1,
            max_ack_pending: -1,
            filter_subject: n.delayed,
          })
        })
        const consumer = await js.consumers.get(n.stream, n.mover)
        while (!this.#stopped) {
          this.#messages = await consumer.fetch({ max_messages: BATCH, expires: 5000 })
          if (this.#stopped) this.#messages.stop()
          for await (const m of this.#messages) await this.#look(m)
          failures = 0
        }
      } catch {
        // The server is away or the stream was deleted: look again after a pause.
        failures++
        if (!this.#stopped) await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** failures)).unref?.())
      }
    }
  }

  async #look(m: JsMsg): Promise<void> {
    // A message another program published here has no time: it is due now.
    const envelope =
      decodeEnvelope(m.headers?.get(ENVELOPE_HEADER)) ?? foreignEnvelope(`${m.seq}`, this.#queue, this.#now())
    const wait = envelope.runAt - this.#now()
    if (wait > EARLY_MS) {
      m.nak(Math.min(wait, MAX_NAK_MS))
      return
    }
    await this.#publish(this.#names.jobs, m.string(), envelope, `${envelope.id}:due:${m.seq}`)
    m.ack()
  }
}
