import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import dc from 'node:diagnostics_channel'
import { eventually, requireService, startFaultProxy, uniqueNamespace, type FaultProxy } from '@beaver-kit/testkit'
import { sql, type Database } from '../src/index.ts'
import { testDatabase } from './helpers.ts'

const targets = [
  { name: 'postgres', url: await requireService('postgres') },
  { name: 'mariadb', url: await requireService('mariadb') },
]

for (const target of targets) {
  // The "replica" is the same server behind a fault proxy: what matters is where statements go
  // and how a failing replica is taken out and probed back in.
  describe.runIf(target.url)(`read replicas: ${target.name}`, () => {
    const url = target.url as string
    let proxy: FaultProxy
    let db: Database
    const table = uniqueNamespace('replica')

    beforeEach(async () => {
      const u = new URL(url)
      proxy = await startFaultProxy({ target: { host: u.hostname, port: Number(u.port) } })
      db = testDatabase(url, { replicaUrls: [proxy.url(url)], replicaProbeInterval: 30 })
      await db.exec(`create table ${table} (id integer primary key, v integer)`)
    })

    afterEach(async () => {
      await db.exec(`drop table if exists ${table}`)
      await db.close()
      await proxy.close()
    })

    it('sends reads outside transactions to the replica, and writes and transactions to the primary', async () => {
      await db.execute(sql`insert into ${sql.id(table)} (id, v) values (${1}, ${1})`)
      expect(proxy.connections).toBe(0)
      await db.transaction(async (tx) => void (await tx.many(sql`select * from ${sql.id(table)}`)))
      expect(proxy.connections).toBe(0)
      expect(await db.many(sql`select v from ${sql.id(table)}`, { replica: false })).toEqual([{ v: 1 }])
      expect(proxy.connections).toBe(0)
      expect(await db.many(sql`select v from ${sql.id(table)}`)).toEqual([{ v: 1 }])
      expect(proxy.connections).toBe(1)
      expect(db.stats().replicas[0]).toMatchObject({ up: true, total: 1 })
      expect(db.stats().replicas[0]?.url).not.toContain('@127.0.0.1:5432')
    })

    it('takes a failing replica out, answers from the primary, and probes it back in', async () => {
      const events: Array<{ state: string }> = []
      const listener = (m: unknown): void => void events.push(m as { state: string })
      dc.subscribe('beaver:database:replica', listener)
      try {
        await db.many(sql`select * from ${sql.id(table)}`)
        // The replica goes away: its connections are reset and new ones refused.
        proxy.resetAll()
        await proxy.refuse()
        await db.execute(sql`insert into ${sql.id(table)} (id, v) values (${2}, ${2})`)
        // Every read still succeeds while the replica is down.
        for (let i = 0; i < 3; i++) expect(await db.many(sql`select v from ${sql.id(table)}`)).toEqual([{ v: 2 }])
        expect(db.stats().replicas[0]?.up).toBe(false)
        await proxy.accept()
        await eventually(() => expect(db.stats().replicas[0]?.up).toBe(true))
        const before = proxy.connections
        await db.many(sql`select v from ${sql.id(table)}`)
        expect(proxy.connections).toBeGreaterThanOrEqual(before)
        expect(events.map((e) => e.state)).toEqual(['down', 'up'])
      } finally {
        dc.unsubscribe('beaver:database:replica', listener)
      }
    })
  })
}
