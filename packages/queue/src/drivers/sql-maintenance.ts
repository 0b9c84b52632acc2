import type { Database } from '@beaver-kit/database'
import type { QueueDriverContext } from '../driver.ts'
import type { JobsTable } from './sql-table.ts'

const RECLAIM_EVERY_MS = 250
const PRUNE_EVERY_MS = 30_000

/**
 * The upkeep a claim does first, at most once per interval per queue: messages whose lease
 * expired (a crashed worker) go back to waiting, and finished messages past the retention
 * settings are deleted.
 */
export class JobsMaintenance {
  readonly #t: JobsTable
  readonly #settings: QueueDriverContext['settings']
  readonly #lastReclaim = new Map<string, number>()
  readonly #lastPrune = new Map<string, number>()

  constructor(t: JobsTable, settings: QueueDriverContext['settings']) {
    this.#t = t
    this.#settings = settings
  }

  async run(database: Database, queue: string, now: number): Promise<void> {
    const t = this.#t
    if (now - (this.#lastReclaim.get(queue) ?? 0) >= RECLAIM_EVERY_MS) {
      this.#lastReclaim.set(queue, now)
      await database.execute(
        t.q(
          `update ${t.jobs} set state = 'waiting', token = null, lease_until = null, last_error = coalesce(last_error, 'lease expired: the worker stopped renewing it')
           where queue = ? and state = 'active' and lease_until < ?`,
        ),
        [queue, now],
      )
    }
    if (now - (this.#lastPrune.get(queue) ?? 0) >= PRUNE_EVERY_MS) {
      this.#lastPrune.set(queue, now)
      const { keepCompletedMs, keepDeadMs } = this.#settings
      await database.execute(
        t.q(
          `delete from ${t.jobs} where queue = ? and ((state in ('completed', 'cancelled') and finished_at < ?) or (state = 'dead' and finished_at < ?))`,
        ),
        [queue, now - keepCompletedMs, now - keepDeadMs],
      )
      // Beyond the age limit, a count limit: the newest keepCompletedMax completed rows stay.
      await database.execute(
        t.q(
          `delete from ${t.jobs} where queue = ? and state = 'completed' and seq < (
             select seq from (select seq from ${t.jobs} where queue = ? and state = 'completed' order by seq desc limit 1 offset ?) newest)`,
        ),
        [queue, queue, this.#settings.keepCompletedMax],
      )
    }
  }
}
