import { defineDriverRegistry, type DriverSource } from '@beaver-kit/core'
import type { QueueDriverDefinition } from './driver.ts'
import { memoryDriver } from './drivers/memory.ts'
import { QueueError } from './errors.ts'

type AnyDefinition = QueueDriverDefinition<never>

// Every built-in but memory loads lazily, so ioredis or the database package are imported only
// by the process that picked that driver (a missing one is CORE_PEER_MISSING naming it).
const drivers = defineDriverRegistry<AnyDefinition>({
  kind: 'queue',
  setting: 'BEAVER_QUEUE_DRIVER',
  registerName: 'registerQueueDriver',
  builtins: {
    memory: memoryDriver as AnyDefinition,
    sqlite: () => import('./drivers/sqlite.ts').then((m) => m.sqliteDriver as AnyDefinition),
    postgres: () => import('./drivers/postgres.ts').then((m) => m.postgresDriver as AnyDefinition),
    mysql: () => import('./drivers/mysql.ts').then((m) => m.mysqlDriver as AnyDefinition),
    redis: () => import('./drivers/redis.ts').then((m) => m.redisDriver as AnyDefinition),
    rabbitmq: () => import('./drivers/rabbitmq.ts').then((m) => m.rabbitmqDriver as AnyDefinition),
    sqs: () => import('./drivers/sqs.ts').then((m) => m.sqsDriver as AnyDefinition),
    nats: () => import('./drivers/nats.ts').then((m) => m.natsDriver as AnyDefinition),
    kafka: () => import('./drivers/kafka.ts').then((m) => m.kafkaDriver as AnyDefinition),
  },
  error: (code, message, details) => new QueueError(`QUEUE_${code}`, message, { details }),
})

/**
 * Adds a driver under a name, so `BEAVER_QUEUE_DRIVER=<name>` (or `driver: '<name>'`) picks it.
 * Pass the definition, or a function that imports it lazily; a registered name takes precedence
 * over a built-in one.
 * @example registerQueueDriver('kinesis', () => import('./kinesis.ts').then((m) => m.kinesisDriver))
 */
export function registerQueueDriver<O>(
  name: string,
  definition: QueueDriverDefinition<O> | (() => Promise<QueueDriverDefinition<O>>),
): void {
  drivers.register(name, definition as DriverSource<AnyDefinition>)
}

/** Every driver name that can be chosen now. */
export const queueDriverNames = (): string[] => drivers.names()

/** Loads a definition by name (unknown names fail with the list and a "did you mean"). */
export const loadQueueDriver = (name: string): Promise<AnyDefinition> => drivers.load(name)

/** Whether a name is known, for the check at creation. */
export const hasQueueDriver = (name: string): boolean => drivers.has(name)

/** The unknown-driver error, thrown at creation for a name that is not known. */
export const unknownQueueDriver = (name: string): Error => drivers.unknown(name)
