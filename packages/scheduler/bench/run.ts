// Benchmark of @beaver-kit/scheduler on the kit's harness (@beaver-kit/testkit/bench):
//   claims:  leases taken per second per store: one claim() per new occurrence, which is what
//            every instance does for every due occurrence (memory, SQLite file, PostgreSQL,
//            MariaDB, Redis), 8 in flight on the network stores; the floor is the bare statement
//            a claim needs at least on that store (INSERT … ON CONFLICT DO NOTHING, SET NX)
//   lag:     1,000 every-second schedules in one process for the measured window: handler start
//            minus due time (p50/p99), the kit (memory store) against croner's own timer with
//            1,000 jobs of the same expression; runs/s is how many handlers ran per second
// Run: npm run bench -w @beaver-kit/scheduler   (BENCH_QUICK=1 for a smoke run that writes nothing)
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Cron } from 'croner'
import { Redis } from 'ioredis'
import { createDatabase, sql, type Database } from '@beaver-kit/database'
import { isQuick, runBench, type BenchContender, type Measurement } from '@beaver-kit/testkit/bench'
import { createScheduler, type SchedulerStore } from '@beaver-kit/scheduler'
import { MemoryStore } from '@beaver-kit/scheduler/memory'
import { RedisStore } from '@beaver-kit/scheduler/redis'
import { SqlStore } from '@beaver-kit/scheduler/sql'

const PG = process.env.BEAVER_TEST_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/test'
const MY = process.env.BEAVER_TEST_MYSQL_URL || 'mysql://root@127.0.0.1:3306/test'
const REDIS = process.env.BEAVER_TEST_REDIS_URL || 'redis://127.0.0.1:6379'
const SCHEDULES = 1_000
const tag = `b${process.pid}`
const table = `bench_sched_${tag}`
const dir = mkdtempSync(join(tmpdir(), 'beaver-sched-bench-'))

let slot = 0
const claim = (store: SchedulerStore) => () => {
  const now = Date.now()
  return store.claim({
    schedule: 'bench',
    slot: String(slot++),
    dueAt: now,
    trigger: 'scheduled',
    instance: 'bench',
    now,
    leaseMs: 30_000,
  })
}

const databases: Array<{ db: Database; dialect: 'sqlite' | 'postgres' | 'mysql' }> = [
  { db: createDatabase({ envPrefix: false, url: `sqlite:${join(dir, 'bench.db')}` }), dialect: 'sqlite' },
  { db: createDatabase({ envPrefix: false, url: PG }), dialect: 'postgres' },
  { db: createDatabase({ envPrefix: false, url: MY }), dialect: 'mysql' },
]
const memory = new MemoryStore()
const sqlStores = databases.map(({ db, dialect }) => ({
  dialect,
  db,
  store: new SqlStore(dialect, { database: db, table }, { namespace: tag }),
}))
const redisStore = new RedisStore({ url: REDIS, prefix: `bench-sched-${tag}` }, { namespace: tag })
const redis = new Redis(REDIS)
for (const s of [memory, ...sqlStores.map((x) => x.store), redisStore]) await s.register('bench', Date.now())
for (const { db, dialect } of sqlStores) {
  const key = dialect === 'mysql' ? 'slot varchar(64) primary key' : 'slot text primary key'
  await db.execute(sql.raw(`create table ${table}_floor (${key}, due bigint not null)`))
}
const floorInsert = (db: Database, dialect: string) => () =>
  db.execute(
    dialect === 'mysql'
      ? sql`insert ignore into ${sql.id(`${table}_floor`)} (slot, due) values (${String(slot++)}, ${Date.now()})`
      : sql`insert into ${sql.id(`${table}_floor`)} (slot, due) values (${String(slot++)}, ${Date.now()}) on conflict do nothing`,
  )

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0
}

/** Lags (ms) of every handler start over the window, after a warm-up; ops/s = runs per second. */
async function lagOf(
  start: (onRun: (lagMs: number) => void) => () => Promise<void>,
  window: { warmMs: number; measureMs: number },
): Promise<Measurement> {
  const lags: number[] = []
  let measuring = false
  const stop = start((lag) => {
    if (measuring) lags.push(lag)
  })
  // Whole seconds, so every window holds the same number of occurrences.
  const warm = Math.max(1_000, Math.ceil(window.warmMs / 1_000) * 1_000)
  const measure = Math.max(2_000, Math.ceil(window.measureMs / 1_000) * 1_000)
  await new Promise((r) => setTimeout(r, warm))
  measuring = true
  await new Promise((r) => setTimeout(r, measure))
  measuring = false
  await stop()
  lags.sort((a, b) => a - b)
  return { opsPerSec: lags.length / (measure / 1_000), p50Ms: percentile(lags, 50), p99Ms: percentile(lags, 99) }
}

const kitLag: BenchContender = {
  contender: 'beaver-kit',
  measure: (window) =>
    lagOf((onRun) => {
      const s = createScheduler({ envPrefix: false, store: new MemoryStore(), instance: 'bench' })
      for (let i = 0; i < SCHEDULES; i++)
        s.schedule(`job-${i}`, '* * * * * *', ({ dueAt }) => onRun(Date.now() - dueAt.getTime()))
      return () => s.close()
    }, window),
}
const cronerLag: BenchContender = {
  contender: 'croner',
  measure: (window) =>
    lagOf((onRun) => {
      // croner's callback for the occurrence of second S runs at S + lag (lag < 1 s), so the
      // due time is the whole second before now.
      const jobs = Array.from({ length: SCHEDULES }, () => new Cron('* * * * * *', () => onRun(Date.now() % 1_000)))
      return async () => {
        for (const j of jobs) j.stop()
      }
    }, window),
}

const network = (name: string) => ({ concurrency: 8, latency: true, name })
try {
  await runBench({
    package: 'scheduler',
    url: import.meta.url,
    rounds: isQuick() ? 1 : 5,
    cases: [
      { name: 'claim an occurrence, memory', contenders: [{ contender: 'beaver-kit', fn: claim(memory) }] },
      ...sqlStores.map(({ dialect, db, store }) => ({
        ...network(`claim an occurrence, ${dialect === 'mysql' ? 'mariadb' : dialect}, 8 in flight`),
        contenders: [
          { contender: 'beaver-kit', fn: claim(store) },
          { contender: 'floor', fn: floorInsert(db, dialect) },
        ],
      })),
      {
        ...network('claim an occurrence, redis, 8 in flight'),
        contenders: [
          { contender: 'beaver-kit', fn: claim(redisStore) },
          { contender: 'floor', fn: () => redis.set(`bench-sched-${tag}:floor:${slot++}`, '1', 'PX', 30_000, 'NX') },
        ],
      },
      {
        name: `handler start lag, ${SCHEDULES.toLocaleString('en')} every-second schedules`,
        contenders: [kitLag, cronerLag],
      },
    ],
    notes: [
      'Claims: one claim() per new occurrence (the atomic exists-or-create that makes a fleet run it once, plus the fencing token and the history row); floor: the bare conditional insert (SQL) or SET NX PX (Redis) a claim needs at least, on the same connection.',
      `Lag: handler start minus due time over ${SCHEDULES.toLocaleString('en')} schedules of "* * * * * *" in one process; the ops/s column is handler runs per second (${SCHEDULES.toLocaleString('en')} when every occurrence ran). The kit's due time is the occurrence's dueAt; croner's, the whole second before the callback.`,
      'The database and Redis servers run on the same 2 vCPUs as the bench.',
    ],
  })
} finally {
  for (const { db } of sqlStores) {
    for (const t of ['floor', 'runs', 'control', 'migrations', 'tokens'])
      await db.execute(sql.raw(`drop table if exists ${table}_${t}`)).catch(() => undefined)
    await db.close()
  }
  await Promise.all([memory.close(), redisStore.close()])
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `bench-sched-${tag}*`, 'COUNT', 1000)
    cursor = next
    if (keys.length > 0) await redis.del(...keys)
  } while (cursor !== '0')
  await redis.quit()
  rmSync(dir, { recursive: true, force: true })
}
