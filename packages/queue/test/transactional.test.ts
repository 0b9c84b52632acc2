import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createDatabase, type Database } from '@beaver-kit/database'
import { eventually, requireService, uniqueNamespace } from '@beaver-kit/testkit'
import { createQueue, isQueueError, type Queue } from '@beaver-kit/queue'

const dir = mkdtempSync(join(tmpdir(), 'beaver-queue-tx-'))
const pg = await requireService('postgres')
const maria = await requireService('mariadb')
const redis = await requireService('redis')
const opened: Array<{ close(): Promise<void> }> = []
afterAll(async () => {
  for (const o of opened.reverse()) await o.close()
  rmSync(dir, { recursive: true, force: true })
})

function open(
  driver: 'sqlite' | 'postgres' | 'mysql',
  url: string,
  pollInterval = '30s',
): { db: Database; q: Queue; ns: string } {
  const db = createDatabase({ url, envPrefix: false })
  const ns = uniqueNamespace('qtx')
  const q = createQueue({
    driver,
    driverOptions: { database: db },
    namespace: ns,
    envPrefix: false,
    pollInterval,
  })
  opened.push(db, q)
  return { db, q, ns }
}

const targets: Array<[string, string | undefined, 'sqlite' | 'postgres' | 'mysql']> = [
  ['sqlite', `sqlite:${join(dir, 'tx.db')}`, 'sqlite'],
  ['postgres', pg, 'postgres'],
  ['mariadb', maria, 'mysql'],
]

for (const [label, url, driver] of targets) {
  describe.runIf(url)(`transactional publish on ${label}`, () => {
    it('stores the message if and only if the transaction commits', async () => {
      const { db, q } = open(driver, url as string)
      await q.ready()
      const rolledBack = await db
        .transaction(async (tx) => {
          const id = await q.publish('tx', { n: 1 }, { tx })
          throw Object.assign(new Error('rollback'), { id })
        })
        .catch((e: { id: string }) => e.id)
      expect(await q.get('tx', rolledBack)).toBeUndefined()
      const committed = await db.transaction((tx) => q.publish('tx', { n: 2 }, { tx }))
      expect((await q.get('tx', committed))?.state).toBe('waiting')
    })

    it('refuses a transaction of another dialect', async () => {
      const { q } = open(driver, url as string)
      await expect(q.publish('tx', 1, { tx: { dialect: 'other' } })).rejects.toSatisfy((e) =>
        isQueueError(e, 'QUEUE_OPTIONS_INVALID'),
      )
    })
  })
}

interface PgPoolLike {
  connect(): Promise<unknown>
}

/**
 * The database as the queue's LISTEN sees it: the first connection it asks for fails, the
 * second is handed over only once `release()` is called.
 */
function listenFailsFirst(db: Database): { db: Database; retried: Promise<void>; release: () => void } {
  let asked = 0
  let retried!: () => void
  let release!: () => void
  const retriedP = new Promise<void>((r) => (retried = r))
  const released = new Promise<void>((r) => (release = r))
  const pool = (native: PgPoolLike): PgPoolLike =>
    new Proxy(native, {
      get(target, prop) {
        const value: unknown = Reflect.get(target, prop, target)
        if (prop !== 'connect') return typeof value === 'function' ? (value as () => unknown).bind(target) : value
        return async () => {
          asked++
          if (asked === 1) throw new Error('connection refused (test)')
          retried()
          await released
          return target.connect()
        }
      },
    })
  const proxied = new Proxy(db, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target)
      if (prop === 'native') return async () => pool(await target.native<PgPoolLike>())
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value
    },
  })
  return { db: proxied, retried: retriedP, release }
}

describe.runIf(pg)('postgres LISTEN/NOTIFY', () => {
  it('wakes an idle consumer on commit, long before its 30 s poll', async () => {
    const { db, q } = open('postgres', pg as string)
    const seen: unknown[] = []
    const c = await q.consume('notify', (m) => void seen.push(m.payload))
    await db.transaction((tx) => q.publish('notify', 'hello', { tx }))
    await eventually(() => expect(seen).toEqual(['hello']), { timeoutMs: 5000 })
    await c.close()
  })

  it('finds a commit made while LISTEN was being retried, long before its 30 s poll', async () => {
    const db = createDatabase({ url: pg as string, envPrefix: false })
    opened.push(db)
    const listen = listenFailsFirst(db)
    const q = createQueue({
      driver: 'postgres',
      driverOptions: { database: listen.db },
      namespace: uniqueNamespace('qtx'),
      envPrefix: false,
      pollInterval: '30s',
    })
    opened.push(q)
    const seen: unknown[] = []
    const c = await q.consume('notify', (m) => void seen.push(m.payload))
    // The first LISTEN failed and its retry is on its way: a commit now notifies nobody.
    await listen.retried
    await db.transaction((tx) => q.publish('notify', 'missed', { tx }))
    listen.release()
    await eventually(() => expect(seen).toEqual(['missed']), { timeoutMs: 5000 })
    await c.close()
  })
})

describe.runIf(pg && redis)('outbox relay', () => {
  it(
    'moves committed messages from PostgreSQL to Redis once, keeping ids and headers',
    { timeout: 60_000 },
    async () => {
      const { db, q: outbox, ns } = open('postgres', pg as string, '200ms')
      const target = createQueue({ driver: 'redis', redis: { url: redis as string }, namespace: ns, envPrefix: false })
      opened.push(target)
      const ids = await db.transaction(async (tx) => {
        const list: string[] = []
        for (let i = 0; i < 25; i++) list.push(await outbox.publish('mail', { i }, { tx, headers: { tenant: 't' } }))
        return list
      })
      const seen = new Map<string, number>()
      const headers: string[] = []
      const c = await target.consume('mail', (m) => {
        seen.set(m.id, (seen.get(m.id) ?? 0) + 1)
        headers.push(m.headers.tenant ?? '')
      })
      const relay = await outbox.relay(target, { queues: ['mail'], batch: 10 })
      await eventually(() => expect(seen.size).toBe(25), { timeoutMs: 10_000 })
      await eventually(async () => expect((await outbox.counts('mail')).completed).toBe(25), { timeoutMs: 10_000 })
      expect([...seen.keys()].sort()).toEqual([...ids].sort())
      expect([...seen.values()].every((n) => n === 1)).toBe(true)
      expect(headers.every((h) => h === 't')).toBe(true)
      expect(relay.stats().relayed).toBe(25)
      await relay.close()
      await c.close()
    },
  )
})
