import type { NatsHandles } from './nats-link.ts'
import type { NatsQueueNames } from './nats-names.ts'
import type { NatsQueueOptions } from './nats-options.ts'
import { isNotFound } from './nats-dead.ts'
import { QueueError } from '../errors.ts'

/** JetStream durations are nanoseconds. */
export const MS = 1_000_000

/**
 * Creates a queue's work-queue stream (ready and delayed subjects) and its DLQ stream
 * (limits retention, kept `keepDeadMs`). Adding a stream that exists with the same settings
 * is a no-op; one with other settings is refused, naming the settings.
 */
export async function createStreams(
  h: NatsHandles,
  n: NatsQueueNames,
  o: NatsQueueOptions,
  keepDeadMs: number,
): Promise<void> {
  const { jsm, jetstream } = h
  const common = {
    storage: o.storage === 'memory' ? jetstream.StorageType.Memory : jetstream.StorageType.File,
    num_replicas: o.replicas ?? 1,
  }
  try {
    await jsm.streams.add({
      name: n.stream,
      subjects: [n.jobs, n.delayed],
      retention: jetstream.RetentionPolicy.Workqueue,
      duplicate_window: (o.duplicateWindow ?? 120_000) * MS,
      ...common,
    })
    await jsm.streams.add({
      name: n.deadStream,
      subjects: [n.dead],
      retention: jetstream.RetentionPolicy.Limits,
      max_age: keepDeadMs * MS,
      duplicate_window: Math.min(keepDeadMs, 120_000) * MS,
      ...common,
    })
  } catch (error) {
    throw streamError(error, n.stream)
  }
}

/**
 * Creates the durable pull consumer of a queue's ready subject, or lowers its ack_wait to
 * `ackWaitMs` when that is shorter (never raises it: another worker may rely on the shorter
 * one). Resolves the ack_wait in force, in ms.
 */
export async function ensureWorkConsumer(
  h: NatsHandles,
  n: NatsQueueNames,
  ackWaitMs: number,
  maxDeliver: number,
): Promise<number> {
  const { jsm, jetstream } = h
  const info = await jsm.consumers.info(n.stream, n.work).catch((error: unknown) => {
    if (isNotFound(error)) return undefined
    throw error
  })
  if (!info) {
    await jsm.consumers.add(n.stream, {
      durable_name: n.work,
      ack_policy: jetstream.AckPolicy.Explicit,
      ack_wait: ackWaitMs * MS,
      max_deliver: maxDeliver,
      max_ack_pending: -1,
      filter_subject: n.jobs,
    })
    return ackWaitMs
  }
  const current = Math.round((info.config.ack_wait ?? 30_000 * MS) / MS)
  if (current <= ackWaitMs) return current
  await jsm.consumers.update(n.stream, n.work, { ack_wait: ackWaitMs * MS })
  return ackWaitMs
}

export function natsError(error: unknown, what: string): QueueError {
  if (error instanceof QueueError) return error
  return new QueueError(
    'QUEUE_DRIVER_UNAVAILABLE',
    `NATS could not ${what}: ${(error as Error)?.message ?? String(error)}; check BEAVER_QUEUE_NATS_SERVERS and that the server runs JetStream.`,
    { cause: error },
  )
}

function streamError(error: unknown, stream: string): QueueError {
  if (error instanceof QueueError) return error
  const text = (error as Error)?.message ?? String(error)
  const hint = /already in use|different configuration/i.test(text)
    ? 'the stream exists with other settings; BEAVER_QUEUE_NATS_STORAGE and BEAVER_QUEUE_NATS_REPLICAS must match it, or delete it'
    : /replicas|peers|cluster/i.test(text)
      ? 'BEAVER_QUEUE_NATS_REPLICAS is more than the JetStream cluster has servers'
      : 'check that the server runs JetStream (-js) and the account may create streams'
  return new QueueError('QUEUE_DRIVER_UNAVAILABLE', `JetStream refused the stream "${stream}": ${text}; ${hint}.`, {
    cause: error,
  })
}
