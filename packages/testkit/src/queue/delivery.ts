import { expect, it } from 'vitest'
import { eventually } from '../eventually.ts'
import { completed, needs, wait } from './support.ts'
import type { ConformanceMessage, QueueCaseContext } from './subject.ts'

/** Delivery: a message, a batch, priority order, delays. */
export function deliveryCases(ctx: QueueCaseContext): void {
  it('delivers a published message with its payload, headers and id, then counts it completed', async () => {
    const q = ctx.subject()
    const seen: ConformanceMessage[] = []
    const id = await q.publish('basic', { n: 1, s: 'ü' }, { headers: { 'x-tenant': 't1' } })
    const c = await q.consume('basic', (m) => void seen.push(m))
    await eventually(() => expect(seen).toHaveLength(1), wait)
    expect(seen[0]).toMatchObject({
      id,
      queue: 'basic',
      payload: { n: 1, s: 'ü' },
      attempt: 1,
      headers: { 'x-tenant': 't1' },
    })
    await completed(q, 'basic', id, c, 1, wait)
    await c.close()
    const counts = await q.counts('basic')
    const history = (await q.capabilities()).history !== false
    expect(counts).toMatchObject({ waiting: 0, active: 0, completed: history ? 1 : 0, dead: 0 })
    expect(await q.queues()).toContain('basic')
    expect((await q.health()).ok).toBe(true)
  })

  it('publishes a batch in one call and delivers every message once', async () => {
    const q = ctx.subject()
    const ids = await q.publishBatch(
      'batch',
      Array.from({ length: 100 }, (_, i) => ({ payload: i })),
    )
    expect(new Set(ids).size).toBe(100)
    const seen = new Map<unknown, number>()
    const c = await q.consume('batch', (m) => void seen.set(m.payload, (seen.get(m.payload) ?? 0) + 1), {
      concurrency: 20,
    })
    await eventually(() => expect(seen.size).toBe(100), wait)
    await c.close()
    expect([...seen.values()].every((n) => n === 1)).toBe(true)
  })

  it('orders by priority, then by time', async (t) => {
    const q = ctx.subject()
    await needs(t, q, 'priority')
    await q.publish('prio', 'low-1', { priority: -5 })
    await q.publish('prio', 'mid-1')
    await q.publish('prio', 'high', { priority: 10 })
    await q.publish('prio', 'mid-2')
    await q.publish('prio', 'low-2', { priority: -5 })
    const order: unknown[] = []
    const c = await q.consume('prio', (m) => void order.push(m.payload), { concurrency: 1 })
    await eventually(() => expect(order).toHaveLength(5), wait)
    await c.close()
    expect(order).toEqual(['high', 'mid-1', 'mid-2', 'low-1', 'low-2'])
  })

  it('holds a delayed message until its time', async (t) => {
    const q = ctx.subject()
    await needs(t, q, 'delay')
    const at: number[] = []
    const start = Date.now()
    const id = await q.publish('delay', 'later', { delay: 600 })
    expect((await q.counts('delay')).delayed).toBe(1)
    // A broker cannot look into its delay queues by id (capabilities().history false).
    if ((await q.capabilities()).history !== false) expect((await q.get('delay', id))?.state).toBe('delayed')
    const c = await q.consume('delay', () => void at.push(Date.now()))
    await eventually(() => expect(at).toHaveLength(1), wait)
    await c.close()
    expect((at[0] as number) - start).toBeGreaterThanOrEqual(590)
  })
}
