import type { InstanceDescription } from '@beaver-kit/config'
import type { Queue } from '@beaver-kit/queue'
import type { Logger } from '@beaver-kit/logger'
import type { LinkStore } from './links.ts'

/** Link visits recorded through the queue: the redirect enqueues, a worker updates the counter. */
export interface Visits {
  /** Enqueues one visit of `code`; resolves once it is stored in the queue. */
  record(code: string): Promise<void>
  /** Resolves when every visit this process enqueued has been counted (tests; bounded wait). */
  idle(timeoutMs?: number): Promise<void>
  /** Drains the worker; closes the queue when the demo made it. */
  close(): Promise<void>
  /** The queue's settings and state, for the start-up log. */
  describe(): InstanceDescription
}

const QUEUE = 'link-visits'

/**
 * Starts the visit worker on `queue` (SQLite by default, on the links' own database; PostgreSQL
 * by BEAVER_DB_URL, Redis by BEAVER_QUEUE_DRIVER=redis, by env alone). The redirect answers as
 * soon as the visit is queued, and a slow or failing counter update is retried by the queue
 * instead of slowing or failing the redirect.
 */
export async function startVisits(store: LinkStore, queue: Queue, owned: boolean, log: Logger): Promise<Visits> {
  const pending = new Set<string>()
  let settled: (() => void) | undefined
  const consumer = await queue.consume<{ code: string }>(
    QUEUE,
    async (message) => {
      await store.recordHit(message.payload.code)
      pending.delete(message.id)
      if (pending.size === 0) settled?.()
    },
    { concurrency: 4 },
  )
  log.info({ driver: queue.driver }, 'visit worker started')
  return {
    async record(code) {
      const id = await queue.publish(QUEUE, { code })
      pending.add(id)
    },
    async idle(timeoutMs = 5000) {
      if (pending.size === 0) return
      let timer: ReturnType<typeof setTimeout> | undefined
      await Promise.race([
        new Promise<void>((resolve) => (settled = resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
      ])
      clearTimeout(timer)
    },
    async close() {
      await consumer.close()
      if (owned) await queue.close()
    },
    describe: () => queue.describe(),
  }
}
