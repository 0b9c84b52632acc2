// Side-by-side benchmark of @beaver-kit/queue: the redis driver against BullMQ and the raw
// XADD/XREADGROUP/XACK floor on the same Redis, the postgres driver against pg-boss and the raw
// INSERT / DELETE ... SKIP LOCKED floor on the same PostgreSQL. Enqueue (single, batch of 100),
// process (concurrency 1 and 50, empty handler), enqueue-to-start latency at low load, and the
// memory 100k waiting jobs take in Redis.
import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { Queue as BullQueue, Worker as BullWorker } from 'bullmq'
import { Redis } from 'ioredis'
import pg from 'pg'
import { PgBoss } from 'pg-boss'
import { runBench, isQuick, type BenchCase, type Measurement } from '@beaver-kit/testkit/bench'
import { createQueue, type Queue } from '@beaver-kit/queue'

const REDIS = process.env.BEAVER_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const PG = process.env.BEAVER_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const quick = isQuick()
const BACKLOG = quick ? 2000 : 20_000
const LATENCY_SAMPLES = quick ? 30 : 200
// A drain stops at this deadline and reports what it did.
const DRAIN_DEADLINE_MS = quick ? 3000 : 10_000
const payload = { to: 'ada@example.com', n: 1 }
const run = randomUUID().slice(0, 8)
const name = (what: string): string => `bench_${run}_${what}`

const redis = new Redis(REDIS)
const pool = new pg.Pool({ connectionString: PG, max: 10 })
const closers: Array<() => Promise<unknown>> = []

// ---- the kit ---------------------------------------------------------------------------------
function kit(driver: 'redis' | 'postgres', ns: string): Queue {
  const q = createQueue({
    driver,
    envPrefix: false,
    namespace: ns,
    keepCompletedMax: 1000,
    ...(driver === 'redis' ? { redis: { url: REDIS } } : { db: { url: PG } }),
  })
  closers.push(() => q.close())
  return q
}

/** Processes a pre-filled backlog and reports jobs/s. */
async function processKit(q: Queue, queue: string, concurrency: number): Promise<Measurement> {
  await q.publishBatch(
    queue,
    Array.from({ length: BACKLOG }, () => ({ payload })),
  )
  let done = 0
  let finish!: () => void
  const all = new Promise<void>((r) => (finish = r))
  const start = performance.now()
  const c = await q.consume(
    queue,
    () => {
      if (++done === BACKLOG) finish()
    },
    { concurrency },
  )
  await deadline(all)
  const ms = performance.now() - start
  const handled = done
  await c.close()
  return { opsPerSec: (handled * 1000) / ms }
}

/** Enqueue-to-start latency, one message at a time with the consumer idle. */
async function latencyKit(q: Queue, queue: string): Promise<Measurement> {
  let started: (() => void) | undefined
  const c = await q.consume(queue, () => started?.())
  const samples: number[] = []
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const t0 = performance.now()
    const got = new Promise<void>((r) => (started = r))
    await q.publish(queue, payload)
    await got
    samples.push(performance.now() - t0)
    await new Promise((r) => setTimeout(r, 5))
  }
  await c.close()
  return summarize(samples)
}

function deadline(p: Promise<void>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined
  return Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, DRAIN_DEADLINE_MS)))]).finally(() =>
    clearTimeout(timer),
  )
}

function summarize(samples: number[]): Measurement {
  const s = [...samples].sort((a, b) => a - b)
  const at = (q: number): number =>
    Math.round((s[Math.min(s.length - 1, Math.floor(q * s.length))] as number) * 1000) / 1000
  const mean = s.reduce((a, b) => a + b, 0) / s.length
  return { opsPerSec: 1000 / mean, p50Ms: at(0.5), p99Ms: at(0.99) }
}

// ---- BullMQ ----------------------------------------------------------------------------------
const bullConnection = (): Redis => {
  const c = new Redis(REDIS, { maxRetriesPerRequest: null })
  closers.push(async () => c.disconnect())
  return c
}
const bullOpts = { removeOnComplete: { count: 1000 }, removeOnFail: { count: 1000 } }
function bull(queue: string): BullQueue {
  const q = new BullQueue(queue, { connection: bullConnection(), defaultJobOptions: bullOpts })
  closers.push(async () => {
    await q.obliterate({ force: true }).catch(() => undefined)
    await q.close()
  })
  return q
}
async function processBull(queue: string, concurrency: number): Promise<Measurement> {
  const q = bull(queue)
  await q.addBulk(Array.from({ length: BACKLOG }, () => ({ name: 'j', data: payload })))
  let done = 0
  let finish!: () => void
  const all = new Promise<void>((r) => (finish = r))
  const start = performance.now()
  const w = new BullWorker(
    queue,
    async () => {
      if (++done === BACKLOG) finish()
    },
    { connection: bullConnection(), concurrency },
  )
  await deadline(all)
  const ms = performance.now() - start
  const handled = done
  await w.close(true)
  return { opsPerSec: (handled * 1000) / ms }
}

// ---- raw Redis floor: XADD / XREADGROUP / XACK ------------------------------------------------
async function processRedisFloor(stream: string, batch: number): Promise<Measurement> {
  const pipe = redis.pipeline()
  for (let i = 0; i < BACKLOG; i++) pipe.xadd(stream, '*', 'p', JSON.stringify(payload))
  await pipe.exec()
  await redis.xgroup('CREATE', stream, 'g', '0')
  const reader = redis.duplicate()
  let done = 0
  const start = performance.now()
  while (done < BACKLOG) {
    const res = (await reader.xreadgroup('GROUP', 'g', 'c', 'COUNT', batch, 'STREAMS', stream, '>')) as Array<
      [string, Array<[string, string[]]>]
    > | null
    const entries = res?.[0]?.[1] ?? []
    if (entries.length === 0) continue
    for (const [, fields] of entries) JSON.parse(fields[1] as string)
    await reader.xack(stream, 'g', ...entries.map(([id]) => id))
    done += entries.length
  }
  const ms = performance.now() - start
  reader.disconnect()
  await redis.del(stream)
  return { opsPerSec: (BACKLOG * 1000) / ms }
}

// ---- pg-boss ----------------------------------------------------------------------------------
const boss = new PgBoss({ connectionString: PG, schema: `pgboss_bench`, max: 10, useListenNotify: true })
boss.on('error', () => undefined)
async function bossQueue(queue: string): Promise<string> {
  await boss.createQueue(queue, { notify: true })
  closers.push(() => boss.deleteQueue(queue).catch(() => undefined))
  return queue
}
async function processBoss(queue: string, concurrency: number): Promise<Measurement> {
  await bossQueue(queue)
  for (let i = 0; i < BACKLOG; i += 1000) {
    await boss.insert(
      queue,
      Array.from({ length: Math.min(1000, BACKLOG - i) }, () => ({ data: payload })),
    )
  }
  let done = 0
  if (concurrency === 1) {
    // One job at a time, as fast as pg-boss hands them out: its own fetch() and complete().
    // work() at batchSize 1 waits for its polling interval (with notify: its 30 s backstop)
    // between fetches, burstWhenBatchFull is ignored at batchSize 1, and burstWhenReadyExceeds
    // waits for the queue's ready count, which its maintenance refreshes: on a backlog that
    // was there before the worker started, it took 2 jobs in 5 s here.
    const start = performance.now()
    while (done < BACKLOG && performance.now() - start < DRAIN_DEADLINE_MS) {
      const jobs = await boss.fetch(queue, { batchSize: 1 })
      const job = jobs[0]
      if (job === undefined) break
      await boss.complete(queue, job.id)
      done++
    }
    return { opsPerSec: (done * 1000) / (performance.now() - start) }
  }
  let finish!: () => void
  const all = new Promise<void>((r) => (finish = r))
  const start = performance.now()
  const id = await boss.work(
    queue,
    { batchSize: 50, pollingIntervalSeconds: 0.5, burstWhenBatchFull: true },
    async (jobs) => {
      done += jobs.length
      if (done >= BACKLOG) finish()
    },
  )
  await deadline(all)
  const ms = performance.now() - start
  const handled = done
  await boss.offWork(queue, { id })
  return { opsPerSec: (handled * 1000) / ms }
}
async function latencyBoss(queue: string): Promise<Measurement> {
  await bossQueue(queue)
  let started: (() => void) | undefined
  const id = await boss.work(queue, { pollingIntervalSeconds: 0.5 }, async () => started?.())
  await new Promise((r) => setTimeout(r, 500))
  const samples: number[] = []
  for (let i = 0; i < Math.min(LATENCY_SAMPLES, 50); i++) {
    const t0 = performance.now()
    const got = new Promise<void>((r) => (started = r))
    await boss.send(queue, payload)
    await got
    samples.push(performance.now() - t0)
  }
  await boss.offWork(queue, { id })
  return summarize(samples)
}

// ---- raw PostgreSQL floor: INSERT / DELETE ... FOR UPDATE SKIP LOCKED --------------------------
const floorTable = name('floor')
async function processPgFloor(batch: number): Promise<Measurement> {
  await pool.query(`truncate ${floorTable}`)
  for (let i = 0; i < BACKLOG; i += 1000) {
    const n = Math.min(1000, BACKLOG - i)
    await pool.query(`insert into ${floorTable} (payload) select $1 from generate_series(1, ${n})`, [
      JSON.stringify(payload),
    ])
  }
  let done = 0
  const start = performance.now()
  while (done < BACKLOG) {
    const r = await pool.query(
      `delete from ${floorTable} where id in (select id from ${floorTable} order by id limit $1 for update skip locked) returning payload`,
      [batch],
    )
    for (const row of r.rows) JSON.parse(row.payload as string)
    done += r.rowCount ?? 0
  }
  return { opsPerSec: (BACKLOG * 1000) / (performance.now() - start) }
}

// ---- cases -------------------------------------------------------------------------------------
await pool.query(`create table if not exists ${floorTable} (id bigserial primary key, payload text not null)`)
closers.push(() => pool.query(`drop table if exists ${floorTable}`))
await boss.start()
closers.push(() => boss.stop({ graceful: false }))

const kr = kit('redis', name('kr'))
const kp = kit('postgres', name('kp'))
// The enqueue cases leave their messages behind (nothing consumes them): the table is shared.
closers.push(() => pool.query(`delete from beaver_queue_jobs where queue like $1`, [`${name('kp')}/%`]))
await kr.ready()
await kp.ready()
const bq = bull(name('bull'))
await bossQueue(name('boss'))
const batch100 = Array.from({ length: 100 }, () => ({ payload }))
const bossBatch = Array.from({ length: 100 }, () => ({ data: payload }))
const stream = name('stream')
let seq = 0
const fresh = (what: string): string => `${name(what)}_${++seq}`

const cases: BenchCase[] = [
  {
    name: 'redis: enqueue one',
    contenders: [
      { contender: 'beaver-kit', fn: () => kr.publish('enq', payload) },
      { contender: 'bullmq', fn: () => bq.add('j', payload) },
      { contender: 'floor', fn: () => redis.xadd(stream, '*', 'p', JSON.stringify(payload)) },
    ],
  },
  {
    name: 'redis: enqueue batch of 100',
    opsPerCall: 100,
    contenders: [
      { contender: 'beaver-kit', fn: () => kr.publishBatch('enqb', batch100) },
      { contender: 'bullmq', fn: () => bq.addBulk(batch100.map((b) => ({ name: 'j', data: b.payload }))) },
      {
        contender: 'floor',
        fn: () => {
          const p = redis.pipeline()
          for (let i = 0; i < 100; i++) p.xadd(stream, '*', 'p', JSON.stringify(payload))
          return p.exec()
        },
      },
    ],
  },
  ...[1, 50].map((c): BenchCase => ({
    name: `redis: process, concurrency ${c}`,
    contenders: [
      { contender: 'beaver-kit', measure: () => processKit(kr, fresh('p'), c) },
      { contender: 'bullmq', measure: () => processBull(fresh('bp'), c) },
      { contender: 'floor', measure: () => processRedisFloor(fresh('fs'), c) },
    ],
  })),
  {
    name: 'postgres: enqueue one',
    contenders: [
      { contender: 'beaver-kit', fn: () => kp.publish('enq', payload) },
      { contender: 'pg-boss', fn: () => boss.send(name('boss'), payload) },
      {
        contender: 'floor',
        fn: () => pool.query(`insert into ${floorTable} (payload) values ($1)`, [JSON.stringify(payload)]),
      },
    ],
  },
  {
    name: 'postgres: enqueue batch of 100',
    opsPerCall: 100,
    contenders: [
      { contender: 'beaver-kit', fn: () => kp.publishBatch('enqb', batch100) },
      { contender: 'pg-boss', fn: () => boss.insert(name('boss'), bossBatch) },
      {
        contender: 'floor',
        fn: () =>
          pool.query(`insert into ${floorTable} (payload) select $1 from generate_series(1, 100)`, [
            JSON.stringify(payload),
          ]),
      },
    ],
  },
  ...[1, 50].map((c): BenchCase => ({
    name: `postgres: process, concurrency ${c}`,
    contenders: [
      { contender: 'beaver-kit', measure: () => processKit(kp, fresh('p'), c) },
      { contender: 'pg-boss', measure: () => processBoss(fresh('bp'), c) },
      { contender: 'floor', measure: () => processPgFloor(c) },
    ],
  })),
  {
    name: 'postgres: enqueue-to-start latency',
    contenders: [
      { contender: 'beaver-kit', measure: () => latencyKit(kp, fresh('lat')) },
      { contender: 'pg-boss', measure: () => latencyBoss(fresh('blat')) },
    ],
  },
  {
    name: 'redis: enqueue-to-start latency',
    contenders: [{ contender: 'beaver-kit', measure: () => latencyKit(kr, fresh('lat')) }],
  },
]

async function memoryPer100k(): Promise<number> {
  const n = quick ? 10_000 : 100_000
  const q = kit('redis', name('mem'))
  const before = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1])
  for (let i = 0; i < n; i += 1000)
    await q.publishBatch(
      'mem',
      Array.from({ length: 1000 }, () => ({ payload })),
    )
  const after = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1])
  const keys = await redis.keys(`bq:{${name('mem')}/mem}:*`)
  for (let i = 0; i < keys.length; i += 1000) await redis.unlink(...keys.slice(i, i + 1000))
  return ((after - before) * 100_000) / n
}

/** Bytes the jobs table (heap, TOAST and indexes) grows by per 100k waiting jobs, on a table of its own. */
async function postgresBytesPer100k(): Promise<number> {
  const n = quick ? 10_000 : 100_000
  const table = `bench_${run}_size`
  const q = createQueue({ driver: 'postgres', envPrefix: false, namespace: name('size'), db: { url: PG, table } })
  try {
    await q.ready()
    const size = async (): Promise<number> =>
      Number((await pool.query(`select pg_total_relation_size($1) as bytes`, [`${table}_jobs`])).rows[0].bytes)
    const before = await size()
    for (let i = 0; i < n; i += 1000)
      await q.publishBatch(
        'size',
        Array.from({ length: 1000 }, () => ({ payload })),
      )
    return ((await size()) - before) * (100_000 / n)
  } finally {
    await q.close()
    for (const t of ['jobs', 'topics', 'migrations']) await pool.query(`drop table if exists ${table}_${t}`)
  }
}

const memBytes = await memoryPer100k()
const pgBytes = await postgresBytesPer100k()
try {
  await runBench({
    package: 'queue',
    url: import.meta.url,
    rounds: 3,
    cases,
    goals: [
      { goal: 'redis enqueue ≥ 1.0x BullMQ', case: 'redis: enqueue one', over: 'bullmq', target: 1 },
      { goal: 'redis batch enqueue ≥ 1.0x BullMQ', case: 'redis: enqueue batch of 100', over: 'bullmq', target: 1 },
      { goal: 'redis process c=1 ≥ 1.0x BullMQ', case: 'redis: process, concurrency 1', over: 'bullmq', target: 1 },
      { goal: 'redis process c=50 ≥ 1.0x BullMQ', case: 'redis: process, concurrency 50', over: 'bullmq', target: 1 },
      { goal: 'postgres enqueue ≥ 1.5x pg-boss', case: 'postgres: enqueue one', over: 'pg-boss', target: 1.5 },
      {
        goal: 'postgres batch enqueue ≥ 1.5x pg-boss',
        case: 'postgres: enqueue batch of 100',
        over: 'pg-boss',
        target: 1.5,
      },
      {
        goal: 'postgres process c=1 ≥ 1.5x pg-boss',
        case: 'postgres: process, concurrency 1',
        over: 'pg-boss',
        target: 1.5,
      },
      {
        goal: 'postgres process c=50 ≥ 1.5x pg-boss',
        case: 'postgres: process, concurrency 50',
        over: 'pg-boss',
        target: 1.5,
      },
    ],
    extraGoals: (results) => {
      const lat = results.find((r) => r.case === 'postgres: enqueue-to-start latency' && r.contender === 'beaver-kit')
      return [
        {
          goal: 'postgres pickup p50 < 10 ms (LISTEN/NOTIFY)',
          value: lat?.p50Ms ?? NaN,
          target: 10,
          met: (lat?.p50Ms ?? Infinity) < 10,
        },
      ]
    },
    notes: [
      `Redis memory for 100k waiting jobs (payload ${JSON.stringify(payload).length} B JSON): ${(memBytes / 1024 / 1024).toFixed(1)} MiB (${Math.round(memBytes / 100_000)} B per job), from INFO used_memory.`,
      `PostgreSQL storage for 100k waiting jobs (same payload): ${(pgBytes / 1024 / 1024).toFixed(1)} MiB (${Math.round(pgBytes / 100_000)} B per job), the growth of pg_total_relation_size of a jobs table of its own (heap and indexes).`,
      `Process cases drain a backlog of ${BACKLOG} jobs with an empty handler; latency cases publish one message at a time to an idle consumer (ops/s column: 1 / mean latency).`,
      'BullMQ and the kit both keep the last 1,000 completed jobs; pg-boss runs with useListenNotify and a notify queue; at c=1 a loop of its fetch() and complete() (its work() at batchSize 1 waits for its polling interval between jobs), at c=50 work() with batchSize 50 and burstWhenBatchFull.',
    ],
  })
} finally {
  for (const close of closers.reverse()) await close().catch(() => undefined)
  await redis.del(stream)
  redis.disconnect()
  await pool.end()
}
