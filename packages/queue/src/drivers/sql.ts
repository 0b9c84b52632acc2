import { randomUUID } from 'node:crypto'
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
import { queueMigrations } from './sql-schema.ts'
import { PostgresListener } from './sql-listen.ts'

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

type Row = Record<string, unknown>

const COLUMNS =
  'seq, id, queue, state, priority, run_at, attempt, max_attempts, backoff_base, backoff_max, timeout_ms, group_key, dedupe_key, payload, headers, token, last_error, dead_reason, progress, created_at, finished_at'

const RECLAIM_EVERY_MS = 250
const PRUNE_EVERY_MS = 30_000

/** The job-queue driver over @beaver-kit/database: SKIP LOCKED claims, LISTEN/NOTIFY on PostgreSQL. */
export class SqlQueueDriver implements QueueDriver {
  name: string
  readonly capabilities: QueueCapabilities
  #dialect: Dialect
  readonly #options: SqlQueueOptions
  readonly #ctx: QueueDriverContext
  readonly #table: string
  readonly #jobs: string
  #db: Database | undefined
  #ownsDb = false
  #opening: Promise<Database> | undefined
  #listener: PostgresListener | undefined
  readonly #waiters = new Map<string, Set<() => void>>()
  /** Wake-ups per queue so far: a fetch that saw one arrive while it looked does not sleep. */
  readonly #wakes = new Map<string, number>()
  readonly #lastReclaim = new Map<string, number>()
  readonly #lastPrune = new Map<string, number>()
  #closed = false

  constructor(dialect: Dialect, name: string, options: SqlQueueOptions, ctx: QueueDriverContext) {
    this.name = name
    this.#dialect = dialect
    this.#options = options
    this.#ctx = ctx
    this.#table = options.table ?? 'beaver_queue'
    if (!/^[a-z_][a-z0-9_]{0,40}$/.test(this.#table)) {
      throw new QueueError(
        'QUEUE_OPTIONS_INVALID',
        `BEAVER_QUEUE_DB_TABLE is "${this.#table}"; use lowercase letters, digits and _, up to 41 characters.`,
      )
    }
    this.#jobs = `${this.#table}_jobs`
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
    })
  }

  /** `?` placeholders become `$n` on PostgreSQL. */
  #q(text: string): string {
    if (this.#dialect !== 'postgres') return text
    let n = 0
    return text.replace(/\?/g, () => `$${++n}`)
  }

  #database(): Promise<Database> {
    this.#opening ??= (async () => {
      const dbm = await importPeer(
        '@beaver-kit/database',
        () => import('@beaver-kit/database'),
        `the ${this.name} queue driver`,
      )
      let database = this.#options.database
      if (!database && this.#options.url) {
        database = dbm.createDatabase({ url: this.#options.url, envPrefix: false })
        this.#ownsDb = true
      }
      database ??= dbm.db()
      if (this.#options.followDatabase && database.dialect !== this.#dialect) {
        this.#dialect = database.dialect
        this.name = database.dialect
      }
      if (database.dialect !== this.#dialect) {
        throw new QueueError(
          'QUEUE_OPTIONS_INVALID',
          `BEAVER_QUEUE_DRIVER is "${this.name}" but its database speaks ${database.dialect}; set BEAVER_QUEUE_DB_URL (or BEAVER_DB_URL) to a ${this.#dialect} database, or pick the ${database.dialect === 'mysql' ? 'mysql' : database.dialect} driver.`,
          { details: { driver: this.name, dialect: database.dialect } },
        )
      }
      await database
        .migrator({ migrations: queueMigrations(this.#dialect, this.#table), table: `${this.#table}_migrations` })
        .up()
      this.#db = database
      if (this.#dialect === 'postgres') {
        this.#listener = new PostgresListener(database, this.#table, (queue) => this.#wake(queue), this.#ctx)
      }
      return database
    })()
    this.#opening.catch(() => (this.#opening = undefined))
    return this.#opening
  }

  #wake(queue: string): void {
    this.#wakes.set(queue, (this.#wakes.get(queue) ?? 0) + 1)
    const set = this.#waiters.get(queue)
    if (set) for (const w of set) w()
  }

  async enqueue(messages: readonly DriverMessage[], options: EnqueueOptions): Promise<string[]> {
    const database = await this.#database()
    const tx = options.tx as Transaction | undefined
    if (tx !== undefined && (typeof tx !== 'object' || tx === null || (tx as Queryable).dialect !== this.#dialect)) {
      throw new QueueError(
        'QUEUE_OPTIONS_INVALID',
        `publish({ tx }) needs a transaction of the queue's ${this.#dialect} database (from db.transaction(async (tx) => ...)).`,
      )
    }
    const run: Queryable = tx ?? database
    const byQueue = new Map<string, DriverMessage[]>()
    for (const m of messages) byQueue.set(m.queue, [...(byQueue.get(m.queue) ?? []), m])
    const ids = new Map<DriverMessage, string>()
    for (const [queue, list] of byQueue) {
      // One multi-row INSERT per 500 messages keeps every statement under the parameter limits.
      for (let i = 0; i < list.length; i += 500) {
        const chunk = list.slice(i, i + 500)
        const found = await this.#insert(run, queue, chunk)
        for (const m of chunk) ids.set(m, found.get(m) as string)
      }
      if (tx === undefined) this.#wake(queue)
    }
    return messages.map((m) => ids.get(m) as string)
  }

  async #insert(run: Queryable, queue: string, chunk: DriverMessage[]): Promise<Map<DriverMessage, string>> {
    const values: unknown[] = []
    const rows: string[] = []
    for (const m of chunk) {
      rows.push('(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      values.push(
        m.id,
        queue,
        'waiting',
        m.priority,
        m.runAt,
        m.maxAttempts,
        m.backoffBaseMs,
        m.backoffMaxMs,
        m.timeoutMs,
        m.group ?? null,
        m.dedupeKey ?? null,
        m.payload,
        Object.keys(m.headers).length > 0 ? JSON.stringify(m.headers) : null,
        m.createdAt,
      )
    }
    const cols =
      'id, queue, state, priority, run_at, max_attempts, backoff_base, backoff_max, timeout_ms, group_key, dedupe_key, payload, headers, created_at'
    let inserted: Row[]
    if (this.#dialect === 'postgres') {
      values.push(this.#table, queue)
      // The notification rides in the INSERT (committed with it; inside a caller's transaction,
      // delivered only when it commits), so an idle worker wakes without an extra round trip.
      inserted = (
        await run.query(
          this.#q(
            `with ins as (insert into ${this.#jobs} (${cols}) values ${rows.join(', ')} on conflict do nothing returning id)
             select id, (select pg_notify(?, ?)) as notified from ins`,
          ),
          values,
        )
      ).rows
    } else if (this.#dialect === 'sqlite') {
      inserted = (
        await run.query(
          `insert into ${this.#jobs} (${cols}) values ${rows.join(', ')} on conflict do nothing returning id`,
          values,
        )
      ).rows
    } else {
      inserted = (
        await run.query(`insert ignore into ${this.#jobs} (${cols}) values ${rows.join(', ')} returning id`, values)
      ).rows
    }
    const result = new Map<DriverMessage, string>()
    const fresh = new Set(inserted.map((r) => String(r.id)))
    const missing: DriverMessage[] = []
    const claimed = new Set<string>()
    for (const m of chunk) {
      if (fresh.has(m.id) && !claimed.has(m.id)) {
        claimed.add(m.id)
        result.set(m, m.id)
      } else missing.push(m)
    }
    if (missing.length > 0) {
      const keys = missing.flatMap((m) => (m.dedupeKey === undefined ? [] : [m.dedupeKey]))
      const idList = missing.map(() => '?').join(', ')
      const keyList = keys.length > 0 ? ` or dedupe_key in (${keys.map(() => '?').join(', ')})` : ''
      const existing = (
        await run.query(
          this.#q(`select id, dedupe_key from ${this.#jobs} where queue = ? and (id in (${idList})${keyList})`),
          [queue, ...missing.map((m) => m.id), ...keys],
        )
      ).rows
      const byId = new Set(existing.map((r) => String(r.id)))
      const byKey = new Map(
        existing.filter((r) => r.dedupe_key != null).map((r) => [String(r.dedupe_key), String(r.id)]),
      )
      for (const m of missing) {
        if (byId.has(m.id)) result.set(m, m.id)
        else if (m.dedupeKey !== undefined && byKey.has(m.dedupeKey)) result.set(m, byKey.get(m.dedupeKey) as string)
        else result.set(m, m.id)
      }
    }
    return result
  }

  async #maintain(database: Database, queue: string, now: number): Promise<void> {
    if (now - (this.#lastReclaim.get(queue) ?? 0) >= RECLAIM_EVERY_MS) {
      this.#lastReclaim.set(queue, now)
      await database.execute(
        this.#q(
          `update ${this.#jobs} set state = 'waiting', token = null, lease_until = null, last_error = coalesce(last_error, 'lease expired: the worker stopped renewing it')
           where queue = ? and state = 'active' and lease_until < ?`,
        ),
        [queue, now],
      )
    }
    if (now - (this.#lastPrune.get(queue) ?? 0) >= PRUNE_EVERY_MS) {
      this.#lastPrune.set(queue, now)
      const { keepCompletedMs, keepDeadMs } = this.#ctx.settings
      await database.execute(
        this.#q(
          `delete from ${this.#jobs} where queue = ? and ((state in ('completed', 'cancelled') and finished_at < ?) or (state = 'dead' and finished_at < ?))`,
        ),
        [queue, now - keepCompletedMs, now - keepDeadMs],
      )
      // Beyond the age limit, a count limit: the newest keepCompletedMax completed rows stay.
      await database.execute(
        this.#q(
          `delete from ${this.#jobs} where queue = ? and state = 'completed' and seq < (
             select seq from (select seq from ${this.#jobs} where queue = ? and state = 'completed' order by seq desc limit 1 offset ?) newest)`,
        ),
        [queue, queue, this.#ctx.settings.keepCompletedMax],
      )
    }
  }

  async fetch(queue: string, options: FetchOptions): Promise<Delivery[]> {
    const database = await this.#database()
    // A commit's NOTIFY can arrive between this look and the wait below, or before LISTEN is
    // in place: both are remembered, so the wait never sleeps through a job that is there.
    const seen = this.#wakes.get(queue) ?? 0
    const wasListening = this.#listener?.active ?? true
    const got = await this.#claim(database, queue, options)
    if (got.length > 0 || options.waitMs <= 0 || options.signal.aborted) return got
    const next = await database.maybeOne<{ next: unknown }>(
      this.#q(`select min(run_at) as next from ${this.#jobs} where queue = ? and state = 'waiting'`),
      [queue],
    )
    const nextAt = next?.next == null ? Infinity : Number(next.next)
    const waitMs = Math.min(options.waitMs, Math.max(1, nextAt - this.#ctx.now()))
    await this.#listener?.listening()
    if (!wasListening && this.#listener?.active) return this.#claim(database, queue, options)
    await new Promise<void>((resolve) => {
      let set = this.#waiters.get(queue)
      if (!set) {
        set = new Set()
        this.#waiters.set(queue, set)
      }
      const waiters = set
      const done = (): void => {
        clearTimeout(timer)
        waiters.delete(done)
        options.signal.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, waitMs)
      waiters.add(done)
      options.signal.addEventListener('abort', done, { once: true })
      if ((this.#wakes.get(queue) ?? 0) !== seen) done()
    })
    if (options.signal.aborted || this.#closed) return []
    return this.#claim(database, queue, options)
  }

  async #claim(database: Database, queue: string, options: FetchOptions): Promise<Delivery[]> {
    const now = this.#ctx.now()
    await this.#maintain(database, queue, now)
    const token = randomUUID()
    const lease = now + options.leaseMs
    const set = `state = 'active', attempt = attempt + 1, lease_until = ?, token = ?`
    const ready = `queue = ? and state = 'waiting' and run_at <= ?`
    const order = 'order by priority desc, run_at, seq'
    let rows: Row[]
    if (options.groupLimit !== undefined) {
      rows = await this.#claimFair(database, queue, options, now, lease, token)
    } else if (this.#dialect === 'postgres') {
      rows = (
        await database.query(
          this.#q(
            `update ${this.#jobs} set ${set} where seq in (select seq from ${this.#jobs} where ${ready} ${order} limit ? for update skip locked) returning ${COLUMNS}`,
          ),
          [lease, token, queue, now, options.max],
        )
      ).rows
    } else if (this.#dialect === 'sqlite') {
      rows = (
        await database.query(
          `update ${this.#jobs} set ${set} where seq in (select seq from ${this.#jobs} where ${ready} ${order} limit ?) returning ${COLUMNS}`,
          [lease, token, queue, now, options.max],
        )
      ).rows
    } else {
      rows = await database.transaction(
        async (tx) => {
          const picked = await tx.many<{ seq: unknown }>(
            `select seq from ${this.#jobs} where ${ready} ${order} limit ? for update skip locked`,
            [queue, now, options.max],
          )
          if (picked.length === 0) return []
          const seqs = picked.map((r) => r.seq)
          const marks = seqs.map(() => '?').join(', ')
          await tx.execute(`update ${this.#jobs} set ${set} where seq in (${marks})`, [lease, token, ...seqs])
          return tx.many(`select ${COLUMNS} from ${this.#jobs} where seq in (${marks})`, seqs)
        },
        { retries: 3 },
      )
    }
    return sortRows(rows).map(toDelivery)
  }

  // Fair claims rank each group's ready messages (row_number per group) and take rank 1 of
  // every group before rank 2 of any, skipping groups at their limit. A window query cannot
  // lock rows, so the claim of one queue is serialized: an advisory lock on PostgreSQL, a named
  // lock on MariaDB; SQLite runs the one statement atomically anyway.
  async #claimFair(
    database: Database,
    queue: string,
    options: FetchOptions,
    now: number,
    lease: number,
    token: string,
  ): Promise<Row[]> {
    const limit = options.groupLimit as number
    const pick = `
      select seq from (
        select j.seq, j.group_key, j.priority, j.run_at,
               row_number() over (partition by j.group_key order by j.priority desc, j.run_at, j.seq) as rn
        from ${this.#jobs} j where j.queue = ? and j.state = 'waiting' and j.run_at <= ?
      ) r
      left join (select group_key as g, count(*) as busy from ${this.#jobs} where queue = ? and state = 'active' and group_key is not null group by group_key) a
        on a.g = r.group_key
      where r.group_key is null or r.rn + coalesce(a.busy, 0) <= ?
      order by r.rn, r.priority desc, r.run_at, r.seq
      limit ?`
    const params = [queue, now, queue, limit, options.max]
    const set = `state = 'active', attempt = attempt + 1, lease_until = ?, token = ?`
    if (this.#dialect === 'sqlite') {
      return (
        await database.query(
          `update ${this.#jobs} set ${set} where seq in (select seq from (${pick})) returning ${COLUMNS}`,
          [lease, token, ...params],
        )
      ).rows
    }
    return database.transaction(
      async (tx) => {
        if (this.#dialect === 'postgres')
          await tx.query(`select pg_advisory_xact_lock(hashtext($1))`, [`${this.#table}:${queue}`])
        else await tx.query(`select get_lock(?, 10)`, [`${this.#table}:${queue}`.slice(0, 64)])
        try {
          const seqs = (await tx.many<{ seq: unknown }>(this.#q(pick), params)).map((r) => r.seq)
          if (seqs.length === 0) return []
          const marks = seqs.map(() => '?').join(', ')
          if (this.#dialect === 'postgres') {
            return (
              await tx.query(this.#q(`update ${this.#jobs} set ${set} where seq in (${marks}) returning ${COLUMNS}`), [
                lease,
                token,
                ...seqs,
              ])
            ).rows
          }
          await tx.execute(`update ${this.#jobs} set ${set} where seq in (${marks})`, [lease, token, ...seqs])
          return tx.many(`select ${COLUMNS} from ${this.#jobs} where seq in (${marks})`, seqs)
        } finally {
          if (this.#dialect === 'mysql')
            await tx.query(`select release_lock(?)`, [`${this.#table}:${queue}`.slice(0, 64)])
        }
      },
      { retries: 3 },
    )
  }

  /** `(token = ? and id in (...)) or ...`: deliveries of one fetch share a token. */
  #held(deliveries: readonly Delivery[]): { where: string; values: unknown[] } {
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

  async complete(queue: string, deliveries: readonly Delivery[]): Promise<void> {
    if (deliveries.length === 0) return
    const database = await this.#database()
    const held = this.#held(deliveries)
    await database.execute(
      this.#q(
        `update ${this.#jobs} set state = 'completed', finished_at = ?, dedupe_key = null, token = null, lease_until = null
         where queue = ? and state = 'active' and ${held.where}`,
      ),
      [this.#ctx.now(), queue, ...held.values],
    )
  }

  async fail(queue: string, d: Delivery, failure: Failure): Promise<void> {
    const database = await this.#database()
    const where = `where queue = ? and id = ? and token = ? and state = 'active'`
    if (failure.kind === 'retry') {
      await database.execute(
        this.#q(
          `update ${this.#jobs} set state = 'waiting', run_at = ?, last_error = ?, token = null, lease_until = null ${where}`,
        ),
        [failure.runAt, failure.error, queue, d.id, d.token],
      )
      if (failure.runAt <= this.#ctx.now()) this.#wake(queue)
      return
    }
    const state = failure.kind === 'dead' ? 'dead' : 'cancelled'
    await database.execute(
      this.#q(
        `update ${this.#jobs} set state = ?, dead_reason = ?, last_error = ?, finished_at = ?, dedupe_key = null, token = null, lease_until = null ${where}`,
      ),
      [state, failure.kind === 'dead' ? failure.reason : null, failure.error, this.#ctx.now(), queue, d.id, d.token],
    )
  }

  async release(queue: string, deliveries: readonly Delivery[]): Promise<void> {
    if (deliveries.length === 0) return
    const database = await this.#database()
    const held = this.#held(deliveries)
    await database.execute(
      this.#q(
        `update ${this.#jobs} set state = 'waiting', attempt = attempt - 1, token = null, lease_until = null
         where queue = ? and state = 'active' and ${held.where}`,
      ),
      [queue, ...held.values],
    )
    this.#wake(queue)
  }

  async renew(queue: string, deliveries: readonly Delivery[], leaseMs: number): Promise<RenewResult> {
    const result: RenewResult = { cancelled: [], lost: [] }
    if (deliveries.length === 0) return result
    const database = await this.#database()
    const held = this.#held(deliveries)
    const update = this.#q(
      `update ${this.#jobs} set lease_until = ? where queue = ? and state = 'active' and ${held.where}`,
    )
    const params = [this.#ctx.now() + leaseMs, queue, ...held.values]
    let rows: Row[]
    if (this.#dialect === 'mysql') {
      await database.execute(update, params)
      rows = await database.many(
        `select id, cancel_requested from ${this.#jobs} where queue = ? and state = 'active' and ${held.where}`,
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
    const removed = await database.execute(
      this.#q(
        `update ${this.#jobs} set state = 'cancelled', finished_at = ?, dedupe_key = null where queue = ? and id = ? and state = 'waiting'`,
      ),
      [this.#ctx.now(), queue, id],
    )
    if (removed.affectedRows > 0) return 'removed'
    const flagged = await database.execute(
      this.#q(`update ${this.#jobs} set cancel_requested = 1 where queue = ? and id = ? and state = 'active'`),
      [queue, id],
    )
    return flagged.affectedRows > 0 ? 'signalled' : 'none'
  }

  async counts(queue: string): Promise<QueueCounts> {
    const database = await this.#database()
    const now = this.#ctx.now()
    const rows = await database.many<{ state: string; later: unknown; failed: unknown; n: unknown }>(
      this.#q(
        `select state, later, failed, count(*) as n from (
           select state, case when run_at > ? then 1 else 0 end as later, case when last_error is null then 0 else 1 end as failed
           from ${this.#jobs} where queue = ?) s
         group by state, later, failed`,
      ),
      [now, queue],
    )
    const counts: QueueCounts = { waiting: 0, active: 0, delayed: 0, completed: 0, failed: 0, dead: 0 }
    for (const r of rows) {
      const n = Number(r.n)
      if (r.state === 'waiting') {
        if (Number(r.later) === 1) counts.delayed += n
        else counts.waiting += n
        if (Number(r.failed) === 1) counts.failed += n
      } else if (r.state === 'active') counts.active += n
      else if (r.state === 'completed') counts.completed += n
      else if (r.state === 'dead') counts.dead += n
    }
    return counts
  }

  async get(queue: string, id: string): Promise<StoredMessage | undefined> {
    const database = await this.#database()
    const row = await database.maybeOne(this.#q(`select ${COLUMNS} from ${this.#jobs} where queue = ? and id = ?`), [
      queue,
      id,
    ])
    return row ? toStored(row, this.#ctx.now()) : undefined
  }

  async progress(queue: string, d: Delivery, value: string): Promise<void> {
    const database = await this.#database()
    await database.execute(this.#q(`update ${this.#jobs} set progress = ? where queue = ? and id = ? and token = ?`), [
      value,
      queue,
      d.id,
      d.token,
    ])
  }

  async listDead(queue: string, options: { limit: number; offset: number }): Promise<StoredMessage[]> {
    const database = await this.#database()
    const rows = await database.many(
      this.#q(
        `select ${COLUMNS} from ${this.#jobs} where queue = ? and state = 'dead' order by finished_at desc, seq desc limit ? offset ?`,
      ),
      [queue, options.limit, options.offset],
    )
    const now = this.#ctx.now()
    return rows.map((r) => toStored(r, now))
  }

  #which(ids: readonly string[] | 'all'): { where: string; values: unknown[] } {
    if (ids === 'all') return { where: '', values: [] }
    return { where: ` and id in (${ids.map(() => '?').join(', ')})`, values: [...ids] }
  }

  async replayDead(queue: string, ids: readonly string[] | 'all'): Promise<number> {
    if (ids !== 'all' && ids.length === 0) return 0
    const database = await this.#database()
    const w = this.#which(ids)
    const r = await database.execute(
      this.#q(
        `update ${this.#jobs} set state = 'waiting', attempt = 0, run_at = ?, dead_reason = null, finished_at = null, cancel_requested = 0, token = null
         where queue = ? and state = 'dead'${w.where}`,
      ),
      [this.#ctx.now(), queue, ...w.values],
    )
    this.#wake(queue)
    return r.affectedRows
  }

  async purgeDead(queue: string, ids: readonly string[] | 'all'): Promise<number> {
    if (ids !== 'all' && ids.length === 0) return 0
    const database = await this.#database()
    const w = this.#which(ids)
    const r = await database.execute(
      this.#q(`delete from ${this.#jobs} where queue = ? and state = 'dead'${w.where}`),
      [queue, ...w.values],
    )
    return r.affectedRows
  }

  async queues(): Promise<string[]> {
    const database = await this.#database()
    return (await database.many<{ queue: string }>(`select distinct queue from ${this.#jobs}`)).map((r) =>
      String(r.queue),
    )
  }

  async ping(): Promise<void> {
    const database = await this.#database()
    await database.ping()
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const set of this.#waiters.values()) for (const w of set) w()
    await this.#listener?.close()
    const database = this.#db ?? (await this.#opening?.catch(() => undefined))
    if (this.#ownsDb) await database?.close()
  }
}

function text(v: unknown): string | undefined {
  return v === null || v === undefined ? undefined : String(v)
}

function toDelivery(r: Row): Delivery {
  return {
    id: String(r.id),
    queue: String(r.queue),
    payload: String(r.payload),
    headers: r.headers == null ? {} : (JSON.parse(String(r.headers)) as Record<string, string>),
    priority: Number(r.priority),
    runAt: Number(r.run_at),
    maxAttempts: Number(r.max_attempts),
    backoffBaseMs: Number(r.backoff_base),
    backoffMaxMs: Number(r.backoff_max),
    timeoutMs: Number(r.timeout_ms),
    group: text(r.group_key),
    dedupeKey: text(r.dedupe_key),
    createdAt: Number(r.created_at),
    attempt: Number(r.attempt),
    token: String(r.token),
    lastError: text(r.last_error),
  }
}

// RETURNING gives rows in no promised order: hand them out in claim order.
function sortRows(rows: Row[]): Row[] {
  return rows.sort(
    (a, b) =>
      Number(b.priority) - Number(a.priority) || Number(a.run_at) - Number(b.run_at) || Number(a.seq) - Number(b.seq),
  )
}

function toStored(r: Row, now: number): StoredMessage {
  const d = toDelivery(r)
  const raw = String(r.state)
  const state = raw === 'waiting' && d.runAt > now ? 'delayed' : (raw as StoredMessage['state'])
  return {
    ...d,
    state,
    attempt: d.attempt,
    lastError: d.lastError,
    deadReason: text(r.dead_reason),
    finishedAt: r.finished_at == null ? undefined : Number(r.finished_at),
    progress: text(r.progress),
  }
}
