import type * as kafkajsPkg from 'kafkajs'
import type { Admin, Consumer, IHeaders, Kafka, KafkaConfig, Producer, SASLOptions } from 'kafkajs'
import { importPeer } from '@beaver-kit/core'
import { QueueError } from '../errors.ts'
import { brokerList, kafkaNames, type KafkaQueueNames, type KafkaQueueOptions } from './kafka-options.ts'

/** One record the driver produces. */
export interface OutRecord {
  key: string | null
  value: string | null
  headers: Record<string, string>
}

interface Client {
  kafkajs: typeof kafkajsPkg
  kafka: Kafka
  admin: Admin
  producer: Producer
}

/**
 * The kafkajs client of one driver, made on first use: an admin for topics and offsets, and
 * one idempotent producer (acks from every in-sync replica, one request in flight, so a retried
 * batch is stored once and in order). Consumers are made per queue by the readers.
 */
export class KafkaLink {
  readonly options: KafkaQueueOptions
  readonly #topics = new Map<string, Promise<KafkaQueueNames>>()
  #client: Promise<Client> | undefined
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
      const kafka = new kafkajs.Kafka(kafkaConfig(this.options, kafkajs))
      const admin = kafka.admin()
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false })
      try {
        await admin.connect()
        await producer.connect()
      } catch (error) {
        await Promise.allSettled([admin.disconnect(), producer.disconnect()])
        throw kafkaError(error, 'connect')
      }
      return { kafkajs, kafka, admin, producer }
    })()
    this.#client.catch(() => (this.#client = undefined))
    return this.#client
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
    let p = this.#topics.get(queue)
    if (!p) {
      p = (async () => {
        const names = kafkaNames(this.prefix, queue)
        const admin = await this.admin()
        const numPartitions = this.options.partitions ?? 3
        const replicationFactor = this.options.replicationFactor ?? 1
        await admin
          .createTopics({
            waitForLeaders: true,
            topics: [names.topic, names.delay, names.dead].map((topic) => ({
              topic,
              numPartitions,
              replicationFactor,
            })),
          })
          .catch((error: unknown) => {
            throw kafkaError(error, `create the topics of queue "${queue}"`)
          })
        return names
      })()
      this.#topics.set(queue, p)
      p.catch(() => this.#topics.delete(queue))
    }
    return p
  }

  /** Produces records and resolves once every in-sync replica has them (acks=all); never earlier. */
  async send(topic: string, records: readonly OutRecord[]): Promise<void> {
    if (records.length === 0) return
    const { producer, kafkajs } = await this.#open()
    const compression =
      this.options.compression === 'gzip' ? kafkajs.CompressionTypes.GZIP : kafkajs.CompressionTypes.None
    await producer
      .send({
        topic,
        acks: -1,
        compression,
        messages: records.map((r) => ({ key: r.key, value: r.value, headers: r.headers as IHeaders })),
      })
      .catch((error: unknown) => {
        throw kafkaError(error, `produce to topic "${topic}"`)
      })
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const client = await this.#client?.catch(() => undefined)
    if (client) await Promise.allSettled([client.producer.disconnect(), client.admin.disconnect()])
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
