// A running handler holds its message only as long as its lease. A renewal is dated from before
// its round trip, so the backend's lease never ends before the one the consumer counts; but a
// consumer whose renewals fail (the backend away from it alone) or answer late (a renewal
// slower than the lease writes a lease already over, and answers "held") used to run on while
// another worker reclaimed the message and ran it too. The clock is a fake the test moves.
import { afterEach, describe, expect, it } from 'vitest'
import { isBeaverError } from '@beaver-kit/core'
import { eventually, uniqueNamespace } from '@beaver-kit/testkit'
import { createQueue, defineQueueDriver, type Queue, type QueueDriver } from '@beaver-kit/queue'
import { createMemoryQueueStore, memoryDriver, type MemoryQueueStore } from '@beaver-kit/queue/memory'

const LEASE_MS = 300
const closers: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_800_000_000_000
  return { now: () => t, advance: (ms) => (t += ms) }
}

/** The memory driver with its renew replaced. */
function withRenew(renew: (inner: QueueDriver) => QueueDriver['renew']): ReturnType<typeof defineQueueDriver> {
  return defineQueueDriver<{ store: MemoryQueueStore }>({
    name: 'memory',
    peers: [],
    create: async (options, ctx) => {
      const inner = await memoryDriver.create(options, ctx)
      const replaced = renew(inner)
      return new Proxy(inner, {
        get(target, prop) {
          if (prop === 'renew') return replaced
          const value: unknown = Reflect.get(target, prop, target)
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
        },
      })
    },
  })
}

function queueOn(
  store: MemoryQueueStore,
  namespace: string,
  now: () => number,
  driver: ReturnType<typeof defineQueueDriver> = memoryDriver,
): Queue {
  const q = createQueue({ driver, driverOptions: { store }, namespace, envPrefix: false, now, pollInterval: '20ms' })
  closers.push(() => q.close())
  return q
}

/** Starts a handler that waits for its signal; `aborted` resolves with what aborted it, within 5 s. */
async function hangingConsumer(q: Queue): Promise<{ aborted: Promise<unknown> }> {
  let started!: () => void
  const running = new Promise<void>((r) => (started = r))
  let abortedWith!: (reason: unknown) => void
  const aborted = new Promise<unknown>((resolve, reject) => {
    abortedWith = resolve
    setTimeout(() => reject(new Error('the handler was not aborted within 5 s')), 5000).unref()
  })
  const consumer = await q.consume(
    'jobs',
    async (_m, h) => {
      started()
      await new Promise<void>((resolve) =>
        h.signal.addEventListener('abort', () => {
          abortedWith(h.signal.reason)
          resolve()
        }),
      )
    },
    { leaseTime: LEASE_MS, concurrency: 1 },
  )
  closers.push(() => consumer.close({ timeout: 50 }))
  await running
  return { aborted }
}

describe('a running handler whose lease ran out', () => {
  it('is aborted with QUEUE_LEASE_LOST when renewals kept failing, before another worker runs it again', async () => {
    const clock = fakeClock()
    const store = createMemoryQueueStore()
    const namespace = uniqueNamespace('hb')
    const away = withRenew(() => () => Promise.reject(new Error('backend away from this worker')))
    const cut = queueOn(store, namespace, clock.now, away)
    await cut.publish('jobs', 'x', { attempts: 5 })
    const { aborted } = await hangingConsumer(cut)
    clock.advance(LEASE_MS + 1)
    expect(isBeaverError(await aborted, 'QUEUE_LEASE_LOST')).toBe(true)
    // The backend did expire it: a worker that reaches it gets the message again.
    const attempts: number[] = []
    await queueOn(store, namespace, clock.now).consume('jobs', (m) => void attempts.push(m.attempt))
    await eventually(() => expect(attempts).toEqual([2]))
  })

  it('is aborted when a renewal answered after the lease it wrote had run out', async () => {
    const clock = fakeClock()
    const store = createMemoryQueueStore()
    const slow = withRenew((inner) => async (queue, deliveries, leaseMs) => {
      const result = await inner.renew(queue, deliveries, leaseMs)
      clock.advance(2 * leaseMs) // the answer's way back took two leases
      return result
    })
    const q = queueOn(store, uniqueNamespace('hb'), clock.now, slow)
    await q.publish('jobs', 'x')
    const { aborted } = await hangingConsumer(q)
    expect(isBeaverError(await aborted, 'QUEUE_LEASE_LOST')).toBe(true)
  })

  it('keeps a handler whose renewals answer in time, however long it runs', async () => {
    const clock = fakeClock()
    let renewals = 0
    // A third of a lease passes between beats, and each renewal answers at once.
    const steady = withRenew((inner) => async (queue, deliveries, leaseMs) => {
      const result = await inner.renew(queue, deliveries, leaseMs)
      renewals++
      clock.advance(LEASE_MS / 3)
      return result
    })
    const q = queueOn(createMemoryQueueStore(), uniqueNamespace('hb'), clock.now, steady)
    await q.publish('jobs', 'x')
    const { aborted } = await hangingConsumer(q)
    let abortedWith: unknown = 'not aborted'
    aborted.then(
      (reason) => (abortedWith = reason),
      () => undefined,
    )
    await eventually(() => expect(renewals).toBeGreaterThanOrEqual(15)) // five leases
    expect(abortedWith).toBe('not aborted')
  })
})
