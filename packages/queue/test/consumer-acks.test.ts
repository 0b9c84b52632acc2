// Where the driver can complete and claim in one round trip (completeAndFetch), the consumer
// hands it the acks of the handlers that just finished with the claim for their slots: one
// round trip per message at concurrency 1 (BullMQ's "finish one, take the next"), one per
// batch at higher concurrency. The memory driver wrapped here counts the calls.
import { describe, expect, it } from 'vitest'
import { eventually } from '@beaver-kit/testkit'
import { createQueue, defineQueueDriver, type Delivery, type QueueDriver } from '@beaver-kit/queue'
import { memoryDriver } from '@beaver-kit/queue/memory'

interface Calls {
  /** Acks each completeAndFetch carried. */
  carried: number[]
  /** Acks sent on their own (complete). */
  alone: number[]
}

function countingDriver(calls: Calls) {
  return defineQueueDriver<unknown>({
    name: 'counting-memory',
    peers: [],
    async create(_options, ctx) {
      const inner = await memoryDriver.create({}, ctx)
      const wrapped: QueueDriver = new Proxy(inner, {
        get(target, prop) {
          if (prop === 'complete') {
            return async (queue: string, deliveries: readonly Delivery[]) => {
              calls.alone.push(deliveries.length)
              await target.complete(queue, deliveries)
            }
          }
          if (prop === 'completeAndFetch') {
            return async (
              queue: string,
              completed: readonly Delivery[],
              options: Parameters<QueueDriver['fetch']>[1],
            ) => {
              calls.carried.push(completed.length)
              await target.complete(queue, completed)
              return target.fetch(queue, options)
            }
          }
          const value: unknown = Reflect.get(target, prop, target)
          return typeof value === 'function' ? (value as () => unknown).bind(target) : value
        },
      })
      return wrapped
    },
  })
}

describe('acks carried by the next fetch', () => {
  it('at concurrency 1: every ack rides on the claim of the next message', async () => {
    const calls: Calls = { carried: [], alone: [] }
    await using q = createQueue({ driver: countingDriver(calls), envPrefix: false, pollInterval: '50ms' })
    const ids = await q.publishBatch(
      'jobs',
      Array.from({ length: 20 }, (_, i) => ({ payload: i })),
    )
    const order: unknown[] = []
    const c = await q.consume('jobs', (m) => void order.push(m.payload), { concurrency: 1 })
    await eventually(async () => expect((await q.counts('jobs')).completed).toBe(20), { timeoutMs: 10_000 })
    await c.close()
    expect(order).toEqual(Array.from({ length: 20 }, (_, i) => i))
    // Twenty acks, each carried alone by the fetch that followed its handler; none sent apart.
    expect(calls.carried).toEqual(Array.from({ length: 20 }, () => 1))
    expect(calls.alone).toEqual([])
    for (const id of ids) expect((await q.get('jobs', id))?.state).toBe('completed')
  })

  it('at concurrency 10: the acks of a turn of the event loop go in one fetch with the claim for their slots', async () => {
    const calls: Calls = { carried: [], alone: [] }
    await using q = createQueue({ driver: countingDriver(calls), envPrefix: false, pollInterval: '50ms' })
    await q.publishBatch(
      'jobs',
      Array.from({ length: 100 }, (_, i) => ({ payload: i })),
    )
    const c = await q.consume('jobs', () => undefined, { concurrency: 10 })
    await eventually(async () => expect((await q.counts('jobs')).completed).toBe(100), { timeoutMs: 10_000 })
    await c.close()
    expect(calls.carried.reduce((a, b) => a + b, 0) + calls.alone.reduce((a, b) => a + b, 0)).toBe(100)
    // Handlers that do nothing finish in the turn they start: ten acks per fetch, ten fetches.
    expect(calls.carried).toEqual(Array.from({ length: 10 }, () => 10))
  })

  it('sends an ack on its own when no fetch follows (a manual ack while the handler goes on)', async () => {
    const calls: Calls = { carried: [], alone: [] }
    await using q = createQueue({ driver: countingDriver(calls), envPrefix: false, pollInterval: '50ms' })
    const id = await q.publish('jobs', 'x')
    let release!: () => void
    const held = new Promise<void>((r) => (release = r))
    let acked = false
    const c = await q.consume(
      'jobs',
      async (_m, h) => {
        await h.ack()
        acked = true
        await held
      },
      { ack: 'manual', concurrency: 1 },
    )
    // The handler still holds its one slot: no fetch comes, the ack goes by itself.
    await eventually(() => expect(acked).toBe(true), { timeoutMs: 10_000 })
    expect((await q.get('jobs', id))?.state).toBe('completed')
    expect(calls.alone).toEqual([1])
    release()
    await c.close()
  })
})
