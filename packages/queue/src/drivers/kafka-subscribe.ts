import { kafkaError, type KafkaLink } from './kafka-link.ts'

/**
 * Starts a group queue's consumer group at the current end of its topic's topics, on the
 * partitions where it has no committed offset yet: a group gets what is published after it
 * subscribed (as on every fan-out driver), and from then on reads from its committed offsets,
 * whether a consumer of it ran in between or not (kept while it has none).
 *
 * Done as kafkajs `admin.setOffsets` does it (a short-lived member of the group that checks the
 * group has no other member with DescribeGroups, seeks with commits, and leaves after one fetch
 * round), in one join for both topics and with a short fetch wait: `setOffsets` takes one topic
 * per join and its consumer idles `maxWaitTimeInMs` (5 s) before that round ends.
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
  try {
    const missing = await unset()
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
    const consumer = await link.consumer(group, 100)
    try {
      await consumer.connect()
      await consumer.subscribe({ topics: [...topics], fromBeginning: true })
      const { state } = await consumer.describeGroup()
      // Members already: another process subscribed this group at the same moment and set them.
      if (state !== 'Empty' && state !== 'Dead') {
        if ((await unset()).length === 0) return
        throw new Error(
          `consumer group "${group}" is ${state} with members, and has no offsets on ${topics.join(', ')}`,
        )
      }
      await new Promise<void>((resolve, reject) => {
        // Seeks are committed (autoCommit) at the start of the first fetch round, before FETCH.
        consumer.on(consumer.events.FETCH, () => void consumer.stop().then(resolve, reject))
        consumer.run({ eachBatchAutoResolve: false, eachBatch: async () => undefined }).catch(reject)
        consumer.pause(topics.map((topic) => ({ topic })))
        for (const seek of seeks) consumer.seek(seek)
      })
    } finally {
      await consumer.disconnect().catch(() => undefined)
    }
    if ((await unset()).length > 0) throw new Error(`the offsets of consumer group "${group}" were not committed`)
  } catch (error) {
    throw kafkaError(error, `start consumer group "${group}" at the end of topics "${topics.join('", "')}"`)
  }
}
