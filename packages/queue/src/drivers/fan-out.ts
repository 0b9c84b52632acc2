import type { DriverMessage, EnqueueOptions } from '../driver.ts'

/**
 * Fan-out by per-group copy, for drivers that store each message (memory, SQL, Redis): a
 * topic's subscribed group queues each get a copy of every message, with the same id (ids
 * are unique per queue), so each group retries, dead-letters and replays on its own.
 * Resolves the ids of the first group's copies (an earlier message's for a matching dedupe
 * key), or the messages' own when no group subscribed and nothing was stored.
 */
export async function publishGroupCopies(
  groupQueues: readonly string[],
  messages: readonly DriverMessage[],
  options: EnqueueOptions,
  enqueue: (copies: DriverMessage[], options: EnqueueOptions) => Promise<string[]>,
): Promise<string[]> {
  if (groupQueues.length === 0) return messages.map((m) => m.id)
  const copies = groupQueues.flatMap((queue) => messages.map((m) => ({ ...m, queue, headers: { ...m.headers } })))
  const ids = await enqueue(copies, options)
  return ids.slice(0, messages.length)
}
