import { importPeer } from '@beaver-kit/core'
import type { Database, Dialect, Queryable, Transaction } from '@beaver-kit/database'
import type {
  Delivery,
  DriverMessage,
  EnqueueOptions,
  Failure,
  FetchOptions,
  QueueCapabilities,
  QueueCounts,
  QueueDriver,
  QueueDriverContext,
  RenewResult,
  StoredMessage,
} from '../driver.ts'
import { QueueError } from '../errors.ts'
import { keepFreshLeases } from './claim-lease.ts'
import { publishGroupCopies } from './fan-out.ts'
import { claimJobs } from './sql-claim.ts'
import { insertJobs } from './sql-insert.ts'
import { countJobs, getJob, listDeadJobs, listQueues, purgeDeadJobs, replayDeadJobs } from './sql-inspection.ts'
import { PostgresListener } from './sql-listen.ts'
import { JobsMaintenance } from './sql-maintenance.ts'
import type { Row } from './sql-rows.ts'
import { queueMigrations } from './sql-schema.ts'
import { JobsTable } from './sql-table.ts'
import { WakeBoard } from './sql-wake.ts'

/** Options of the sqlite, postgres and mysql drivers (`BEAVER_QUEUE_DB_*`). */
export interface SqlQueueOptions {
  /** Database URL; default: the default `db()` of @beaver-kit/database. */
  url?: string | undefined
  /** Prefix of the queue's tables. Default `beaver_queue`. */
  table?: string | undefined
  /** A database to use (never closed by the queue); transactional publish needs the same one. */
  database?: Database | undefined
  /**
   * Speak whatever dialect the database speaks (set when BEAVER_QUEUE_DRIVER was left at its
   * default, so `BEAVER_DB_URL=postgres://...` alone moves the queue to PostgreSQL too).
   */
  followDatabase?: boolean | undefined
}

/** The job-queue driver over @beaver-kit/database: SKIP LOCKED claims, LISTEN/NOTIFY on PostgreSQL. */
export class SqlQueueDriver implements QueueDriver {
  name: string
  readonly capabilities: QueueCapabilities
  readonly #t: JobsTable
  readonly #options: SqlQueueOptions
  readonly #ctx: QueueDriverContext
  readonly #maintenance: JobsMaintenance
  readonly #wakes = new WakeBoard()
  #db: Database | undefined
  #ownsDb = false
  #opening: Promise<Database> | undefined
  #listener: PostgresListener | undefined
  #closed = false

  constructor(dialect: Dialect, name: string, options: SqlQueueOptions, ctx: QueueDriverContext) {
    this.name = name
    this.#options = options
    this.#ctx = ctx
    this.#t = new JobsTable(dialect, options.table ?? 'beaver_queue')
    this.#maintenance = new JobsMaintenance(this.#t, ctx.settings)
    this.capabilities = Object.freeze({
      delay: true,
      priority: true,
      dedupe: true,
      cancel: true,
      fairness: true,
      transactional: true,
      extendLease: true,
      durable: true,
      history: true,
      fanOut: true,
    })
  }

  #database(): Promise<Database> {
    this.#opening ??= (async () => {
      const t = this.#t
      const dbm = await importPeer(
        '@beaver-kit/database',
        () => import('@beaver-kit/database'),
        `the ${this.name} queue driver`,
      )
      const follow = this.#options.followDatabase === true
      const { database, owned } = await dbm.openStoreDatabase({
        database: this.#options.database,
        url: this.#options.url,
        dialect: follow
          ? undefined
          : {
              expected: t.dialect,
              mismatch: (actual) =>
                new QueueError(
                  'QUEUE_OPTIONS_INVALID',
                  `BEAVER_QUEUE_DRIVER is "${this.name}" but its database speaks ${actual}; set BEAVER_QUEUE_DB_URL (or BEAVER_DB_URL) to a ${t.dialect} database, or pick the ${actual} driver.`,
                  { details: { driver: this.name, dialect: actual } },
                ),
            },
        migrations: (dialect) => ({ migrations: queueMigrations(dialect, t.prefix), table: `${t.prefix}_migrations` }),
      })
      this.#ownsDb = owned
      if (follow && database.dialect !== t.dialect) {
        t.dialect = database.dialect
        this.name = database.dialect
      }
      this.#db = database
      if (t.dialect === 'postgres') {
        this.#listener = new PostgresListener(
          database,
          t.prefix,
          { onNotify: (queue) => this.#wakes.wake(queue), onListen: () => this.#wakes.wakeAll() },
          this.#ctx,
        )
      }
      return database
    })()
    this.#opening.catch(() => (this.#opening = undefined))
    return this.#opening
  }

  async enqueue(messages: readonly DriverMessage[], options: EnqueueOptions): Promise<string[]> {
    const database = await this.#database()
    const dialect = this.#t.dialect
    const tx = options.tx as Transaction | undefined
    if (tx !== undefined && (typeof tx !== 'object' || tx === null || (tx as Queryable).dialect !== dialect)) {
      throw new QueueError(
        'QUEUE_OPTIONS_INVALID',
        `publish({ tx }) needs a transaction of the queue's ${dialect} database (from db.transaction(async (tx) => ...)).`,
      )
    }
    const run: Queryable = tx ?? database
    const byQueue = new Map<string, DriverMessage[]>()
    for (const m of messages) {
      const list = byQueue.get(m.queue)
      if (list) list.push(m)
      else byQueue.set(m.queue, [m])
    }
    const ids = new Map<DriverMessage, string>()
    for (const [queue, list] of byQueue) {
      // One multi-row INSERT per 500 messages keeps every statement under the parameter limits.
      for (let i = 0; i < list.length; i += 500) {
        const chunk = list.slice(i, i + 500)
        const found = await insertJobs(run, this.#t, queue, chunk, tx === undefined)
        for (const m of chunk) ids.set(m, found.get(m) as string)
      }
      if (tx === undefined) this.#wakes.wake(queue)
    }
    return messages.map((m) => ids.get(m) as string)
  }

  async subscribe(topic: string, queue: string): Promise<void> {
    const database = await this.#database()
    const t = this.#t
    const insert =
      t.dialect === 'postgres'
        ? `insert into ${t.prefix}_topics (topic, queue) values ($1, $2) on conflict do nothing`
        : `insert ${t.dialect === 'mysql' ? 'ignore' : 'or ignore'} into ${t.prefix}_topics (topic, queue) values (?, ?)`
    await database.query(insert, [topic, queue])
  }

  async publishTopic(topic: string, messages: readonly DriverMessage[], options: EnqueueOptions): Promise<string[]> {
    const database = await this.#database()
    const t = this.#t
    const rows = await database.many<{ queue: string }>(
      t.q(`select queue from ${t.prefix}_topics where topic = ? order by queue`),
      [topic],
    )
    const groups = rows.map((r) => String(r.queue))
    // Every group gets its copy or none does: one transaction (the caller's, when given).
    if (options.tx !== undefined) return publishGroupCopies(groups, messages, options, (c, o) => this.enqueue(c, o))
    const ids = await database.transaction((tx) =>
      publishGroupCopies(groups, messages, { tx }, (c, o) => this.enqueue(c, o)),
    )
    for (const queue of groups) this.#wakes.wake(queue)
    return ids
  }

  async fetch(queue: string, options: FetchOptions): Promise<Delivery[]> {
    const database = await this.#database()
    const t = this.#t
    // A commit's NOTIFY can arrive between this look and the wait below: it is counted, so the
    // wait does not sleep through it. A commit before LISTEN was in place sends nothing this
    // session hears; LISTEN coming into place (first, or back after a failure) counts as a
    // wake-up of every queue, so the fetch looks again after it.
    const seen = this.#wakes.seen(queue)
    const got = await this.#claim(database, queue, options)
    if (got.length > 0 || options.waitMs <= 0 || options.signal.aborted) return got
    const next = await database.maybeOne<{ next: unknown }>(
      t.q(`select min(run_at) as next from ${t.jobs} where queue = ? and state = 'waiting'`),
      [queue],
    )
    const nextAt = next?.next == null ? Infinity : Number(next.next)
    const waitMs = Math.min(options.waitMs, Math.max(1, nextAt - this.#ctx.now()))
    await this.#listener?.listening()
    await this.#wakes.wait(queue, seen, waitMs, options.signal)
    if (options.signal.aborted || this.#closed) return []
    return this.#claim(database, queue, options)
  }

  async completeAndFetch(queue: string, completed: readonly Delivery[], options: FetchOptions): Promise<Delivery[]> {
    const database = await this.#database()
    // One statement on PostgreSQL (a commit less per batch); elsewhere, and for fair claims
    // (their own transaction), the two calls it saves the consumer from making.
    if (this.#t.dialect === 'postgres' && options.groupLimit === undefined) {
      return this.#claim(database, queue, options, completed)
    }
    await this.complete(queue, completed)
    return this.#claim(database, queue, options)
  }

  async #claim(
    database: Database,
    queue: string,
    options: FetchOptions,
    completed: readonly Delivery[] = [],
  ): Promise<Delivery[]> {
    await this.#maintenance.run(database, queue, this.#ctx.now())
    const claimedAt = this.#ctx.now()
    const got = await claimJobs(database, this.#t, queue, options, claimedAt, completed)
    return keepFreshLeases(got, claimedAt, options.leaseMs, this.#ctx.now, {
      renew: (held, leaseMs) => this.renew(queue, held, leaseMs),
      release: (held) => this.release(queue, held),
    })
  }

  async complete(queue: string, deliveries: readonly Delivery[]): Promise<void> {
    if (deliveries.length === 0) return
    const database = await this.#database()
    const t = this.#t
    const held = t.held(deliveries)
    await database.execute(
      t.q(
        `update ${t.jobs} set state = 'completed', finished_at = ?, dedupe_key = null, token = null, lease_until = null
         where queue = ? and ${t.activeCheck}${held.where}`,
      ),
      [this.#ctx.now(), queue, ...held.values],
    )
  }

  async fail(queue: string, d: Delivery, failure: Failure): Promise<void> {
    const database = await this.#database()
    const t = this.#t
    const where = `where queue = ? and id = ? and token = ? and state = 'active'`
    if (failure.kind === 'retry') {
      await database.execute(
        t.q(
          `update ${t.jobs} set state = 'waiting', run_at = ?, last_error = ?, token = null, lease_until = null ${where}`,
        ),
        [failure.runAt, failure.error, queue, d.id, d.token],
      )
      if (failure.runAt <= this.#ctx.now()) this.#wakes.wake(queue)
      return
    }
    const state = failure.kind === 'dead' ? 'dead' : 'cancelled'
    await database.execute(
      t.q(
        `update ${t.jobs} set state = ?, dead_reason = ?, last_error = ?, finished_at = ?, dedupe_key = null, token = null, lease_until = null ${where}`,
      ),
      [state, failure.kind === 'dead' ? failure.reason : null, failure.error, this.#ctx.now(), queue, d.id, d.token],
    )
  }

  async release(queue: string, deliveries: readonly Delivery[]): Promise<void> {
    if (deliveries.length === 0) return
    const database = await this.#database()
    const t = this.#t
    const held = t.held(deliveries)
    await database.execute(
      t.q(
        `update ${t.jobs} set state = 'waiting', attempt = attempt - 1, token = null, lease_until = null
         where queue = ? and ${t.activeCheck}${held.where}`,
      ),
      [queue, ...held.values],
    )
    this.#wakes.wake(queue)
  }

  async renew(queue: string, deliveries: readonly Delivery[], leaseMs: number): Promise<RenewResult> {
    const result: RenewResult = { cancelled: [], lost: [] }
    if (deliveries.length === 0) return result
    const database = await this.#database()
    const t = this.#t
    const held = t.held(deliveries)
    const update = t.q(`update ${t.jobs} set lease_until = ? where queue = ? and ${t.activeCheck}${held.where}`)
    const params = [this.#ctx.now() + leaseMs, queue, ...held.values]
    let rows: Row[]
    if (t.dialect === 'mysql') {
      await database.execute(update, params)
      rows = await database.many(
        `select id, cancel_requested from ${t.jobs} where queue = ? and state = 'active' and ${held.where}`,
        [queue, ...held.values],
      )
    } else {
      rows = (await database.query(`${update} returning id, cancel_requested`, params)).rows
    }
    const seen = new Set<string>()
    for (const r of rows) {
      seen.add(String(r.id))
      if (Number(r.cancel_requested) === 1) result.cancelled.push(String(r.id))
    }
    for (const d of deliveries) if (!seen.has(d.id)) result.lost.push(d.id)
    return result
  }

  async cancel(queue: string, id: string): Promise<'removed' | 'signalled' | 'none'> {
    const database = await this.#database()
    const t = this.#t
    const removed = await database.execute(
      t.q(
        `update ${t.jobs} set state = 'cancelled', finished_at = ?, dedupe_key = null where queue = ? and id = ? and state = 'waiting'`,
      ),
      [this.#ctx.now(), queue, id],
    )
    if (removed.affectedRows > 0) return 'removed'
    const flagged = await database.execute(
      t.q(`update ${t.jobs} set cancel_requested = 1 where queue = ? and id = ? and state = 'active'`),
      [queue, id],
    )
    return flagged.affectedRows > 0 ? 'signalled' : 'none'
  }

  async progress(queue: string, d: Delivery, value: string): Promise<void> {
    const database = await this.#database()
    const t = this.#t
    await database.execute(t.q(`update ${t.jobs} set progress = ? where queue = ? and id = ? and token = ?`), [
      value,
      queue,
      d.id,
      d.token,
    ])
  }

  async counts(queue: string): Promise<QueueCounts> {
    return countJobs(await this.#database(), this.#t, queue, this.#ctx.now())
  }

  async get(queue: string, id: string): Promise<StoredMessage | undefined> {
    const database = await this.#database()
    return getJob(database, this.#t, queue, id, this.#ctx.now)
  }

  async listDead(queue: string, options: { limit: number; offset: number }): Promise<StoredMessage[]> {
    const database = await this.#database()
    return listDeadJobs(database, this.#t, queue, options, this.#ctx.now)
  }

  async replayDead(queue: string, ids: readonly string[] | 'all'): Promise<number> {
    if (ids !== 'all' && ids.length === 0) return 0
    const database = await this.#database()
    const replayed = await replayDeadJobs(database, this.#t, queue, ids, this.#ctx.now())
    this.#wakes.wake(queue)
    return replayed
  }

  async purgeDead(queue: string, ids: readonly string[] | 'all'): Promise<number> {
    if (ids !== 'all' && ids.length === 0) return 0
    return purgeDeadJobs(await this.#database(), this.#t, queue, ids)
  }

  async queues(): Promise<string[]> {
    return listQueues(await this.#database(), this.#t)
  }

  async ping(): Promise<void> {
    const database = await this.#database()
    await database.ping()
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#wakes.wakeAll()
    await this.#listener?.close()
    const database = this.#db ?? (await this.#opening?.catch(() => undefined))
    if (this.#ownsDb) await database?.close()
  }
}
