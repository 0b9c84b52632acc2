import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import dc from 'node:diagnostics_channel'
import { eventually, requireService, startFaultProxy, uniqueNamespace, type FaultProxy } from '@beaver-kit/testkit'
import { isDatabaseError, sql, type Database } from '../src/index.ts'
import { isReplicaRead } from '../src/replicas.ts'
import { testDatabase } from './helpers.ts'

const targets = [
  { name: 'postgres', url: await requireService('postgres') },
  { name: 'mariadb', url: await requireService('mariadb') },
]

describe('which statements a replica may answer', () => {
  it('reads only: no locking reads, no data-modifying CTEs, no writes', () => {
    for (const read of ['select 1', '  SELECT * from t', 'with x as (select 1) select * from x', 'show tables'])
      expect(isReplicaRead(read), read).toBe(true)
    for (const primary of [
      'select * from t where id = 1 for update',
      'select * from t FOR SHARE',
      'select * from t for no key update',
      'with moved as (delete from t returning *) select * from moved',
      'with x as (update t set v = 1 returning v) select v from x',
      'with x as (insert into t values (1) returning *) select * from x',
      'insert into t values (1)',
      'update t set v = 1',
      'delete from t',
      'create table t (id int)',
    ])
      expect(isReplicaRead(primary), primary).toBe(false)
  })
})

for (const target of targets) {
  // Primary and replicas are the same server, each behind its own fault proxy: the bytes a
  // proxy forwarded show which of them answered a statement.
  describe.runIf(target.url)(`read replicas: ${target.name}`, () => {
    const url = target.url as string
    const u = new URL(url)
    const to = { host: u.hostname, port: Number(u.port) }
    let primary: FaultProxy
    let replica: FaultProxy
    let db: Database
    const opened: Array<{ close(): Promise<void> }> = []
    const table = uniqueNamespace('replica')

    /** Runs `fn` and says which proxies carried a statement meanwhile. */
    async function servedBy(fn: () => Promise<unknown>, proxies: Record<string, FaultProxy>): Promise<string[]> {
      const before = Object.fromEntries(Object.entries(proxies).map(([k, p]) => [k, p.bytesFromClients]))
      await fn()
      return Object.entries(proxies)
        .filter(([k, p]) => p.bytesFromClients > (before[k] as number))
        .map(([k]) => k)
    }

    beforeEach(async () => {
      primary = await startFaultProxy({ target: to })
      replica = await startFaultProxy({ target: to })
      db = testDatabase(primary.url(url), { replicaUrls: [replica.url(url)], replicaProbeInterval: 30 })
      await db.exec(`create table ${table} (id integer primary key, v integer)`)
    })

    afterEach(async () => {
      for (const o of opened.splice(0).reverse()) await o.close()
      await db.exec(`drop table if exists ${table}`)
      await db.close()
      await replica.close()
      await primary.close()
    })

    it('creating the database does no I/O; ready() opens the primary only', async () => {
      const lazy = testDatabase(primary.url(url), { replicaUrls: [replica.url(url)] })
      opened.push(lazy)
      const [p, r] = [primary.connections, replica.connections]
      await new Promise((resolve) => setImmediate(resolve))
      expect([primary.connections - p, replica.connections - r]).toEqual([0, 0])
      await lazy.ready()
      expect([primary.connections - p, replica.connections - r]).toEqual([1, 0])
    })

    it('sends reads outside transactions to the replica, and writes, locking reads and transactions to the primary', async () => {
      const both = { primary, replica }
      const t = sql.id(table)
      expect(await servedBy(() => db.execute(sql`insert into ${t} (id, v) values (${1}, ${1})`), both)).toEqual([
        'primary',
      ])
      expect(
        await servedBy(() => db.transaction(async (tx) => void (await tx.many(sql`select * from ${t}`))), both),
      ).toEqual(['primary'])
      expect(await servedBy(() => db.many(sql`select v from ${t}`, { replica: false }), both)).toEqual(['primary'])
      expect(await servedBy(() => db.many(sql`select v from ${t} where id = ${1} for update`), both)).toEqual([
        'primary',
      ])
      expect(await servedBy(() => db.many(sql`select v from ${t}`), both)).toEqual(['replica'])
      expect(await db.many(sql`select v from ${t}`)).toEqual([{ v: 1 }])
      if (target.name === 'postgres') {
        // A data-modifying CTE reads like a SELECT but writes: the primary runs it.
        let out: unknown
        expect(
          await servedBy(async () => {
            out = await db.many(sql`with x as (update ${t} set v = v + 1 returning v) select v from x`)
          }, both),
        ).toEqual(['primary'])
        expect(out).toEqual([{ v: 2 }])
      }
      expect(replica.connections).toBe(1)
      expect(db.stats().replicas[0]).toMatchObject({ up: true, total: 1 })
      expect(db.stats().replicas[0]?.url).toContain(`127.0.0.1:${replica.port}`)
    })

    it('spreads reads over the replicas round-robin', async () => {
      const second = await startFaultProxy({ target: to })
      opened.push(second)
      const two = testDatabase(primary.url(url), { replicaUrls: [replica.url(url), second.url(url)] })
      opened.push(two)
      const order: string[][] = []
      for (let i = 0; i < 4; i++)
        order.push(await servedBy(() => two.many(sql`select ${i} as i`), { primary, first: replica, second }))
      expect(order).toEqual([['first'], ['second'], ['first'], ['second']])
    })

    it('takes a failing replica out, answers from the primary, and probes it back in to serve the next read', async () => {
      const events: Array<{ state: string; error?: unknown }> = []
      const listener = (m: unknown): void => void events.push(m as { state: string })
      dc.subscribe('beaver:database:replica', listener)
      try {
        const both = { primary, replica }
        expect(await servedBy(() => db.many(sql`select * from ${sql.id(table)}`), both)).toEqual(['replica'])
        // The replica goes away: its connections are reset and new ones refused.
        replica.resetAll()
        await replica.refuse()
        await db.execute(sql`insert into ${sql.id(table)} (id, v) values (${2}, ${2})`)
        // Every read still succeeds, answered by the primary, while the replica is down.
        for (let i = 0; i < 3; i++) expect(await db.many(sql`select v from ${sql.id(table)}`)).toEqual([{ v: 2 }])
        expect(db.stats().replicas[0]?.up).toBe(false)
        expect(await servedBy(() => db.many(sql`select v from ${sql.id(table)}`), both)).toEqual(['primary'])
        await replica.accept()
        await eventually(() => expect(db.stats().replicas[0]?.up).toBe(true))
        // The recovered replica answers the next read; the primary sees nothing of it.
        let rows: unknown
        expect(
          await servedBy(async () => {
            rows = await db.many(sql`select v from ${sql.id(table)}`)
          }, both),
        ).toEqual(['replica'])
        expect(rows).toEqual([{ v: 2 }])
        expect(events.map((e) => e.state)).toEqual(['down', 'up'])
        expect(isDatabaseError(events[0]?.error, 'DB_CONNECTION')).toBe(true)
      } finally {
        dc.unsubscribe('beaver:database:replica', listener)
      }
    })

    it('takes out a replica that refuses the credentials (DB_AUTH) and answers from the primary', async () => {
      const bad = new URL(replica.url(url))
      bad.username = 'beaver_no_such_user'
      const withBadReplica = testDatabase(primary.url(url), {
        replicaUrls: [bad.toString()],
        replicaProbeInterval: 60_000,
      })
      opened.push(withBadReplica)
      const events: Array<{ state: string; error?: unknown }> = []
      const listener = (m: unknown): void => void events.push(m as { state: string })
      dc.subscribe('beaver:database:replica', listener)
      try {
        const both = { primary, replica }
        let answer: unknown
        const served = await servedBy(async () => {
          answer = await withBadReplica.one(sql`select ${7} as x`)
        }, both)
        expect(Number((answer as { x: number }).x)).toBe(7)
        // The replica was tried (its proxy saw the login) and the primary answered.
        expect(served.sort()).toEqual(['primary', 'replica'])
        expect(withBadReplica.stats().replicas[0]?.up).toBe(false)
        expect(events.map((e) => e.state)).toEqual(['down'])
        expect(isDatabaseError(events[0]?.error, 'DB_AUTH')).toBe(true)
        expect(await servedBy(() => withBadReplica.one(sql`select ${8} as x`), both)).toEqual(['primary'])
      } finally {
        dc.unsubscribe('beaver:database:replica', listener)
      }
    })
  })
}
