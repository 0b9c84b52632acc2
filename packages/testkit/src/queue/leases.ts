import { expect, it } from 'vitest'
import { eventually } from '../eventually.ts'
import { completed, deferred, needs, untilAborted, wait } from './support.ts'
import type { QueueCaseContext } from './subject.ts'

/** Fairness between groups, and leases: a crashed worker's message redelivered, a lease extended by its handler, a handler past its timeout. */
export function leaseCases(ctx: QueueCaseContext): void {
  it('keeps per-group concurrency and serves groups round-robin', async (t) => {
    const q = ctx.subject()
    await needs(t, q, 'fairness')
    for (let i = 0; i < 6; i++) await q.publish('fair', `a${i}`, { group: 'tenant-a' })
    await q.publish('fair', 'b0', { group: 'tenant-b' })
    await q.publish('fair', 'c0', { group: 'tenant-c' })
    const inFlight = new Map<string, number>()
    let maxPerGroup = 0
    const order: string[] = []
    const c = await q.consume(
      'fair',
      async (m) => {
        const g = m.group as string
        inFlight.set(g, (inFlight.get(g) ?? 0) + 1)
        maxPerGroup = Math.max(maxPerGroup, inFlight.get(g) as number)
        order.push(String(m.payload))
        await new Promise((r) => setTimeout(r, 20))
        inFlight.set(g, (inFlight.get(g) as number) - 1)
      },
      { concurrency: 3, groupConcurrency: 1 },
    )
    await eventually(() => expect(order).toHaveLength(8), wait)
    await c.close()
    expect(maxPerGroup).toBe(1)
    // b0 and c0 are not starved behind tenant-a's six: they run within the first three starts.
    expect(order.slice(0, 3).sort()).toEqual(['a0', 'b0', 'c0'])
  })

  it('redelivers a message whose lease expired (a crashed worker) with the attempt counted', async (t) => {
    const q = ctx.subject()
    await needs(t, q, 'extendLease')
    const other = await ctx.another()
    const id = await q.publish('lease', 'x', { attempts: 5 })
    const first = deferred()
    const c1 = await q.consume(
      'lease',
      async (_m, h) => {
        first.resolve()
        await untilAborted(h.signal).catch(() => undefined)
      },
      { leaseTime: 300, renewLease: false, concurrency: 1 },
    )
    await first.promise
    const attempts: number[] = []
    const c2 = await other.consume('lease', (m) => void attempts.push(m.attempt))
    await eventually(() => expect(attempts).toEqual([2]), wait)
    await completed(other, 'lease', id, c2, 1, wait)
    await c2.close()
    await c1.close({ timeout: 50 })
  })

  it('extends a lease from the handler, so a long handler is not redelivered', async (t) => {
    const q = ctx.subject()
    await needs(t, q, 'extendLease')
    const other = await ctx.another()
    await q.publish('extend', 'x')
    const done = deferred()
    const started = deferred()
    const expired = deferred()
    let extended: unknown = 'not called'
    const here: number[] = []
    const c1 = await q.consume(
      'extend',
      async (m, h) => {
        here.push(m.attempt)
        started.resolve()
        try {
          await h.extendLease(20_000)
          extended = undefined
          // Held until a later message with the same 1.5 s lease, not extended, has been taken
          // back and redelivered: this one's lease ran out too, only the extension keeps it here.
          await expired.promise
        } catch (e) {
          extended = e
        } finally {
          done.resolve()
        }
      },
      { leaseTime: 1500, renewLease: false },
    )
    await started.promise
    const elsewhere: number[] = []
    const c2 = await other.consume('extend', (m) => void elsewhere.push(m.attempt))
    await q.publish('extend-probe', 'p', { attempts: 5 })
    const hung = deferred()
    const probe = await q.consume(
      'extend-probe',
      async (_m, h) => {
        hung.resolve()
        await untilAborted(h.signal).catch(() => undefined)
      },
      { leaseTime: 1500, renewLease: false, concurrency: 1 },
    )
    await hung.promise
    const redelivered = await other.consume('extend-probe', (m) => {
      if (m.attempt === 2) expired.resolve()
    })
    await done.promise
    await redelivered.close()
    await probe.close({ timeout: 50 })
    expect(extended).toBeUndefined()
    if ((await q.capabilities()).history === false) {
      await eventually(() => expect(c1.stats().completed).toBe(1), wait)
    } else {
      await eventually(async () => expect((await q.counts('extend')).completed).toBe(1), wait)
    }
    await c1.close()
    await c2.close()
    // Delivered once, here: an expired lease would have sent it again, here or elsewhere.
    expect(here).toEqual([1])
    expect(elsewhere).toEqual([])
  })

  it('fails a handler that runs past its timeout with QUEUE_TIMEOUT and retries it', async () => {
    const q = ctx.subject()
    const id = await q.publish('timeout', 'x', { timeout: 100, attempts: 2, backoff: { base: 10, max: 10 } })
    const attempts: number[] = []
    const c = await q.consume('timeout', async (m, h) => {
      attempts.push(m.attempt)
      if (m.attempt === 1) await untilAborted(h.signal)
    })
    await completed(q, 'timeout', id, c, 1, wait)
    await c.close()
    expect(attempts).toEqual([1, 2])
  })
}
