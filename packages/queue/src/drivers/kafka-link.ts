import type * as kafkajsPkg from 'kafkajs'
import type { Admin, Consumer, IHeaders, Kafka, KafkaConfig, Producer, SASLOptions } from 'kafkajs'
import { importPeer } from '@beaver-kit/core'
import { QueueError } from '../errors.ts'
import {
  brokerList,
  kafkaNames,
  kafkaTopicNames,
  type KafkaQueueNames,
  type KafkaQueueOptions,
  type KafkaTopicNames,
} from './kafka-options.ts'
import { stopIdleRequestChecks } from './kafka-request-queue.ts'

/** One record the driver produces. */
export interface OutRecord {
  /** Set only where the partition must not come from the key. */
  partition?: number
  key: string | null
  value: string | null
  headers: Record<string, string>
}

interface Client {
  kafkajs: typeof kafkajsPkg
  kafka: Kafka
  admin: Admin
}

interface PendingSend {
  topic: string
  records: readonly OutRecord[]
  resolve: () => void
  reject: (error: unknown) => void
}

/**
 * The kafkajs client of one driver, made on first use: an admin for topics and offsets, and
 * one idempotent producer (acks from every in-sync replica, one request in flight, so a retried
 * batch is stored once and in order). Consumers are made per queue by the readers.
 *
 * Sends go out one request at a time, concurrent publishes merged into the next request, and a
 * failed request replaces the producer (a new producer id). kafkajs takes a failed request's
 * sequence numbers back, so the next request would reuse them: if the failed one was stored
 * after all (its answer lost with the connection), the broker takes the next one for a retry
 * of it and drops it while confirming it. The fault test in test/kafka-faults.test.ts shows
 * that loss without these rules (and without the non-null key the driver gives every record).
 */
export class KafkaLink {
  readonly options: KafkaQueueOptions
  readonly #topics = new Map<string, Promise<unknown>>()
  #client: Promise<Client> | undefined
  #producer: Promise<Producer> | undefined
  readonly #pending: PendingSend[] = []
  #flushing = false
  #closed = false

  constructor(options: KafkaQueueOptions) {
    this.options = options
  }

  get prefix(): string {
    return this.options.prefix ?? 'bq'
  }

  get closed(): boolean {
    return this.#closed
  }

  #open(): Promise<Client> {
    if (this.#closed) return Promise.reject(new QueueError('QUEUE_CLOSED', 'The kafka queue driver is closed.'))
    this.#client ??= (async () => {
      const kafkajs = await importPeer<typeof kafkajsPkg>('kafkajs', () => import('kafkajs'), 'the kafka queue driver')
      stopIdleRequestChecks()
      const kafka = new kafkajs.Kafka(kafkaConfig(this.options, kafkajs))
      const admin = kafka.admin()
      try {
        await admin.connect()
      } catch (error) {
        await admin.disconnect().catch(() => undefined)
        throw kafkaError(error, 'connect')
      }
      return { kafkajs, kafka, admin }
    })()
    this.#client.catch(() => (this.#client = undefined))
    return this.#client
  }

  #openProducer(): Promise<Producer> {
    this.#producer ??= (async () => {
      const { kafka } = await this.#open()
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false })
      try {
        await producer.connect()
      } catch (error) {
        await producer.disconnect().catch(() => undefined)
        throw kafkaError(error, 'connect')
      }
      return producer
    })()
    this.#producer.catch(() => (this.#producer = undefined))
    return this.#producer
  }

  async admin(): Promise<Admin> {
    return (await this.#open()).admin
  }

  async consumer(groupId: string, maxWaitTimeInMs: number): Promise<Consumer> {
    const { kafka } = await this.#open()
    return kafka.consumer({
      groupId,
      maxWaitTimeInMs,
      allowAutoTopicCreation: false,
      retry: { retries: this.options.retries ?? 5 },
    })
  }

  /** The queue's topics, created on first use (an existing topic is kept as it is). */
  topics(queue: string): Promise<KafkaQueueNames> {
    return this.#created(`queue ${queue}`, () => {
      const names = kafkaNames(this.prefix, queue)
      return { names, topics: [names.topic, names.delay, names.dead], what: `queue "${queue}"` }
    })
  }

  /** A pub/sub topic's two topics, created on first use. */
  fanTopics(topic: string): Promise<KafkaTopicNames> {
    return this.#created(`topic ${topic}`, () => {
      const names = kafkaTopicNames(this.prefix, topic)
      return { names, topics: [names.topic, names.delay], what: `topic "${topic}"` }
    })
  }

  #created<N>(key: string, plan: () => { names: N; topics: string[]; what: string }): Promise<N> {
    let p = this.#topics.get(key) as Promise<N> | undefined
    if (!p) {
      p = (async () => {
        const { names, topics, what } = plan()
        const admin = await this.admin()
        const numPartitions = this.options.partitions ?? 3
        const replicationFactor = this.options.replicationFactor ?? 1
        await admin
          .createTopics({
            waitForLeaders: true,
            topics: topics.map((topic) => ({ topic, numPartitions, replicationFactor })),
          })
          .catch((error: unknown) => {
            throw kafkaError(error, `create the topics of ${what}`)
          })
        return names
      })()
      this.#topics.set(key, p)
      p.catch(() => this.#topics.delete(key))
    }
    return p
  }

  /** Produces records and resolves once every in-sync replica has them (acks=all); never earlier. */
  send(topic: string, records: readonly OutRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ topic, records, resolve, reject })
      void this.#flush()
    })
  }

  async #flush(): Promise<void> {
    if (this.#flushing) return
    this.#flushing = true
    try {
      while (this.#pending.length > 0) {
        const items = this.#pending.splice(0)
        try {
          const { kafkajs } = await this.#open()
          const producer = await this.#openProducer()
          await producer.sendBatch({
            acks: -1,
            compression:
              this.options.compression === 'gzip' ? kafkajs.CompressionTypes.GZIP : kafkajs.CompressionTypes.None,
            topicMessages: items.map((i) => ({
              topic: i.topic,
              messages: i.records.map((r) => ({
                key: r.key,
                value: r.value,
                headers: r.headers as IHeaders,
                ...(r.partition === undefined ? {} : { partition: r.partition }),
              })),
            })),
          })
          for (const i of items) i.resolve()
        } catch (error) {
          const failed = this.#producer
          this.#producer = undefined
          await failed?.then((p) => p.disconnect()).catch(() => undefined)
          const topics = [...new Set(items.map((i) => i.topic))].join('", "')
          const e = error instanceof QueueError ? error : kafkaError(error, `produce to topic "${topics}"`)
          for (const i of items) i.reject(e)
        }
      }
    } finally {
      this.#flushing = false
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const producer = await this.#producer?.catch(() => undefined)
    const client = await this.#client?.catch(() => undefined)
    await Promise.allSettled([producer?.disconnect(), client?.admin.disconnect()])
  }
}

/** The kafkajs configuration: SASL only with a user, TLS on request, kafkajs's own logging off (errors reach the caller). */
export function kafkaConfig(o: KafkaQueueOptions, kafkajs: Pick<typeof kafkajsPkg, 'logLevel'>): KafkaConfig {
  const mechanism = o.saslMechanism ?? 'plain'
  return {
    clientId: o.clientId ?? 'beaver-queue',
    brokers: brokerList(o.brokers),
    ssl: o.tls === true,
    ...(o.user !== undefined
      ? { sasl: { mechanism, username: o.user, password: o.password ?? '' } as SASLOptions }
      : {}),
    logLevel: kafkajs.logLevel.NOTHING,
    connectionTimeout: 3000,
    retry: { retries: o.retries ?? 5 },
  }
}

/** A kafkajs failure as a QueueError naming the setting to check (never the password). */
export function kafkaError(error: unknown, what: string): QueueError {
  const e = error as { name?: string; message?: string; type?: string }
  const auth = /SASL|authenticat/i.test(`${e.name} ${e.type} ${e.message}`)
  return new QueueError(
    'QUEUE_DRIVER_UNAVAILABLE',
    `Kafka could not ${what}: ${e.name ?? 'Error'}: ${e.message ?? String(error)}; ${
      auth
        ? 'check BEAVER_QUEUE_KAFKA_USER, BEAVER_QUEUE_KAFKA_PASSWORD and BEAVER_QUEUE_KAFKA_SASL_MECHANISM'
        : 'check BEAVER_QUEUE_KAFKA_BROKERS (and BEAVER_QUEUE_KAFKA_TLS)'
    }.`,
    { cause: error },
  )
}
