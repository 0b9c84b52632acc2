// Side-by-side benchmark on the kit's one harness: the kit against the raw driver call (the
// floor) on the same server, pool size, statements and parameters, interleaved over rounds.
// `npm run bench -w @beaver-kit/database` writes bench/results.json; `npm run docs` renders it
// into the README. BENCH_QUICK=1 runs every case briefly and writes nothing.
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { DatabaseSync, type StatementSync } from 'node:sqlite'
import pg from 'pg'
import mysql from 'mysql2/promise'
import { runBench, type BenchCase, type BenchContender, type RatioGoal } from '@beaver-kit/testkit/bench'
import { createDatabase } from '../src/index.ts'

const PG_URL = process.env.BEAVER_TEST_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/test'
const MYSQL_URL = process.env.BEAVER_TEST_MARIADB_URL || 'mysql://root@127.0.0.1:3306/test'
const POOL = 10
const ROWS = 5000
const table = `bench_${process.pid}_${randomBytes(3).toString('hex')}`
const rand = (): number => 1 + Math.floor(Math.random() * ROWS)
const ids = (): number[] => Array.from({ length: 100 }, rand)

/** The three operations every contender of a driver runs. */
interface Workload {
  pkSelect(id: number): Promise<unknown>
  bigSelect(): Promise<unknown>
  transaction(ids: number[]): Promise<unknown>
}

type Db = ReturnType<typeof createDatabase>

function kitWorkload(db: Db, ph: string): Workload {
  const pk = `select id, name, email, score from ${table} where id = ${ph}`
  const big = `select id, name, email, score from ${table} where id <= ${ph}`
  const upd = `update ${table} set score = score + 1 where id = ${ph}`
  return {
    pkSelect: (id) => db.maybeOne(pk, [id]),
    bigSelect: () => db.many(big, [1000]),
    transaction: (list) =>
      db.transaction(async (tx) => {
        for (const id of list) await tx.execute(upd, [id])
      }),
  }
}

async function seed(db: Db): Promise<void> {
  await db.exec(`drop table if exists ${table}`)
  await db.exec(
    `create table ${table} (id integer primary key, name varchar(100) not null, email varchar(200) not null, score integer not null)`,
  )
  await db.transaction(async (tx) => {
    for (let start = 1; start <= ROWS; start += 500) {
      const rows = Array.from({ length: 500 }, (_, i) => start + i)
      const values = rows.map((id) => `(${id}, 'user ${id}', 'user${id}@example.com', ${id % 100})`).join(', ')
      await tx.exec(`insert into ${table} (id, name, email, score) values ${values}`)
    }
  })
}

const KINDS = [
  'primary-key SELECT, 1 in flight',
  'primary-key SELECT, 32 in flight',
  '1,000-row SELECT',
  '100-statement transaction',
] as const

/** The four cases of one driver, each with the kit and the given floors. */
function cases(driver: string, kit: Workload, floors: Array<{ variant?: string; work: Workload }>): BenchCase[] {
  const contenders = (make: (w: Workload) => () => Promise<unknown>): BenchContender[] => [
    { contender: 'beaver-kit', fn: make(kit) },
    ...floors.map((f) => ({ contender: 'floor', ...(f.variant ? { variant: f.variant } : {}), fn: make(f.work) })),
  ]
  const [one, many, big, tx] = KINDS
  return [
    { name: `${driver}: ${one}`, latency: true, contenders: contenders((w) => () => w.pkSelect(rand())) },
    { name: `${driver}: ${many}`, concurrency: 32, contenders: contenders((w) => () => w.pkSelect(rand())) },
    { name: `${driver}: ${big}`, contenders: contenders((w) => () => w.bigSelect()) },
    { name: `${driver}: ${tx}`, contenders: contenders((w) => () => w.transaction(ids())) },
  ]
}

const cleanup: Array<() => Promise<void>> = []

async function sqliteCases(): Promise<BenchCase[]> {
  const file = join(tmpdir(), `${table}.db`)
  const db = createDatabase({ url: `sqlite:${file}`, envPrefix: false })
  await seed(db)
  const raw = new DatabaseSync(file, { timeout: 5000 })
  raw.exec('PRAGMA journal_mode = WAL')
  const prepared = new Map<string, StatementSync>()
  const prep = (text: string): StatementSync => {
    let s = prepared.get(text)
    if (!s) prepared.set(text, (s = raw.prepare(text)))
    return s
  }
  const floor: Workload = {
    pkSelect: async (id) => prep(`select id, name, email, score from ${table} where id = ?`).get(id),
    bigSelect: async () => prep(`select id, name, email, score from ${table} where id <= ?`).all(1000),
    transaction: async (list) => {
      prep('BEGIN IMMEDIATE').run()
      try {
        const s = prep(`update ${table} set score = score + 1 where id = ?`)
        for (const id of list) s.run(id)
        prep('COMMIT').run()
      } catch (err) {
        prep('ROLLBACK').run()
        throw err
      }
    },
  }
  cleanup.push(async () => {
    raw.close()
    await db.close()
    for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true })
  })
  return cases('sqlite', kitWorkload(db, '?'), [{ work: floor }])
}

async function postgresCases(): Promise<BenchCase[]> {
  const db = createDatabase({ url: PG_URL, envPrefix: false, pool: { max: POOL } })
  await seed(db)
  const pool = new pg.Pool({ connectionString: PG_URL, max: POOL, idleTimeoutMillis: 60_000 })
  pool.on('error', () => undefined)
  const floor: Workload = {
    pkSelect: (id) => pool.query(`select id, name, email, score from ${table} where id = $1`, [id]),
    bigSelect: () => pool.query(`select id, name, email, score from ${table} where id <= $1`, [1000]),
    transaction: async (list) => {
      const c = await pool.connect()
      try {
        await c.query('BEGIN')
        for (const id of list) await c.query(`update ${table} set score = score + 1 where id = $1`, [id])
        await c.query('COMMIT')
      } finally {
        c.release()
      }
    },
  }
  cleanup.push(async () => {
    await db.exec(`drop table if exists ${table}`)
    await pool.end()
    await db.close()
  })
  return cases('postgres', kitWorkload(db, '$1'), [{ work: floor }])
}

async function mysqlCases(): Promise<BenchCase[]> {
  const db = createDatabase({ url: MYSQL_URL, envPrefix: false, pool: { max: POOL } })
  await seed(db)
  const u = new URL(MYSQL_URL)
  const pool = mysql.createPool({
    host: u.hostname,
    port: Number(u.port) || 3306,
    user: decodeURIComponent(u.username),
    database: u.pathname.slice(1),
    connectionLimit: POOL,
    supportBigNumbers: true,
    timezone: 'Z',
    charset: 'utf8mb4',
  })
  // Two floors: a server-side prepared statement (`execute`: the value is never SQL text) and
  // mysql2's client-side interpolation (`query`), to show what binding on the server costs or saves.
  const floor = (call: 'execute' | 'query'): Workload => {
    const run = (target: mysql.Pool | mysql.PoolConnection, text: string, values: number[]): Promise<unknown> =>
      call === 'execute' ? target.execute(text, values) : target.query(text, values)
    return {
      pkSelect: (id) => run(pool, `select id, name, email, score from ${table} where id = ?`, [id]),
      bigSelect: () => run(pool, `select id, name, email, score from ${table} where id <= ?`, [1000]),
      transaction: async (list) => {
        const c = await pool.getConnection()
        try {
          await c.query('START TRANSACTION')
          for (const id of list) await run(c, `update ${table} set score = score + 1 where id = ?`, [id])
          await c.query('COMMIT')
        } finally {
          c.release()
        }
      },
    }
  }
  cleanup.push(async () => {
    await db.exec(`drop table if exists ${table}`)
    await pool.end()
    await db.close()
  })
  return cases('mysql (MariaDB)', kitWorkload(db, '?'), [
    { variant: 'execute', work: floor('execute') },
    { variant: 'query', work: floor('query') },
  ])
}

const goals: RatioGoal[] = ['postgres', 'mysql (MariaDB)'].flatMap((driver) =>
  KINDS.map((kind) => ({
    goal: `${driver}: ${kind} ≥ 0.95x the raw driver`,
    case: `${driver}: ${kind}`,
    over: driver === 'postgres' ? 'floor' : { contender: 'floor', variant: 'execute' },
    target: 0.95,
  })),
)

try {
  await runBench({
    package: 'database',
    url: import.meta.url,
    cases: [...(await sqliteCases()), ...(await postgresCases()), ...(await mysqlCases())],
    goals,
    rounds: 7,
    notes: [
      `PostgreSQL 15 and MariaDB 10.11 on the same machine, pool of ${POOL}, a ${ROWS}-row table. The floor is the raw driver call: a pg Pool query, a mysql2 pool call, a node:sqlite statement prepared once.`,
      'MariaDB floor (execute) is a server-side prepared statement, what the kit sends; floor (query) is mysql2 interpolating the values into the SQL text on the client, which the kit no longer does.',
    ],
  })
} finally {
  for (const fn of cleanup) await fn()
}
