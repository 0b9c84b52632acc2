import type { InstanceDescription } from '@beaver-kit/config'
import type { Cache } from '@beaver-kit/cache'
import { sql, type Database } from '@beaver-kit/database'
import type { Logger } from '@beaver-kit/logger'
import { createScheduler, every, type RunRecord, type Scheduler } from '@beaver-kit/scheduler'

/** One day's numbers, as GET /jobs shows the latest. */
export interface LinkStats {
  day: string
  links: number
  hits: number
  created: number
  computedAt: string
}

/** What GET /jobs answers: each schedule's next runs and latest history, and the latest stats. */
export interface JobsReport {
  store: string
  schedules: Array<{ name: string; next: string[]; history: RunRecord[] }>
  stats: LinkStats | null
  /** Expired cache entries the latest purge removed. */
  purged: number | null
}

export interface Jobs {
  readonly scheduler: Scheduler
  report(): Promise<JobsReport>
  describe(): InstanceDescription
  close(): Promise<void>
}

export const PURGE = 'purge-expired-cache'
export const DAILY_STATS = 'daily-link-stats'
const DAY_MS = 86_400_000

/**
 * The demo's scheduled jobs, on the demo's own database (so every instance of the demo shares
 * one claim per occurrence and one history; BEAVER_SCHEDULER_STORE names another store):
 * - every 5 minutes, the cache's expired entries (codes remembered as not found, links past
 *   their TTL) are purged, which the memory and database drivers otherwise keep until a sweep;
 * - at 03:00 UTC, the day before's link statistics are computed into `link_stats`.
 */
export function startJobs(options: {
  db: Database
  cache: Cache
  log: Logger
  env?: NodeJS.ProcessEnv | undefined
}): Jobs {
  const { db, cache, log } = options
  const env = options.env ?? process.env
  const scheduler = createScheduler({
    ...(env.BEAVER_SCHEDULER_STORE === undefined
      ? { store: db.dialect, db: { database: db, table: 'beaver_links_scheduler' } }
      : {}),
    ...(options.env ? { env: options.env } : {}),
    namespace: 'demo',
    missed: 'once',
  })
  let purged: number | null = null
  scheduler.schedule(PURGE, every('5m'), async ({ signal }) => {
    purged = await cache.purgeExpired({ signal })
    if (purged > 0) log.info({ purged }, 'expired cache entries purged')
  })
  scheduler.schedule(
    DAILY_STATS,
    every(1).day().at('03:00'),
    async ({ dueAt }) => {
      const stats = await computeStats(db, dueAt.getTime())
      log.info({ ...stats }, 'daily link stats')
    },
    { timezone: 'UTC' },
  )
  return {
    scheduler,
    async report() {
      const names = scheduler.names()
      const schedules = await Promise.all(
        names.map(async (name) => ({
          name,
          next: scheduler.nextRuns(name, 2).map((d) => d.toISOString()),
          history: await scheduler.history(name, { limit: 10 }),
        })),
      )
      return { store: scheduler.store, schedules, stats: await latestStats(db), purged }
    },
    describe: () => scheduler.describe(),
    close: () => scheduler.close(),
  }
}

/** The statistics of the UTC day before `at`, written (or rewritten) in one transaction. */
export async function computeStats(db: Database, at: number): Promise<LinkStats> {
  const end = at - (at % DAY_MS)
  const day = new Date(end - DAY_MS).toISOString().slice(0, 10)
  return db.transaction(async (tx) => {
    const row = await tx.one<{ links: unknown; hits: unknown; created: unknown }>(
      sql`SELECT COUNT(*) AS links, COALESCE(SUM(hits), 0) AS hits,
        COALESCE(SUM(CASE WHEN created_at >= ${end - DAY_MS} AND created_at < ${end} THEN 1 ELSE 0 END), 0) AS created
        FROM links WHERE created_at < ${end}`,
    )
    const stats = { day, links: Number(row.links), hits: Number(row.hits), created: Number(row.created) }
    const now = Date.now()
    await tx.execute(sql`DELETE FROM link_stats WHERE day = ${day}`)
    await tx.execute(
      sql`INSERT INTO link_stats (day, links, hits, created, computed_at) VALUES (${day}, ${stats.links}, ${stats.hits}, ${stats.created}, ${now})`,
    )
    return { ...stats, computedAt: new Date(now).toISOString() }
  })
}

async function latestStats(db: Database): Promise<LinkStats | null> {
  const row = await db.maybeOne<Record<string, unknown>>(
    sql`SELECT day, links, hits, created, computed_at FROM link_stats ORDER BY day DESC LIMIT 1`,
  )
  if (!row) return null
  return {
    day: String(row.day),
    links: Number(row.links),
    hits: Number(row.hits),
    created: Number(row.created),
    computedAt: new Date(Number(row.computed_at)).toISOString(),
  }
}
