// Fault tests through the testkit TCP proxy. The real servers are shared with other test
// suites, so nothing here restarts them: "a server restart while idle connections are pooled"
// is the proxy resetting every open connection, and "a connection killed mid-query" is the
// proxy resetting a connection while its statement runs.
import dc from 'node:diagnostics_channel'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { eventually, requireService, startFaultProxy, uniqueNamespace, type FaultProxy } from '@beaver-kit/testkit'
import { isDatabaseError, type Database } from '../src/index.ts'
import { testDatabase } from './helpers.ts'

const servers = [
  {
    name: 'postgres',
    url: await requireService('postgres'),
    sleep: (marker: string) => `select pg_sleep(5) /* ${marker} */`,
    running: (marker: string) =>
      `select count(*)::int as n from pg_stat_activity where query like '%${marker}%' and pid <> pg_backend_pid()`,
    stop: (marker: string) =>
      `select pg_terminate_backend(pid) from pg_stat_activity where query like '%${marker}%' and pid <> pg_backend_pid()`,
    session: 'select pg_backend_pid() as id',
    alive: 'select count(*)::int as n from pg_stat_activity where pid = $1',
  },
  {
    name: 'mariadb',
    url: await requireService('mariadb'),
    sleep: (marker: string) => `select sleep(5) /* ${marker} */`,
    running: (marker: string) =>
      `select count(*) as n from information_schema.processlist where info like '%${marker}%' and id <> connection_id()`,
    stop: undefined,
    session: 'select connection_id() as id',
    alive: 'select count(*) as n from information_schema.processlist where id = ?',
  },
]

for (const server of servers) {
  describe.runIf(server.url)(`faults through a proxy: ${server.name}`, () => {
    const url = server.url as string
    let proxy: FaultProxy
    let direct: Database
    let db: Database

    beforeEach(async () => {
      const target = new URL(url)
      proxy = await startFaultProxy({ target: { host: target.hostname, port: Number(target.port) } })
      direct = testDatabase(url)
      db = testDatabase(proxy.url(url), { pool: { max: 4 } })
    })

    afterEach(async () => {
      await db.close()
      await direct.close()
      await proxy.close()
    })

    it('surfaces a connection killed mid-query as DB_CONNECTION, and the pool recovers', async () => {
      const marker = uniqueNamespace('killed')
      const pending = db.query(server.sleep(marker)).then(
        () => undefined,
        (err: unknown) => err,
      )
      await eventually(async () => expect((await direct.one<{ n: number }>(server.running(marker))).n).toBe(1))
      proxy.resetAll()
      const err = await pending
      expect(isDatabaseError(err, 'DB_CONNECTION')).toBe(true)
      // The driver's own error is kept as the cause: what the socket said, not a kit error.
      const cause = (err as Error).cause
      expect(cause).toBeInstanceOf(Error)
      expect(isDatabaseError(cause)).toBe(false)
      expect((cause as Error).message).toMatch(/connection|terminat|reset|closed|lost|ECONN/i)
      expect(await db.one<{ x: number }>('select 1 as x')).toEqual({ x: 1 })
      if (server.stop) await direct.query(server.stop(marker))
    })

    it('survives a server restart while idle connections are pooled: no crash, no dead connection handed out', async ({
      onTestFinished: onFinish,
    }) => {
      // Open three connections and leave them idle in the pool.
      await db.transaction(() => Promise.all([db.query('select 1'), db.query('select 1'), db.query('select 1')]))
      await eventually(() => expect(db.stats().idle).toBeGreaterThanOrEqual(3))
      const before = proxy.connections
      const idleEvents: Array<{ driver: string; error: unknown }> = []
      const onIdle = (m: unknown): void => void idleEvents.push(m as { driver: string; error: unknown })
      dc.subscribe('beaver:database:idleError', onIdle)
      onFinish(() => void dc.unsubscribe('beaver:database:idleError', onIdle))
      proxy.resetAll()
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => db.one<{ x: number }>(`select ${i} as x`)))
      expect(results.map((r) => Number(r.x))).toEqual([0, 1, 2, 3, 4, 5])
      expect(proxy.connections).toBeGreaterThan(before)
      // The idle connections' failures were contained and counted, never thrown at the process.
      await eventually(() => expect(db.stats().idleErrors).toBeGreaterThanOrEqual(1))
      // Each one was published on beaver:database:idleError with the driver and the error.
      expect(idleEvents).toHaveLength(db.stats().idleErrors)
      expect(idleEvents[0]?.driver).toBe(server.name === 'postgres' ? 'postgres' : 'mysql')
      expect(idleEvents[0]?.error).toBeInstanceOf(Error)
    })

    it('fails fast with DB_CONNECTION while the server refuses connections, and recovers once it accepts', async () => {
      await proxy.refuse()
      const err = await db.query('select 1').catch((e: unknown) => e)
      expect(isDatabaseError(err, 'DB_CONNECTION')).toBe(true)
      await proxy.accept()
      expect(await db.one<{ x: number }>('select 1 as x')).toEqual({ x: 1 })
      const health = await db.health()
      expect(health.ok).toBe(true)
      expect(typeof health.latencyMs).toBe('number')
    })

    it('close() waits for in-flight work up to its deadline, then destroys the connections still busy', async () => {
      const own = testDatabase(url, { pool: { max: 2 } })
      let release!: () => void
      const hold = new Promise<void>((resolve) => (release = resolve))
      let session: unknown
      let started!: () => void
      const inside = new Promise<void>((resolve) => (started = resolve))
      const work = own
        .transaction(async (tx) => {
          session = (await tx.one<{ id: unknown }>(server.session)).id
          started()
          await hold
          return (await tx.one<{ x: number }>('select 1 as x')).x
        })
        .then(
          (x) => ({ x }),
          (err: unknown) => ({ err }),
        )
      await inside
      const alive = async (): Promise<number> => Number((await direct.one<{ n: number }>(server.alive, [session])).n)
      expect(await alive()).toBe(1)
      // The transaction never finishes by itself: close() gives up on it after 300 ms.
      await own.close({ timeoutMs: 300 })
      await eventually(async () => expect(await alive()).toBe(0), { timeoutMs: 10_000 })
      release()
      const outcome = (await work) as { x?: number; err?: unknown }
      expect(outcome.x).toBeUndefined()
      expect((outcome.err as { code?: string }).code).toMatch(/^DB_(CLOSED|CONNECTION)$/)
      await own.close()
    })

    it('reports refused credentials as DB_AUTH', async () => {
      const u = new URL(url)
      u.username = 'beaver_no_such_user'
      const bad = testDatabase(u.toString())
      try {
        const err = await bad.ping().catch((e: unknown) => e)
        expect(isDatabaseError(err, 'DB_AUTH')).toBe(true)
      } finally {
        await bad.close()
      }
    })
  })
}
