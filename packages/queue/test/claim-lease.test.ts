// A claim whose round trip outlasts its lease (a SQLite writer waiting out another process's
// lock, a starved process, commands held during a reconnect) must not hand out messages another
// worker's reclaim can take again: the loss test saw whole batches run twice with no worker
// killed. The clock is a fake that jumps forward while the claim is on its way.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { Redis } from 'ioredis'
import { createDatabase, type Database } from '@beaver-kit/database'
import { requireService, uniqueNamespace } from '@beaver-kit/testkit'
import type { Delivery, DriverMessage, QueueDriver, QueueDriverContext } from '@beaver-kit/queue'
import { mysqlDriver } from '@beaver-kit/queue/mysql'
import { postgresDriver } from '@beaver-kit/queue/postgres'
import { redisDriver } from '@beaver-kit/queue/redis'
import { sqliteDriver } from '@beaver-kit/queue/sqlite'
import { keepFreshLeases } from '../src/drivers/claim-lease.ts'

const LEASE_MS = 5000
const dir = mkdtempSync(join(tmpdir(), 'beaver-queue-claim-lease-'))
const closers: Array<() => Promise<unknown>> = []
afterAll(async () => {
  for (const close of closers.reverse()) await close()
  rmSync(dir, { recursive: true, force: true })
})

/** A clock that stands still until the test (or a slow claim) moves it. */
function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_800_000_000_000
  return { now: () => t, advance: (ms) => (t += ms) }
}

function context(now: () => number): QueueDriverContext {
  return {
    now,
    settings: { keepCompletedMs: 3_600_000, keepCompletedMax: 1000, keepDeadMs: 3_600_000, pollIntervalMs: 50 },
    onConnection: () => undefined,
  }
}

function message(queue: string, id: string, now: number): DriverMessage {
  return {
    id,
    queue,
    payload: '1',
    headers: {},
    priority: 0,
    runAt: now,
    maxAttempts: 3,
    backoffBaseMs: 100,
    backoffMaxMs: 1000,
    timeoutMs: 0,
    group: undefined,
    dedupeKey: undefined,
    createdAt: now,
  }
}

const fetchNow = (driver: QueueDriver, queue: string): Promise<Delivery[]> =>
  driver.fetch(queue, {
    max: 10,
    leaseMs: LEASE_MS,
    groupLimit: undefined,
    waitMs: 0,
    signal: new AbortController().signal,
  })

const CLAIM = "state = 'active', attempt = attempt + 1"

/** The database as the slow worker sees it: its claim reaches the server two leases late. */
function slowClaims(database: Database, late: () => void): Database {
  return new Proxy(database, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target)
      if (typeof value !== 'function') return value
      const method = value as (...args: unknown[]) => unknown
      if (prop === 'query' || prop === 'transaction') {
        return (...args: unknown[]) => {
          // MariaDB claims in a transaction (SELECT ... SKIP LOCKED, then UPDATE), the others in one UPDATE.
          if (prop === 'transaction' || (typeof args[0] === 'string' && args[0].includes(CLAIM))) late()
          return method.apply(target, args)
        }
      }
      return method.bind(target)
    },
  })
}

type Build = (clock: ReturnType<typeof fakeClock>) => Promise<{ slow: QueueDriver; other: QueueDriver }>

function sqlBackend(definition: typeof sqliteDriver, url: string): Build {
  return async (clock) => {
    const database = createDatabase({ url, envPrefix: false })
    closers.push(() => database.close())
    const table = uniqueNamespace('bq_lease')
    // The servers are shared: the tables go once the drivers closed.
    closers.push(async () => {
      for (const name of ['jobs', 'topics', 'migrations'])
        await database.execute(`drop table if exists ${table}_${name}`)
    })
    const ctx = context(clock.now)
    const slow = await definition.create(
      { database: slowClaims(database, () => clock.advance(2 * LEASE_MS)), table },
      ctx,
    )
    const other = await definition.create({ database, table }, ctx)
    closers.push(
      () => slow.close(),
      () => other.close(),
    )
    return { slow, other }
  }
}

async function redisBackend(url: string): Promise<Build> {
  const { Redis: RedisClient } = await import('ioredis')
  return async (clock) => {
    const prefix = uniqueNamespace('bq_lease')
    const client: Redis = new RedisClient(url)
    closers.push(() => client.quit())
    closers.push(async () => {
      const keys: string[] = []
      for await (const batch of client.scanStream({ match: `${prefix}:*` }) as AsyncIterable<string[]>)
        keys.push(...batch)
      if (keys.length > 0) await client.del(...keys)
    })
    // The driver defines its scripts on the client it is given; its claim is sent two leases late.
    let claim: ((...args: unknown[]) => Promise<unknown>) | undefined
    Object.defineProperty(client, 'bqClaim', {
      configurable: true,
      set(fn: (...args: unknown[]) => Promise<unknown>) {
        claim = fn
      },
      get() {
        return (...args: unknown[]) => {
          clock.advance(2 * LEASE_MS)
          return (claim as (...a: unknown[]) => Promise<unknown>).apply(client, args)
        }
      },
    })
    const ctx = context(clock.now)
    const slow = await redisDriver.create({ client, prefix }, ctx)
    const other = await redisDriver.create({ url, prefix }, ctx)
    closers.push(
      () => slow.close(),
      () => other.close(),
    )
    return { slow, other }
  }
}

const pg = await requireService('postgres')
const maria = await requireService('mariadb')
const redis = await requireService('redis')
const backends: Array<[string, Build | undefined]> = [
  ['sqlite', sqlBackend(sqliteDriver, `sqlite:${join(dir, 'lease.db')}`)],
  ['postgres', pg === undefined ? undefined : sqlBackend(postgresDriver, pg)],
  ['mariadb', maria === undefined ? undefined : sqlBackend(mysqlDriver, maria)],
  ['redis', redis === undefined ? undefined : await redisBackend(redis)],
]

for (const [label, build] of backends) {
  describe.runIf(build)(`claim leases on ${label}`, () => {
    it('renews a claim that outlasted half its lease, so no other worker takes the same messages', async () => {
      const clock = fakeClock()
      const { slow, other } = await (build as Build)(clock)
      const queue = `${uniqueNamespace('ns')}/lease`
      await other.enqueue([message(queue, 'm1', clock.now()), message(queue, 'm2', clock.now())], {})
      const slowGot = await fetchNow(slow, queue)
      const otherGot = await fetchNow(other, queue)
      // Each message is held by exactly one worker, and the slow one's lease is really its own.
      expect([...slowGot, ...otherGot].map((d) => d.id).sort()).toEqual(['m1', 'm2'])
      expect(otherGot).toEqual([])
      // The consumer counts on the lease the renewal wrote, not on the claim's, long over.
      for (const d of slowGot) expect(d.leaseUntil).toBe(clock.now() + LEASE_MS)
      await slow.complete(queue, slowGot)
      expect(await other.counts(queue)).toMatchObject({ completed: 2, active: 0, waiting: 0 })
    })
  })
}

describe('a claim that cannot hold its lease', () => {
  it('keeps only what a renewal still finds its own, and gives all back when every renewal is as slow', async () => {
    const clock = fakeClock()
    const held = (ids: string[]): Delivery[] =>
      ids.map((id) => ({ ...message('q', id, clock.now()), attempt: 1, token: 't', lastError: undefined }))
    const released: string[] = []
    const renewed: string[][] = []
    const keeper = (slowRenewals: boolean) => ({
      renew: async (d: readonly Delivery[]) => {
        renewed.push(d.map((x) => x.id))
        if (slowRenewals) clock.advance(LEASE_MS)
        return { cancelled: [], lost: ['b'] }
      },
      release: async (d: readonly Delivery[]) => void released.push(...d.map((x) => x.id)),
    })
    // Fast enough: nothing renewed.
    const start = clock.now()
    clock.advance(LEASE_MS / 2)
    expect(
      (await keepFreshLeases(held(['a', 'b']), start, LEASE_MS, clock.now, keeper(false))).map((d) => d.id),
    ).toEqual(['a', 'b'])
    expect(renewed).toEqual([])
    // Slow claim, quick renewal: the lost one is dropped, the rest kept.
    clock.advance(1)
    expect(
      (await keepFreshLeases(held(['a', 'b']), start, LEASE_MS, clock.now, keeper(false))).map((d) => d.id),
    ).toEqual(['a'])
    expect(released).toEqual([])
    // Every renewal as slow as the claim: given back after three.
    renewed.length = 0
    expect(await keepFreshLeases(held(['a', 'c']), start, LEASE_MS, clock.now, keeper(true))).toEqual([])
    expect(renewed).toEqual([
      ['a', 'c'],
      ['a', 'c'],
      ['a', 'c'],
    ])
    expect(released).toEqual(['a', 'c'])
  })
})
