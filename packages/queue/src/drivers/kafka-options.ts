// The kafka driver's options and topic names, apart from the code that loads kafkajs, so that
// the published types of `@beaver-kit/queue/kafka` name no type of the optional peer.
import { encodeName, decodeName } from './nats-names.ts'

/** SASL mechanisms kafkajs speaks without a plugin. */
export type KafkaSaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512'

/** Options of the kafka driver (`BEAVER_QUEUE_KAFKA_*`). */
export interface KafkaQueueOptions {
  /** Bootstrap brokers (`host:port`). Default `127.0.0.1:9092`. */
  brokers?: string | readonly string[] | undefined
  /** Client id the brokers see (quotas, logs). Default `beaver-queue`. */
  clientId?: string | undefined
  /** SASL user; SASL is on when set. */
  user?: string | undefined
  password?: string | undefined
  saslMechanism?: KafkaSaslMechanism | undefined
  /** Connect with TLS (system CAs). */
  tls?: boolean | undefined
  /** Compression of produced batches: kafkajs ships gzip; snappy, lz4 and zstd need codec packages and are refused. */
  compression?: 'none' | 'gzip' | undefined
  /** First segment of every topic and group name. Default `bq`. */
  prefix?: string | undefined
  /** Partitions of each topic the driver creates. Default 3. */
  partitions?: number | undefined
  /** Replication factor of each topic the driver creates. Default 1. */
  replicationFactor?: number | undefined
  /** Retries of a failed request by kafkajs before the call fails. Default 5. */
  retries?: number | undefined
  /** Messages a queue's reader holds ready ahead of its handlers. Default 256. */
  bufferSize?: number | undefined
}

/** Topics and consumer group of one queue. */
export interface KafkaQueueNames {
  /** Where published messages go; partitioned by the message key (`group`). */
  topic: string
  /** Delayed publishes and retries, held by the consuming driver until due. */
  delay: string
  /** Dead messages, keyed by id; a null value (a tombstone) marks one purged or replayed. */
  dead: string
  /** Consumer group of every worker of the queue. */
  group: string
  /** A topic's group queue (`<topic>@<group>`, made by `subscribe`): the topic's two topics it also reads. */
  fanOut?: KafkaTopicNames | undefined
}

/** The Kafka topics of one pub/sub topic: every subscribed group's consumer group reads both. */
export interface KafkaTopicNames {
  /** Where `publishTopic` writes messages due now. */
  topic: string
  /** Where it writes delayed ones, held by each group's reader until due. */
  delay: string
}

/**
 * `ns/emails.welcome` → `bq.ns_2Femails_2Ewelcome`: every character outside `[A-Za-z0-9-]` is
 * escaped (as for NATS), so the suffixes `.delay` and `.dead` cannot collide with a queue name.
 */
export function kafkaNames(prefix: string, queue: string): KafkaQueueNames {
  const topic = `${prefix}.${encodeName(queue)}`
  return { topic, delay: `${topic}.delay`, dead: `${topic}.dead`, group: topic }
}

/**
 * `ns/orders` → `bq.ns_2Forders.topic` and `….topic-delay`: apart from the topics of a queue of
 * the same name (a queue's own names end in no suffix, `.delay` or `.dead`).
 */
export function kafkaTopicNames(prefix: string, topic: string): KafkaTopicNames {
  const base = `${prefix}.${encodeName(topic)}`
  return { topic: `${base}.topic`, delay: `${base}.topic-delay` }
}

/** The queue of a main topic this driver created, or undefined for any other topic. */
export function queueOfTopic(prefix: string, topic: string): string | undefined {
  const rest = topic.startsWith(`${prefix}.`) ? topic.slice(prefix.length + 1) : ''
  if (rest === '' || rest.includes('.')) return undefined
  try {
    return decodeName(rest)
  } catch {
    return undefined
  }
}

export function brokerList(brokers: KafkaQueueOptions['brokers']): string[] {
  const list = typeof brokers === 'string' ? brokers.split(',') : [...(brokers ?? ['127.0.0.1:9092'])]
  return list.map((b) => b.trim()).filter((b) => b !== '')
}
