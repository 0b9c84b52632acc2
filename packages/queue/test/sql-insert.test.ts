// Outside a caller's transaction PostgreSQL inserts a batch without ON CONFLICT, and falls back
// to it when an id is already there. Every form of batch keeps "a repeated id answers the
// message already there": one that shares its settings (ids and payloads as arrays), one
// that does not (an array per column), a single message, and the same through a transaction.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createDatabase } from '@beaver-kit/database'
import { eventually, requireService, uniqueNamespace } from '@beaver-kit/testkit'
import { createQueue, type Queue } from '@beaver-kit/queue'

const dir = mkdtempSync(join(tmpdir(), 'beaver-queue-insert-'))
const closers: Array<() => Promise<unknown>> = []
afterAll(async () => {
  for (const close of closers.reverse()) await close()
  rmSync(dir, { recursive: true, force: true })
})

const targets: Array<[string, 'sqlite' | 'postgres' | 'mysql', string | undefined]> = [
  ['sqlite', 'sqlite', `sqlite:${join(dir, 'insert.db')}`],
  ['postgres', 'postgres', await requireService('postgres')],
  ['mariadb', 'mysql', await requireService('mariadb')],
]

/** The payload each id stored (get() gives it serialized). */
async function payloadsOf(q: Queue, queue: string, ids: string[]): Promise<unknown[]> {
  const out: unknown[] = []
  for (const id of ids) {
    const stored = await q.get(queue, id)
    out.push(stored === undefined ? undefined : JSON.parse(String(stored.payload)))
  }
  return out
}

for (const [label, driver, url] of targets) {
  describe.runIf(url)(`batch insert with repeated ids on ${label}`, () => {
    const database = createDatabase({ url: url as string, envPrefix: false })
    closers.push(() => database.close())
    const subject = (): Queue => {
      const q = createQueue({
        driver,
        envPrefix: false,
        driverOptions: { database },
        namespace: uniqueNamespace('bqi'),
      })
      closers.push(() => q.close())
      return q
    }

    it('keeps the first message of an id, in a batch that shares its settings', async () => {
      const q = subject()
      expect(await q.publish('jobs', 'first', { id: 'a' })).toBe('a')
      const ids = await q.publishBatch('jobs', [
        { payload: 'b1', id: 'b' },
        { payload: 'again', id: 'a' },
        { payload: 'b2', id: 'b' },
        { payload: 'c', id: 'c' },
      ])
      expect(ids).toEqual(['b', 'a', 'b', 'c'])
      expect(await payloadsOf(q, 'jobs', ['a', 'b', 'c'])).toEqual(['first', 'b1', 'c'])
      expect((await q.counts('jobs')).waiting).toBe(3)
    })

    it('keeps the first message of an id, in a batch whose settings differ', async () => {
      const q = subject()
      await q.publish('jobs', 'first', { id: 'a' })
      const ids = await q.publishBatch('jobs', [
        { payload: 'b', id: 'b', priority: 5 },
        { payload: 'again', id: 'a', headers: { h: '1' } },
        { payload: 'c', id: 'c', delay: 60_000 },
      ])
      expect(ids).toEqual(['b', 'a', 'c'])
      expect(await payloadsOf(q, 'jobs', ['a', 'b', 'c'])).toEqual(['first', 'b', 'c'])
      expect((await q.get('jobs', 'a'))?.headers).toEqual({})
      expect((await q.get('jobs', 'b'))?.priority).toBe(5)
      expect((await q.get('jobs', 'c'))?.state).toBe('delayed')
    })

    it('keeps the first message of an id published one at a time and inside a transaction', async () => {
      const q = subject()
      expect(await q.publish('jobs', 'first', { id: 'a' })).toBe('a')
      expect(await q.publish('jobs', 'again', { id: 'a' })).toBe('a')
      const ids = await database.transaction((tx) =>
        q.publishBatch(
          'jobs',
          [
            { payload: 'again', id: 'a' },
            { payload: 'b', id: 'b' },
          ],
          { tx },
        ),
      )
      expect(ids).toEqual(['a', 'b'])
      expect(await payloadsOf(q, 'jobs', ['a', 'b'])).toEqual(['first', 'b'])
      const handled: unknown[] = []
      const c = await q.consume('jobs', (m) => void handled.push(m.payload))
      await eventually(() => expect(handled).toHaveLength(2))
      await c.close()
      expect(handled.sort()).toEqual(['b', 'first'])
    })
  })
}
