import { expect, it } from 'vitest'
import { isBeaverError } from '@beaver-kit/core'
import { eventually } from '../eventually.ts'
import { needs, wait } from './support.ts'
import type { QueueCaseContext } from './subject.ts'

/** Pub/sub: each consumer group of a topic gets every message once; consumers of one group compete. */
export function fanOutCases(ctx: QueueCaseContext): void {
  it('fan-out delivers each message once per group', async (t) => {
    const q = ctx.subject()
    await needs(t, q, 'fanOut')
    const other = await ctx.another()
    const seen = { billing: [] as unknown[], audit: [] as unknown[] }
    const byBillingConsumer = [0, 0]
    const billing = (n: 0 | 1) => (m: { payload: unknown }) => {
      seen.billing.push(m.payload)
      byBillingConsumer[n] = (byBillingConsumer[n] ?? 0) + 1
    }
    const consumers = [
      await q.subscribe('orders', 'billing', billing(0)),
      await other.subscribe('orders', 'billing', billing(1)),
      await q.subscribe('orders', 'audit', (m) => void seen.audit.push(m.payload)),
    ]
    const sent = Array.from({ length: 20 }, (_, i) => i)
    const ids = await Promise.all(sent.map((i) => q.publishTopic('orders', i)))
    expect(new Set(ids).size).toBe(sent.length)
    await eventually(() => expect(seen.billing.length + seen.audit.length).toBe(2 * sent.length), wait)
    expect([...seen.billing].sort((a, b) => Number(a) - Number(b))).toEqual(sent)
    expect([...seen.audit].sort((a, b) => Number(a) - Number(b))).toEqual(sent)
    // The two billing consumers shared the work: every message ran in one of them only.
    expect((byBillingConsumer[0] ?? 0) + (byBillingConsumer[1] ?? 0)).toBe(sent.length)
    await Promise.all(consumers.map((c) => c.close()))
    await other.close()
  })

  it('keeps a group’s copies while it has no consumer, and retries and dead-letters per group', async (t) => {
    const q = ctx.subject()
    await needs(t, q, 'fanOut')
    // Published before any group subscribed: nobody gets it.
    await q.publishTopic('events', 'before')
    const first = await q.subscribe('events', 'mailer', () => undefined)
    await first.close()
    const failing = await q.subscribe('events', 'strict', () => {
      throw new Error('refused by strict')
    })
    const id = await q.publishTopic('events', 'after', { attempts: 1 })
    await eventually(async () => expect((await q.dlq('events@strict').list()).map((m) => m.id)).toEqual([id]), wait)
    await failing.close()
    const mailed: unknown[] = []
    const again = await q.subscribe('events', 'mailer', (m) => void mailed.push(m.payload))
    await eventually(() => expect(mailed).toEqual(['after']), wait)
    expect((await q.dlq('events@mailer').list()).length).toBe(0)
    await again.close()
  })

  it('refuses publishTopic and subscribe with QUEUE_UNSUPPORTED where the driver has no fan-out', async (t) => {
    const q = ctx.subject()
    if ((await q.capabilities()).fanOut !== false) t.skip('the driver supports fan-out')
    await expectCode('QUEUE_UNSUPPORTED', () => q.publishTopic('orders', 1))
    await expectCode('QUEUE_UNSUPPORTED', () => q.subscribe('orders', 'billing', () => undefined))
  })

  it('refuses topic and group names that are not names', async (t) => {
    const q = ctx.subject()
    await needs(t, q, 'fanOut')
    await expectCode('QUEUE_OPTIONS_INVALID', () => q.publishTopic('a@b', 1))
    await expectCode('QUEUE_OPTIONS_INVALID', () => q.subscribe('orders', 'no spaces', () => undefined))
  })
}

async function expectCode(code: string, fn: () => Promise<unknown>): Promise<void> {
  const error = await fn().then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(isBeaverError(error) && error.code).toBe(code)
}
