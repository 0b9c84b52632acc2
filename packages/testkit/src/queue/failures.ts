import { expect, it } from 'vitest'
import { isBeaverError } from '@beaver-kit/core'
import { eventually } from '../eventually.ts'
import { completed, wait } from './support.ts'
import type { QueueCaseContext } from './subject.ts'

/** Failures: retries with backoff, the dead-letter queue and its replay and purge, unrecoverable errors, payloads that cannot be decoded or serialized. */
export function failureCases(ctx: QueueCaseContext): void {
  const lastErrorLost = ctx.options.cannot?.retryLastError
  ctx.itIf(lastErrorLost === undefined, lastErrorLost ?? '')(
    'retries a failing handler with backoff and hands it the previous error',
    async () => {
      const q = ctx.subject()
      const attempts: Array<{ attempt: number; lastError: string | undefined }> = []
      await q.publish('retry', 'x', { attempts: 3, backoff: { base: 20, max: 50 } })
      const c = await q.consume('retry', (m) => {
        attempts.push({ attempt: m.attempt, lastError: m.lastError })
        if (m.attempt < 3) throw new Error(`boom ${m.attempt}`)
      })
      await eventually(() => expect(attempts).toHaveLength(3), wait)
      await c.close()
      expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3])
      expect(attempts[1]?.lastError).toContain('boom 1')
      expect(attempts[2]?.lastError).toContain('boom 2')
      expect(c.stats().retried).toBe(2)
    },
  )

  it('dead-letters after the last attempt with the reason and last error; replay and purge', async () => {
    const q = ctx.subject()
    let fail = true
    const runs: number[] = []
    const id = await q.publish('dlq', { v: 1 }, { attempts: 2, backoff: { base: 10, max: 10 } })
    const c = await q.consume('dlq', (m) => {
      runs.push(m.attempt)
      if (fail) throw new Error('always')
    })
    // Checked on the listing that showed it: a broker's DLQ read right after another can see
    // fewer messages for a moment (see the queue README, RabbitMQ).
    const [dead] = await eventually(async () => {
      const list = await q.dlq('dlq').list()
      expect(list.map((m) => m.id)).toEqual([id])
      return list
    }, wait)
    expect(dead?.deadReason).toMatch(/attempts exhausted/)
    expect(dead?.lastError).toContain('always')
    // Broker counts are approximate for a moment after a DLQ scan gave messages back.
    await eventually(async () => expect((await q.counts('dlq')).dead).toBe(1), wait)
    expect(runs).toEqual([1, 2])
    fail = false
    expect(await q.dlq('dlq').replay(id)).toBe(true)
    await completed(q, 'dlq', id, c, 1, wait)
    expect(runs).toEqual([1, 2, 1])
    fail = true
    const other = await q.publish('dlq', { v: 2 }, { attempts: 1 })
    // By id: a count of 1 could still be the replayed message on a broker whose counts lag.
    await eventually(async () => expect((await q.dlq('dlq').list()).map((m) => m.id)).toEqual([other]), wait)
    // Broker counts are approximate for a moment after a DLQ scan gave messages back.
    await eventually(async () => expect((await q.counts('dlq')).dead).toBe(1), wait)
    expect(await q.dlq('dlq').purge(other)).toBe(1)
    expect(await q.dlq('dlq').list()).toEqual([])
    await c.close()
  })

  it('sends an UnrecoverableError to the DLQ at once', async () => {
    const q = ctx.subject()
    class Permanent extends Error {}
    const unrecoverable = Object.assign(new Permanent('gone'), {})
    Object.defineProperty(unrecoverable, Symbol.for('beaver-kit.queue.unrecoverable'), { value: true })
    const id = await q.publish('unrec', 'x', { attempts: 5 })
    const c = await q.consume('unrec', () => {
      throw unrecoverable
    })
    await eventually(async () => expect((await q.get('unrec', id))?.state).toBe('dead'), wait)
    await c.close()
    const stored = await q.get('unrec', id)
    expect(stored?.attempt).toBe(1)
    expect(stored?.deadReason).toMatch(/unrecoverable/)
  })

  it('dead-letters a payload it cannot decode instead of crashing the worker', async () => {
    const q = ctx.subject()
    const id = await q.publish('undecodable', { fine: true })
    const good: unknown[] = []
    const c = await q.consume(ctx.options.rejectingJob('undecodable'), (m) => void good.push(m.payload))
    await eventually(async () => expect((await q.get('undecodable', id))?.state).toBe('dead'), wait)
    await c.close()
    expect(good).toEqual([])
    expect((await q.get('undecodable', id))?.deadReason).toMatch(/deserialized/)
  })

  it('rejects a payload that cannot be serialized, naming the reason', async () => {
    const q = ctx.subject()
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    await expect(q.publish('ser', cyclic)).rejects.toSatisfy((e: unknown) => isBeaverError(e, 'QUEUE_SERIALIZE_FAILED'))
    await expect(q.publish('ser', 1n)).rejects.toSatisfy((e: unknown) => isBeaverError(e, 'QUEUE_SERIALIZE_FAILED'))
  })
}
