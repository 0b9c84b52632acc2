import type { ConsumerConfig, ConsumerMessages, JsMsg } from '@nats-io/jetstream'
import { isNotFound } from './nats-dead.ts'
import type { NatsHandles } from './nats-link.ts'

const BATCH = 64

/** What one background loop pulls from: a durable consumer, created on first use. */
export interface PullLoopSource {
  stream: string
  durable: string
  /** The consumer's settings besides its name, should it not exist. */
  config(h: NatsHandles): Partial<ConsumerConfig>
  /** Handles one message: acknowledges it, or naks it for later. */
  look(m: JsMsg): Promise<void>
}

/**
 * A background loop over a durable pull consumer that this process runs while it consumes a
 * queue (the delay mover, a topic group's relay). Every consuming process runs one; the
 * consumer hands each message to one of them. A server that is away or a deleted stream is
 * looked at again after a growing pause.
 */
export class PullLoop {
  readonly #handles: () => Promise<NatsHandles>
  readonly #source: PullLoopSource
  #loop: Promise<void> | undefined
  #messages: ConsumerMessages | undefined
  #stopped = false

  constructor(handles: () => Promise<NatsHandles>, source: PullLoopSource) {
    this.#handles = handles
    this.#source = source
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
    const { stream, durable } = this.#source
    while (!this.#stopped) {
      try {
        const h = await this.#handles()
        await h.jsm.consumers.info(stream, durable).catch(async (error: unknown) => {
          if (!isNotFound(error)) throw error
          await h.jsm.consumers.add(stream, { ...this.#source.config(h), durable_name: durable })
        })
        const consumer = await h.js.consumers.get(stream, durable)
        while (!this.#stopped) {
          this.#messages = await consumer.fetch({ max_messages: BATCH, expires: 5000 })
          if (this.#stopped) this.#messages.stop()
          for await (const m of this.#messages) await this.#source.look(m)
          failures = 0
        }
      } catch {
        failures++
        if (!this.#stopped) await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** failures)).unref?.())
      }
    }
  }
}
