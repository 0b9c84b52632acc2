import type { ConfirmChannel, Message } from 'amqplib'
import { QueueError } from '../errors.ts'
import { ENVELOPE_HEADER, encodeEnvelope, isBareEnvelope, type BrokerEnvelope } from './broker-message.ts'
import type { AmqpLink } from './rabbitmq-link.ts'

/**
 * Publishing with publisher confirms: a send resolves only when the broker has the message,
 * and rejects when it was not routed (its queue is gone: `mandatory` plus the `return` event)
 * or the confirmation never came (the channel or connection closed first).
 */
export class ConfirmedPublisher {
  readonly #link: AmqpLink
  #publishSeq = 0
  readonly #returned = new Set<number>()
  #open: ConfirmChannel | undefined
  /**
   * The headers of every publish: one object whose envelope is set for each publish and
   * cleared after it. amqplib encodes the properties inside publish(), and makes the headers
   * object given the prototype of its own (Object.create): a fresh object each time cost a
   * publish ~3 µs of CPU (turning an object into a prototype), more than the rest of the
   * properties together. Cleared after the call, a later encoding (an amqplib that deferred
   * it) would send no envelope rather than another message's.
   */
  readonly #headers: Record<string, Buffer | undefined> = { [ENVELOPE_HEADER]: undefined }
  /**
   * The options of every publish, one object per routing, filled in for each publish as the
   * headers are (amqplib encodes them in publish(), before it returns): persistent, `mandatory`
   * to a queue so that a queue gone is reported (see send), and the standard `message_id` and
   * `timestamp` properties, which the driver does not read back (the envelope has both) but
   * other AMQP consumers, the management UI and tracing tools do.
   */
  readonly #toQueue = {
    persistent: true,
    mandatory: true,
    messageId: '',
    timestamp: 0,
    headers: this.#headers,
  }
  /**
   * The options of a publish without the envelope (see send): a fresh message with every
   * default, whose message_id (a UUIDv7) and queue say all its envelope would. A header table
   * cost RabbitMQ and amqplib 10-40 µs per message at concurrency 1 (interleaved raw amqplib
   * publishes with and without one), about what the rest of the kit's publish costs; the
   * consumer gives the envelope back (kitEnvelopeOf).
   */
  readonly #bareToQueue = { persistent: true, mandatory: true, messageId: '', timestamp: 0 }
  /**
   * The publishes sent without the envelope and not yet confirmed, by message id: a returned
   * one is matched to its publish by its message_id (see channel). A second publish of an id
   * still in flight (an id given twice) carries the envelope, so the match is never ambiguous.
   */
  readonly #bareInFlight = new Map<string, number>()
  readonly #toExchange = {
    persistent: true,
    mandatory: false,
    messageId: '',
    timestamp: 0,
    headers: this.#headers,
  }

  constructor(link: AmqpLink) {
    this.#link = link
  }

  /** The link's confirm channel, with this publisher listening for returned messages. */
  async channel(): Promise<ConfirmChannel> {
    const ch = await this.#link.publisher()
    if (!(ch as unknown as { beaverReturns?: boolean }).beaverReturns) {
      ;(ch as unknown as { beaverReturns?: boolean }).beaverReturns = true
      ch.on('return', (msg: Message) => {
        const header: unknown = msg.properties.headers?.[ENVELOPE_HEADER]
        const tag =
          header === undefined ? this.#bareInFlight.get(String(msg.properties.messageId)) : publishTagOf(header)
        if (tag !== undefined) this.#returned.add(tag)
      })
    }
    if (this.#open !== ch) {
      this.#open = ch
      ch.once('close', () => {
        if (this.#open === ch) this.#open = undefined
      })
    }
    return ch
  }

  /** The confirm channel `channel()` gave while it is open: a publish need not wait a turn for it. */
  get open(): ConfirmChannel | undefined {
    return this.#open
  }

  /**
   * Publishes on the confirm channel; resolves when the broker has it, rejects if it was not
   * routed. To a topic's `exchange`, a message no group queue is bound to is dropped by design.
   */
  send(
    ch: ConfirmChannel,
    target: string,
    envelope: BrokerEnvelope,
    payload: string,
    exchange?: string,
  ): Promise<void> {
    const tag = ++this.#publishSeq
    this.#link.gatherWrites()
    const id = envelope.id
    // To a queue, a fresh message with every default goes without the envelope header.
    const bare = exchange === undefined && isBareEnvelope(envelope) && !this.#bareInFlight.has(id)
    const headers = this.#headers
    let options: { messageId: string; timestamp: number }
    if (bare) {
      this.#bareInFlight.set(id, tag)
      options = this.#bareToQueue
    } else {
      // The publish tag rides in the envelope (one header, not two): a returned message is
      // matched to its publish by it. A byte array, not a string: amqplib encodes a string
      // table value at about twice the cost.
      headers[ENVELOPE_HEADER] = Buffer.from(encodeEnvelope(envelope, tag))
      options = exchange === undefined ? this.#toQueue : this.#toExchange
    }
    options.messageId = id
    options.timestamp = Math.floor(envelope.createdAt / 1000)
    return new Promise<void>((resolve, reject) => {
      try {
        ch.publish(
          exchange ?? '',
          exchange === undefined ? target : '',
          Buffer.from(payload),
          options,
          (error: unknown) => {
            if (bare) this.#bareInFlight.delete(id)
            if (this.#returned.delete(tag)) {
              reject(
                new QueueError('QUEUE_NOT_FOUND', `RabbitMQ has no queue "${target}"; the message was not stored.`),
              )
            } else if (error) {
              reject(
                new QueueError('QUEUE_DRIVER_UNAVAILABLE', `RabbitMQ did not confirm a message to "${target}".`, {
                  cause: error,
                }),
              )
            } else resolve()
          },
        )
      } catch (error) {
        // Not sent (the channel closed): no confirmation will come for it.
        if (bare) this.#bareInFlight.delete(id)
        throw error
      } finally {
        headers[ENVELOPE_HEADER] = undefined
      }
    })
  }
}

/** The publish tag a returned message's envelope carries (see send). */
function publishTagOf(header: unknown): number | undefined {
  if (typeof header !== 'string' && !Buffer.isBuffer(header)) return undefined
  try {
    const tag = (JSON.parse(String(header)) as { k?: unknown }).k
    return typeof tag === 'number' ? tag : undefined
  } catch {
    return undefined
  }
}
