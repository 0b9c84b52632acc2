import type { Admin, Consumer } from 'kafkajs'
import { kafkaError, type KafkaLink } from './kafka-link.ts'

/** How long a subscribe waits for another process setting the same new group's offsets. */
const SUBSCRIBE_LIMIT_MS = 30_000

/**
 * Starts a group queue's consumer group at the current end of its topic's topics, on the
 * partitions where it has no committed offset yet: a group gets what is published after it
 * subscribed (as on every fan-out driver), and from then on reads from its committed offsets,
 * whether a consumer of it ran in between or not (kept while it has none).
 *
 * Done as kafkajs `admin.setOffsets` does it (a short-lived member of the group that checks the
 * group has no other member with DescribeGroups, seeks with commits, and leaves after one fetch
 * round), in one join for both topics and with a short fetch wait: `setOffsets` takes one topic
 * per join and its consumer idles `maxWaitTimeInMs` (5 s) before that round ends. A group with
 * members is another process doing the same: this one waits for the offsets to appear; the
 * rounds repeat until every partition has one (two members each seek only their own partitions).
 */
export async function startGroupAtEnd(link: KafkaLink, group: string, topics: readonly string[]): Promise<void> {
  const admin = await link.admin()
  const unset = async (): Promise<Array<{ topic: string; partitions: number[] }>> => {
    const committed = await admin.fetchOffsets({ groupId: group, topics: [...topics] })
    return committed
      .map((t) => ({
        topic: t.topic,
        partitions: t.partitions.filter((p) => Number(p.offset) < 0).map((p) => p.partition),
      }))
      .filter((t) => t.partitions.length > 0)
  }
  const deadline = Date.now() + SUBSCRIBE_LIMIT_MS
  try {
    while ((await unset()).length > 0) {
      if (Date.now() > deadline) {
        throw new Error(`the offsets of consumer group "${group}" were not set within ${SUBSCRIBE_LIMIT_MS} ms`)
      }
      const consumer = await link.consumer(group, 100)
      try {
        await consumer.connect()
        await consumer.subscribe({ topics: [...topics], fromBeginning: true })
        const { state } = await consumer.describeGroup()
        if (state === 'Empty' || state === 'Dead') await seekToEnd(consumer, admin, topics, await unset(), deadline)
      } finally {
        await consumer.disconnect().catch(() => undefined)
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  } catch (error) {
    throw kafkaError(error, `start consumer group "${group}" at the end of topics "${topics.join('", "')}"`)
  }
}

/** Joins, seeks the partitions given to their end offsets (committed at the first fetch round), and leaves. */
async function seekToEnd(
  consumer: Consumer,
  admin: Admin,
  topics: readonly string[],
  missing: Array<{ topic: string; partitions: number[] }>,
  deadline: number,
): Promise<void> {
  if (missing.length === 0) return
  const seeks = (
    await Promise.all(
      missing.map(async ({ topic, partitions }) =>
        (await admin.fetchTopicOffsets(topic))
          .filter((p) => partitions.includes(p.partition))
          .map((p) => ({ topic, partition: p.partition, offset: p.high })),
      ),
    )
  ).flat()
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => done(new Error('no fetch round while seeking the group to the end')),
      Math.max(0, deadline - Date.now()),
    )
    function done(error?: unknown): void {
      clearTimeout(timer)
      if (error === undefined) resolve()
      else reject(error instanceof Error ? error : new Error(String(error)))
    }
    consumer.on(consumer.events.CRASH, (e) => {
      if (!e.payload.restart) done(e.payload.error)
    })
    // Seeks are committed (autoCommit) at the start of the first fetch round, before FETCH.
    consumer.on(consumer.events.FETCH, () => void consumer.stop().then(() => done(), done))
    consumer.run({ eachBatchAutoResolve: false, eachBatch: async () => undefined }).catch(done)
    consumer.pause(topics.map((topic) => ({ topic })))
    for (const seek of seeks) consumer.seek(seek)
  })
}
