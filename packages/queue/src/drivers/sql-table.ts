import type { Dialect } from '@beaver-kit/database'
import type { Delivery } from '../driver.ts'
import { QueueError } from '../errors.ts'

/**
 * The queue's tables on one database: their names, the dialect the statements are written
 * for, and the placeholder and "held by this delivery" fragments every statement shares.
 */
export class JobsTable {
  /** Prefix of the queue's tables (`beaver_queue`). */
  readonly prefix: string
  /** The jobs table (`<prefix>_jobs`). */
  readonly jobs: string
  /** Changes once when the driver follows its database's dialect (see SqlQueueOptions.followDatabase). */
  dialect: Dialect

  constructor(dialect: Dialect, prefix: string) {
    if (!/^[a-z_][a-z0-9_]{0,40}$/.test(prefix)) {
      throw new QueueError(
        'QUEUE_OPTIONS_INVALID',
        `BEAVER_QUEUE_DB_TABLE is "${prefix}"; use lowercase letters, digits and _, up to 41 characters.`,
      )
    }
    this.dialect = dialect
    this.prefix = prefix
    this.jobs = `${prefix}_jobs`
  }

  /** `?` placeholders become `$n` on PostgreSQL. */
  q(text: string): string {
    if (this.dialect !== 'postgres') return text
    let n = 0
    return text.replace(/\?/g, () => `$${++n}`)
  }

  /**
   * The "still active" check of a statement that finds held rows by token (`held()`), with its
   * `and`. Only an active row holds a token (every other state change clears it), so PostgreSQL
   * goes without it: there the planner took it for a reason to read the partial active index,
   * which keeps the entries of rows claimed and finished since the last vacuum, and read them all.
   */
  get activeCheck(): string {
    return this.dialect === 'postgres' ? '' : `state = 'active' and `
  }

  /** `(token = ? and id in (...)) or ...`: deliveries of one fetch share a token. */
  held(deliveries: readonly Delivery[]): { where: string; values: unknown[] } {
    const byToken = new Map<string, string[]>()
    for (const d of deliveries) byToken.set(d.token, [...(byToken.get(d.token) ?? []), d.id])
    const parts: string[] = []
    const values: unknown[] = []
    for (const [token, ids] of byToken) {
      parts.push(`(token = ? and id in (${ids.map(() => '?').join(', ')}))`)
      values.push(token, ...ids)
    }
    return { where: `(${parts.join(' or ')})`, values }
  }
}
