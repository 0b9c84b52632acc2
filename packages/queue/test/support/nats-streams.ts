import { randomBytes } from 'node:crypto'
import { connect } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'

/** A stream/subject prefix of its own per test run: the NATS server is shared with other runs. */
export function natsTestPrefix(): string {
  return `bqt${randomBytes(4).toString('hex')}`
}

/** Deletes every stream a test run created under its prefix (queues, their DLQs, topics). */
export async function deleteNatsStreams(servers: string, prefix: string): Promise<number> {
  const nc = await connect({ servers })
  try {
    const jsm = await jetstreamManager(nc)
    let n = 0
    for await (const name of jsm.streams.names(`${prefix}.>`)) {
      if (name.startsWith(`${prefix}_`) && (await jsm.streams.delete(name))) n++
    }
    // Topic streams (fan-out) have subjects of their own, outside the queues'.
    for await (const name of jsm.streams.names(`${prefix}-topic.>`)) {
      if (name.startsWith(`${prefix}-topic_`) && (await jsm.streams.delete(name))) n++
    }
    return n
  } finally {
    await nc.close()
  }
}
