// Side-by-side benchmark: the kit against the raw driver on the same connection settings, in
// one process and one run, contenders interleaved A-B-B-A. Prints ops/s and ratios and writes
// bench/results.json. BENCH_QUICK=1 runs each case briefly (a smoke check, not a result).
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { DatabaseSync, type StatementSync } from 'node:sqlite'
import { measure } from 'mitata'
import pg from 'pg'
import mysql from 'mysql2/promise'
import { createDatabase, type Database } from '../src/index.ts'

const QUICK = process.env.BENCH_QUICK === '1'
const PG_URL = process.env.BEAVER_TEST_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/test'
const MYSQL_URL = process.env.BEAVER_TEST_MARIADB_URL || 'mysql://root@127.0.0.1:3306/test'
const POOL = 10
const ROWS = 5000
const table = `bench_${process.pid}_${randomBytes(3).toString('hex')}`

interface Contender {
  name: string
  pkSelect(id: number): Promise<unknown>
  bigSelect(): Promise<unknown>
  transaction(ids: number[]): Promise<unknown>
}

interface Result {
  case: string
  contender: string
  opsPerSec: number
  p99Ms?: number
}

const results: Result[] = []
const rand = (): number => 1 + Math.floor(Math.random() * ROWS)

async function time(fn: () => Promise<unknown>, perIteration: number): Promise<{ ops: number; p99: number }> {
  const stats = await measure(
    fn,
    QUICK ? { min_cpu_time: 30e6, max_samples: 100, warmup_samples: 2 } : { min_cpu_time: 150e6, warmup_samples: 10 },
  )
  return { ops: (1e9 / stats.avg) * perIteration, p99: stats.p99 / 1e6 }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/** Rounds of A-B-B-A per case; the machine is shared, so each round gives a ratio and the median is reported. */
const ROUNDS = QUICK ? 1 : 7

async function compare(driver: string, kit: Contender, raw: Contender): Promise<void> {
  const cases: Array<[string, (c: Contender) => () => Promise<unknown>, number]> = [
    ['primary-key SELECT, 1 in flight', (c) => () => c.pkSelect(rand()), 1],
    [
      'primary-key SELECT, 32 in flight',
      (c) => () => Promise.all(Array.from({ length: 32 }, () => c.pkSelect(rand()))),
      32,
    ],
    ['1,000-row SELECT', (c) => () => c.bigSelect(), 1],
    ['100-statement transaction', (c) => () => c.transaction(Array.from({ length: 100 }, rand)), 1],
  ]
  for (const [name, make, per] of cases) {
    const label = `${driver}: ${name}`
    const kitOps: number[] = []
    const rawOps: number[] = []
    const ratios: number[] = []
    let kitP99 = 0
    let rawP99 = 0
    for (let round = 0; round < ROUNDS; round++) {
      // A-B-B-A: neither contender always runs on a warmer (or less loaded) machine.
      const a1 = await time(make(kit), per)
      const b1 = await time(make(raw), per)
      const b2 = await time(make(raw), per)
      const a2 = await time(make(kit), per)
      const k = (a1.ops + a2.ops) / 2
      const r = (b1.ops + b2.ops) / 2
      kitOps.push(k)
      rawOps.push(r)
      ratios.push(k / r)
      kitP99 = Math.max(kitP99, a1.p99, a2.p99)
      rawP99 = Math.max(rawP99, b1.p99, b2.p99)
    }
    const k = median(kitOps)
    const r = median(rawOps)
    const ratio = median(ratios)
    results.push({ case: label, contender: 'beaver-kit', opsPerSec: Math.round(k), p99Ms: round(kitP99) })
    results.push({ case: label, contender: raw.name, opsPerSec: Math.round(r), p99Ms: round(rawP99) })
    ratioOf[label] = { median: round(ratio), min: round(Math.min(...ratios)), max: round(Math.max(...ratios)) }
    const spread = ROUNDS > 1 ? ` (rounds ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})` : ''
    console.log(
      `${label.padEnd(52)} kit ${fmt(k)} ops/s   ${raw.name.padEnd(11)} ${fmt(r)} ops/s   kit/raw ${ratio.toFixed(3)}${spread}`,
    )
  }
}

const ratioOf: Record<string, { median: number; min: number; max: number }> = {}

function round(n: number): number {
  return Math.round(n * 1000) / 1000
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US').padStart(9)
}

function kitContender(db: Database, ph: (n: number) => string): Contender {
  const pk = `select id, name, email, score from ${table} where id = ${ph(1)}`
  const big = `select id, name, email, score from ${table} where id <= ${ph(1)}`
  const upd = `update ${table} set score = score + 1 where id = ${ph(1)}`
  return {
    name: 'beaver-kit',
    pkSelect: (id) => db.maybeOne(pk, [id]),
    bigSelect: () => db.many(big, [1000]),
    transaction: (ids) =>
      db.transaction(async (tx) => {
        for (const id of ids) await tx.execute(upd, [id])
      }),
  }
}

async function seed(db: Database): Promise<void> {
  await db.exec(
    `create table ${table} (id integer primary key, name varchar(100) not null, email varchar(200) not null, score integer not null)`,
  )
  await db.transaction(async (tx) => {
    for (let start = 1; start <= ROWS; start += 500) {
      const ids = Array.from({ length: 500 }, (_, i) => start + i)
      const values = ids.map((id) => `(${id}, 'user ${id}', 'user${id}@example.com', ${id % 100})`).join(', ')
      await tx.exec(`insert into ${table} (id, name, email, score) values ${values}`)
    }
  })
}

async function benchPostgres(): Promise<void> {
  const db = createDatabase({ url: PG_URL, envPrefix: false, pool: { max: POOL } })
  await seed(db)
  const pool = new pg.Pool({ connectionString: PG_URL, max: POOL, idleTimeoutMillis: 60_000 })
  pool.on('error', () => undefined)
  const raw: Contender = {
    name: 'pg',
    pkSelect: (id) => pool.query(`select id, name, email, score from ${table} where id = $1`, [id]),
    bigSelect: () => pool.query(`select id, name, email, score from ${table} where id <= $1`, [1000]),
    transaction: async (ids) => {
      const c = await pool.connect()
      try {
        await c.query('BEGIN')
        for (const id of ids) await c.query(`update ${table} set score = score + 1 where id = $1`, [id])
        await c.query('COMMIT')
      } finally {
        c.release()
      }
    },
  }
  try {
    await compare(
      'postgres',
      kitContender(db, (n) => `$${n}`),
      raw,
    )
  } finally {
    await db.exec(`drop table if exists ${table}`)
    await pool.end()
    await db.close()
  }
}

async function benchMysql(): Promise<void> {
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
  const raw: Contender = {
    name: 'mysql2',
    pkSelect: (id) => pool.query(`select id, name, email, score from ${table} where id = ?`, [id]),
    bigSelect: () => pool.query(`select id, name, email, score from ${table} where id <= ?`, [1000]),
    transaction: async (ids) => {
      const c = await pool.getConnection()
      try {
        await c.query('START TRANSACTION')
        for (const id of ids) await c.query(`update ${table} set score = score + 1 where id = ?`, [id])
        await c.query('COMMIT')
      } finally {
        c.release()
      }
    },
  }
  try {
    await compare(
      'mysql (MariaDB)',
      kitContender(db, () => '?'),
      raw,
    )
  } finally {
    await db.exec(`drop table if exists ${table}`)
    await pool.end()
    await db.close()
  }
}

async function benchSqlite(): Promise<void> {
  const file = join(tmpdir(), `${table}.db`)
  const db = createDatabase({ url: `sqlite:${file}`, envPrefix: false })
  await seed(db)
  const raw = new DatabaseSync(file, { timeout: 5000 })
  raw.exec('PRAGMA journal_mode = WAL')
  const cache = new Map<string, StatementSync>()
  const prep = (sql: string): StatementSync => {
    let s = cache.get(sql)
    if (!s) cache.set(sql, (s = raw.prepare(sql)))
    return s
  }
  const rawC: Contender = {
    name: 'node:sqlite',
    pkSelect: async (id) => prep(`select id, name, email, score from ${table} where id = ?`).get(id),
    bigSelect: async () => prep(`select id, name, email, score from ${table} where id <= ?`).all(1000),
    transaction: async (ids) => {
      prep('BEGIN IMMEDIATE').run()
      try {
        const s = prep(`update ${table} set score = score + 1 where id = ?`)
        for (const id of ids) s.run(id)
        prep('COMMIT').run()
      } catch (err) {
        prep('ROLLBACK').run()
        throw err
      }
    },
  }
  try {
    await compare(
      'sqlite',
      kitContender(db, () => '?'),
      rawC,
    )
  } finally {
    raw.close()
    await db.close()
    for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true })
  }
}

console.log(
  `Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} x${cpus().length}${QUICK ? ', BENCH_QUICK=1 (smoke run, not a result)' : ''}`,
)
await benchSqlite()
await benchPostgres()
await benchMysql()
const out = {
  node: process.version,
  date: new Date().toISOString(),
  cpu: `${cpus()[0]?.model ?? 'unknown'} x${cpus().length}`,
  quick: QUICK,
  results,
}
writeFileSync(new URL('./results.json', import.meta.url), `${JSON.stringify(out, null, 2)}\n`)
console.log('wrote bench/results.json')

if (!QUICK) {
  // The README table is regenerated from this run, never edited by hand.
  const readmeUrl = new URL('../README.md', import.meta.url)
  const readme = readFileSync(readmeUrl, 'utf8')
  const start = readme.indexOf('<!-- bench:start -->')
  const end = readme.indexOf('<!-- bench:end -->')
  if (start >= 0 && end > start) {
    const rows = Object.entries(ratioOf).map(([label, r]) => {
      const kit = results.find((x) => x.case === label && x.contender === 'beaver-kit')
      const raw = results.find((x) => x.case === label && x.contender !== 'beaver-kit')
      const met = r.median >= 0.95 ? 'yes' : 'no'
      return `| ${label} | ${kit?.opsPerSec.toLocaleString('en-US')} | ${raw?.contender} ${raw?.opsPerSec.toLocaleString('en-US')} | **${r.median.toFixed(2)}** | ${r.min.toFixed(2)}–${r.max.toFixed(2)} | ${met} |`
    })
    const table = [
      `${out.date.slice(0, 10)}, Node ${out.node}, ${out.cpu} (2 vCPU, shared with other test suites while it ran), PostgreSQL 15 and MariaDB 10.11 on the same machine, pool of ${POOL}. Command: \`npm run bench -w @beaver-kit/database\`. ${ROUNDS} rounds of A-B-B-A per case; kit/raw is the median of the per-round ratios, the range shows how noisy the machine was.`,
      '',
      '| Case | kit ops/s | raw ops/s | kit/raw | rounds | within 5% |',
      '| --- | ---: | ---: | ---: | ---: | :---: |',
      ...rows,
    ].join('\n')
    writeFileSync(readmeUrl, `${readme.slice(0, start)}<!-- bench:start -->\n\n${table}\n\n${readme.slice(end)}`)
    console.log('wrote the README table')
  }
}
