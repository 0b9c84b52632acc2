import { afterAll } from 'vitest'
import { createDatabase, sql, type Database } from '@beaver-kit/database'
import { requireService } from '@beaver-kit/testkit'
import { describeRateLimitStore, type LimiterRule, type RateLimitSubject } from '@beaver-kit/testkit/ratelimit'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLimiter, DatabaseStore, MemoryStore, RedisStore, type RateLimitStore } from '@beaver-kit/ratelimit'

const redis = await requireService('redis')
const pg = await requireService('postgres')
const maria = await requireService('mariadb')
const dir = mkdtempSync(join(tmpdir(), 'beaver-ratelimit-'))
const databases: Array<{ db: Database; table: string }> = []
afterAll(async () => {
  for (const { db, table } of databases) {
    await db.execute(sql`DROP TABLE IF EXISTS ${sql.id(table)}`)
    await db.close()
  }
  rmSync(dir, { recursive: true, force: true })
})

function subject(namespace: string, store: RateLimitStore, shared = false): RateLimitSubject {
  const limiters: Array<{ close(): Promise<void> }> = []
  // The reference has a memory store of its own (store: 'memory', keys unprefixed), the path a
  // default limiter takes; the stores under test are shared (storeInstance, keys namespaced).
  const build = (rule: LimiterRule, clock: () => number, on: RateLimitStore | undefined) => {
    const l = createLimiter({
      envPrefix: false,
      namespace,
      algorithm: rule.algorithm,
      limit: rule.limit,
      window: rule.window,
      ...(rule.burst ? { burst: rule.burst } : {}),
      ...(on ? { storeInstance: on } : { store: 'memory' }),
      failPolicy: 'closed',
      timeout: '10s',
      clock,
    })
    limiters.push(l)
    return l
  }
  return {
    make: (rule, clock) => build(rule, clock, store),
    reference: (rule, clock) => build(rule, clock, undefined),
    async close() {
      for (const l of limiters) await l.close()
      if (!shared) await store.close()
    },
  }
}

const memoryStores = new Map<string, MemoryStore>()
describeRateLimitStore(
  'memory',
  (ns) => {
    let store = memoryStores.get(ns)
    if (!store) memoryStores.set(ns, (store = new MemoryStore()))
    return subject(ns, store, true)
  },
  { store: 'memory' },
)

if (redis) {
  describeRateLimitStore('redis', (ns) => subject(ns, new RedisStore({ url: redis, timeoutMs: 10_000 })), {
    store: 'redis',
  })
}

function sqlStore(url: string): (ns: string) => RateLimitSubject {
  const db = createDatabase({ url, envPrefix: false })
  // One table per run, so parallel runs never share counters.
  const table = `rl_${Math.random().toString(36).slice(2, 10)}`
  databases.push({ db, table })
  return (ns) => subject(ns, new DatabaseStore({ database: db, table }))
}

describeRateLimitStore('sqlite', sqlStore(`sqlite:${join(dir, 'rl.db')}`), { store: 'database' })
if (pg) describeRateLimitStore('postgres', sqlStore(pg), { store: 'database' })
if (maria) describeRateLimitStore('mariadb', sqlStore(maria), { store: 'database' })
