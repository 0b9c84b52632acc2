import type { ConfirmChannel } from 'amqplib'
import type { QueueDriverContext, StoredMessage } from '../driver.ts'
import { envelopeOf, type BrokerEnvelope } from './broker-message.ts'
import type { AmqpLink } from './rabbitmq-link.ts'
import { scanDead } from './rabbitmq-messages.ts'
import type { ConfirmedPublisher } from './rabbitmq-publisher.ts'
import type { RabbitTopology } from './rabbitmq-topology.ts'

/**
 * A queue's dead-letter queue as the dashboard and the API see it: list, replay into the main
 * queue, purge. RabbitMQ cannot read a queue without consuming it, so each visit takes the DLQ's
 * messages on a channel of its own and puts back what it keeps (scanDead).
 */
export class RabbitDeadLetters {
  readonly #link: AmqpLink
  readonly #topology: RabbitTopology
  readonly #publisher: ConfirmedPublisher
  readonly #ctx: QueueDriverContext

  constructor(link: AmqpLink, topology: RabbitTopology, publisher: ConfirmedPublisher, ctx: QueueDriverContext) {
    this.#link = link
    this.#topology = topology
    this.#publisher = publisher
    this.#ctx = ctx
  }

  /** Visits the DLQ on a channel of its own (see scanDead). */
  async #scan(
    queue: string,
    visit: (m: StoredMessage) => 'take' | 'keep' | 'stop',
    onTake?: (ch: ConfirmChannel, m: StoredMessage) => Promise<void>,
  ): Promise<number> {
    await this.#topology.declare(queue)
    const dead = this.#topology.dead(queue)
    const count = async (): Promise<number> => (await (await this.#link.admin()).checkQueue(dead)).messageCount
    return scanDead(await this.#link.confirmChannel(), dead, queue, this.#ctx.now(), visit, onTake, count)
  }

  async list(queue: string, options: { limit: number; offset: number }): Promise<StoredMessage[]> {
    const all: StoredMessage[] = []
    await this.#scan(queue, (m) => {
      all.push(m)
      return 'keep'
    })
    return all.reverse().slice(options.offset, options.offset + options.limit)
  }

  async replay(queue: string, ids: readonly string[] | 'all'): Promise<number> {
    const wanted = ids === 'all' ? undefined : new Set(ids)
    return this.#scan(
      queue,
      (m) => (!wanted || wanted.has(m.id) ? 'take' : 'keep'),
      async (ch, m) => {
        const envelope: BrokerEnvelope = {
          ...envelopeOf({ ...m, dedupeKey: undefined }, 0, m.lastError),
          runAt: this.#ctx.now(),
        }
        await this.#publisher.send(ch, this.#topology.main(queue), envelope, m.payload)
      },
    )
  }

  async purge(queue: string, ids: readonly string[] | 'all'): Promise<number> {
    if (ids === 'all') {
      await this.#topology.declare(queue)
      return (await (await this.#link.admin()).purgeQueue(this.#topology.dead(queue))).messageCount
    }
    const wanted = new Set(ids)
    return this.#scan(queue, (m) => (wanted.has(m.id) ? 'take' : 'keep'))
  }
}
