import { expect, it } from 'vitest'
import { isBeaverError } from '@beaver-kit/core'
import { eventually } from '../eventually.ts'
import { deferred, needs, untilAborted, wait } from './support.ts'
import type { QueueCaseContext } from './subject.ts'

/** By key and by id: dedupe while pending, cancel a waiting message, cancel a running one from another process. */
export function dedupeAndCancelCases(ctx: QueueCaseContext): void {
  it('dedupes by key while the first is pending, and by id always', async (t) => {
    const q = ctx.subject()
    await needs(t, q, 'dedupe')
    const a = await q.publish('dedupe', 1, { dedupeKey: 'k' })
    const b = await q.publish('dedupe', 2, { dedupeKey: 'k' })
    expect(b).toBe(a)
    const [c1, c2] = await q.publishBatch('dedupe', [
      { payload: 3, dedupeKey: 'k' },
      { payload: 4, id: 'fixed-id' },
    ])
    expect(c1).toBe(a)
    expect(c2).toBe('fixed-id')
    expect(await q.publish('dedupe', 5, { id: 'fixed-id' })).toBe('fixed-id')
    const seen: unknown[] = []
    const c = await q.consume('dedupe', (m) => void seen.push(m.payload))
    await eventually(() => expect(seen.sort()).toEqual([1, 4]), wait)
    await eventually(async () => expect((await q.get('dedupe', a))?.state).toBe('completed'), wait)
    const again = await q.publish('dedupe', 6, { dedupeKey: 'k' })
    expect(again).not.toBe(a)
    await eventually(() => expect(seen).toContain(6), wait)
    await c.close()
  })

  it('cancels a waiting message', async (t) => {
    const q = ctx.subject()
    await needs(t, q, 'cancel')
    const id = await q.publish('cancel-wait', 'x', { delay: 60_000 })
    expect(await q.cancel('cancel-wait', id)).toBe('removed')
    expect((await q.get('cancel-wait', id))?.state ?? 'cancelled').toBe('cancelled')
    expect(await q.cancel('cancel-wait', 'no-such-id')).toBe('none')
    expect((await q.counts('cancel-wait')).delayed).toBe(0)
  })

  it('cancels a running message from another process: the handler’s signal aborts', async (t) => {
    const q = ctx.subject()
    await needs(t, q, 'cancel')
    const other = await ctx.another()
    const started = deferred()
    let reason: unknown
    const id = await q.publish('cancel-run', 'x', { attempts: 5 })
    const c = await q.consume(
      'cancel-run',
      async (_m, h) => {
        started.resolve()
        try {
          await untilAborted(h.signal)
        } catch (e) {
          reason = e
          throw e
        }
      },
      { leaseTime: 3000 },
    )
    await started.promise
    expect(await other.cancel('cancel-run', id)).toBe('signalled')
    await eventually(() => expect(isBeaverError(reason, 'QUEUE_CANCELLED')).toBe(true), wait)
    await eventually(async () => expect((await q.get('cancel-run', id))?.state ?? 'cancelled').toBe('cancelled'), wait)
    await c.close()
    expect(c.stats().retried).toBe(0)
  })
}
