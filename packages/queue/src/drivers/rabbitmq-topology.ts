import type { QueueDriverContext } from '../driver.ts'
import type { AmqpLink } from './rabbitmq-link.ts'
import { declareError } from './rabbitmq-messages.ts'

// A delay queue is redeclared when its last declaration is older than this, which pushes its
// `x-expires` out: it never expires while a message published after a declaration is in it.
const REDECLARE_DELAY_MS = 10_000
const DELAY_QUEUE_GRACE_MS = 60_000
/** Queue names kept for reuse (see main); past this many the cache starts over. */
const MAX_KEPT_NAMES = 1000

/**
 * The broker objects behind each kit queue, their names and their declaration: the queue
 * itself (`<prefix>:<queue>`), its DLQ (`:dead`, also its dead-letter target) and one TTL
 * queue per delay bucket (`:delay:<ms>`) that dead-letters into the queue when a message's
 * time has come. A topic is a fanout exchange (`<prefix>:topic:<topic>`) with one bound queue
 * per consumer group, and its own delay queues that dead-letter into the exchange.
 */
export class RabbitTopology {
  readonly #link: AmqpLink
  readonly #ctx: QueueDriverContext
  readonly #prefix: string
  readonly #queueType: 'quorum' | 'classic'
  readonly #expires: number
  readonly #declared = new Map<string, Promise<void>>()
  /** The queues whose declaration is done (and not forgotten since). */
  readonly #ready = new Set<string>()
  readonly #delayDeclared = new Map<string, number>()
  readonly #delays = new Map<string, Set<number>>()
  readonly #exchanges = new Map<string, Promise<string>>()
  /** Group queue to the topics it is bound to, to bind again when the queue is declared again. */
  readonly #bindings = new Map<string, Set<string>>()
  readonly #mainNames = new Map<string, string>()

  constructor(
    link: AmqpLink,
    ctx: QueueDriverContext,
    options: { prefix: string; queueType: 'quorum' | 'classic'; expires: number },
  ) {
    this.#link = link
    this.#ctx = ctx
    this.#prefix = options.prefix
    this.#queueType = options.queueType
    this.#expires = options.expires
  }

  main(queue: string): string {
    // Every publish routes by this name: the same string each time, hashed once.
    let name = this.#mainNames.get(queue)
    if (name === undefined) {
      name = `${this.#prefix}:${queue}`
      if (this.#mainNames.size >= MAX_KEPT_NAMES) this.#mainNames.clear()
      this.#mainNames.set(queue, name)
    }
    return name
  }

  dead(queue: string): string {
    return `${this.#prefix}:${queue}:dead`
  }

  exchange(topic: string): string {
    return `${this.#prefix}:topic:${topic}`
  }

  #delay(queue: string, ms: number): string {
    return `${this.#prefix}:${queue}:delay:${ms}`
  }

  /** The queues declared by this driver so far. */
  queues(): string[] {
    return [...this.#declared.keys()]
  }

  /** Declares the queue and its DLQ once (again after `forget`, or after a failed declaration). */
  declare(queue: string): Promise<void> {
    let p = this.#declared.get(queue)
    if (!p) {
      p = (async () => {
        const ch = await this.#link.admin()
        const expires = this.#expires > 0 ? { 'x-expires': this.#expires } : {}
        try {
          await ch.assertQueue(this.dead(queue), {
            durable: true,
            arguments: { 'x-queue-type': this.#queueType, ...expires },
          })
          // Whatever the broker itself dead-letters (a reject without requeue, a quorum
          // queue's delivery limit) lands in the same DLQ, with its x-death reason.
          await ch.assertQueue(this.main(queue), {
            durable: true,
            arguments: {
              'x-queue-type': this.#queueType,
              'x-dead-letter-exchange': '',
              'x-dead-letter-routing-key': this.dead(queue),
              ...expires,
            },
          })
          for (const topic of this.#bindings.get(queue) ?? []) {
            await ch.bindQueue(this.main(queue), await this.declareTopic(topic), '')
          }
        } catch (error) {
          throw declareError(error, this.main(queue))
        }
      })()
      const declaring = p
      this.#declared.set(queue, declaring)
      declaring.then(
        () => {
          if (this.#declared.get(queue) === declaring) this.#ready.add(queue)
        },
        () => {
          if (this.#declared.get(queue) === declaring) this.#declared.delete(queue)
        },
      )
    }
    return p
  }

  /** Whether `declare(queue)` is done: a publish to it need not wait a turn for it. */
  isDeclared(queue: string): boolean {
    return this.#ready.has(queue)
  }

  /** The queue is gone on the broker (deleted behind our back): the next `declare` declares it again. */
  forget(queue: string): void {
    this.#declared.delete(queue)
    this.#ready.delete(queue)
  }

  /** Declares a topic's fanout exchange once; resolves its name. */
  declareTopic(topic: string): Promise<string> {
    let p = this.#exchanges.get(topic)
    if (!p) {
      const name = this.exchange(topic)
      p = (async () => {
        const ch = await this.#link.admin()
        try {
          await ch.assertExchange(name, 'fanout', { durable: true })
        } catch (error) {
          throw declareError(error, name)
        }
        return name
      })()
      this.#exchanges.set(topic, p)
      p.catch(() => this.#exchanges.delete(topic))
    }
    return p
  }

  /** Binds a group's queue to its topic's exchange (durable: the broker keeps the binding). */
  async bind(topic: string, queue: string): Promise<void> {
    let topics = this.#bindings.get(queue)
    if (!topics) this.#bindings.set(queue, (topics = new Set()))
    topics.add(topic)
    this.forget(queue)
    await this.declare(queue)
  }

  /** Declares (or keeps alive) the delay queue of one delay bucket and returns its name. */
  declareDelay(queue: string, ms: number): Promise<string> {
    return this.#declareTtl(this.#delay(queue, ms), ms, '', this.main(queue), queue)
  }

  /** A topic's delay queue of one bucket: due messages go through the exchange to every group. */
  async declareTopicDelay(topic: string, ms: number): Promise<string> {
    const exchange = await this.declareTopic(topic)
    return this.#declareTtl(`${exchange}:delay:${ms}`, ms, exchange, '', undefined)
  }

  async #declareTtl(
    name: string,
    ms: number,
    deadLetterExchange: string,
    deadLetterKey: string,
    queue: string | undefined,
  ): Promise<string> {
    const last = this.#delayDeclared.get(name) ?? 0
    if (this.#ctx.now() - last > REDECLARE_DELAY_MS) {
      const ch = await this.#link.admin()
      try {
        await ch.assertQueue(name, {
          durable: true,
          arguments: {
            'x-queue-type': 'classic',
            'x-message-ttl': ms,
            'x-dead-letter-exchange': deadLetterExchange,
            ...(deadLetterKey === '' ? {} : { 'x-dead-letter-routing-key': deadLetterKey }),
            'x-expires': ms + DELAY_QUEUE_GRACE_MS,
          },
        })
      } catch (error) {
        throw declareError(error, name)
      }
      this.#delayDeclared.set(name, this.#ctx.now())
      if (queue !== undefined) {
        let set = this.#delays.get(queue)
        if (!set) this.#delays.set(queue, (set = new Set()))
        set.add(ms)
      }
    }
    return name
  }

  /** Messages waiting in the queue's delay queues (one that expired counts 0). */
  async delayed(queue: string): Promise<number> {
    let delayed = 0
    for (const ms of this.#delays.get(queue) ?? []) delayed += await this.#messageCount(this.#delay(queue, ms))
    return delayed
  }

  /** A count the broker can tell: 0 for a queue that was never declared. */
  async #messageCount(name: string): Promise<number> {
    const ch = await this.#link.channel()
    try {
      return (await ch.checkQueue(name)).messageCount
    } catch {
      return 0
    } finally {
      await ch.close().catch(() => undefined)
    }
  }
}
