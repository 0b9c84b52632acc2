import { afterEach, describe, expect, it, vi } from 'vitest'
import { requireService, uniqueNamespace } from '@beaver-kit/testkit'
import { createRedisTokenBucket, createTokenBucket, type RedisEvalClient } from '@beaver-kit/delivery'

const redisUrl = await requireService('redis')
afterEach(() => {
  vi.useRealTimers()
})

describe('token bucket', () => {
  it('lets a burst through, then paces in order', async () => {
    vi.useFakeTimers()
    const bucket = createTokenBucket({ perSecond: 10, burst: 2, now: () => Date.now() })
    const done: number[] = []
    const takes = [0, 1, 2, 3].map((i) => bucket.take().then(() => done.push(i)))
    await vi.advanceTimersByTimeAsync(0)
    expect(done).toEqual([0, 1])
    await vi.advanceTimersByTimeAsync(100)
    expect(done).toEqual([0, 1, 2])
    await vi.advanceTimersByTimeAsync(100)
    expect(done).toEqual([0, 1, 2, 3])
    await Promise.all(takes)
  })

  it('hands tokens back when a wait is aborted', async () => {
    vi.useFakeTimers()
    const bucket = createTokenBucket({ perSecond: 1, burst: 1, now: () => Date.now() })
    await bucket.take()
    const controller = new AbortController()
    const waiting = bucket.take(1, { signal: controller.signal })
    controller.abort(new Error('gave up'))
    await expect(waiting).rejects.toThrow('gave up')
    // The aborted reservation was returned: one second later exactly one token is there.
    await vi.advanceTimersByTimeAsync(1000)
    let second = false
    void bucket.take().then(() => (second = true))
    await vi.advanceTimersByTimeAsync(0)
    expect(second).toBe(true)
  })

  it('refuses a rate or burst that cannot work', () => {
    expect(() => createTokenBucket({ perSecond: 0 })).toThrow(/perSecond/)
    expect(() => createTokenBucket({ perSecond: 1, burst: 0 })).toThrow(/burst/)
    expect(() => createRedisTokenBucket({ perSecond: -1, client: { eval: async () => 0 }, key: 'k' })).toThrow(
      /perSecond/,
    )
  })

  it('the Redis bucket refunds an aborted wait', async () => {
    const calls: string[] = []
    const client: RedisEvalClient = {
      eval: async (script) => {
        calls.push(script.includes('HINCRBYFLOAT') ? 'refund' : 'take')
        return calls.length === 1 ? 5000 : 1
      },
    }
    const bucket = createRedisTokenBucket({ client, key: 'k', perSecond: 1 })
    await expect(bucket.take(1, { signal: AbortSignal.timeout(50) })).rejects.toMatchObject({ name: 'TimeoutError' })
    expect(calls).toEqual(['take', 'refund'])
  })

  describe.runIf(redisUrl)('on Redis', () => {
    it('shares one bucket between clients', async () => {
      const { Redis } = await import('ioredis')
      const a = new Redis(redisUrl as string)
      const b = new Redis(redisUrl as string)
      const key = uniqueNamespace('bucket')
      try {
        const ba = createRedisTokenBucket({ client: a, key, perSecond: 0.001, burst: 3 })
        const bb = createRedisTokenBucket({ client: b, key, perSecond: 0.001, burst: 3 })
        await ba.take()
        await bb.take()
        await ba.take()
        await expect(bb.take(1, { signal: AbortSignal.timeout(200) })).rejects.toMatchObject({ name: 'TimeoutError' })
        expect(Number(await a.hget(key, 'tokens'))).toBeCloseTo(0, 2)
      } finally {
        await a.del(key)
        a.disconnect()
        b.disconnect()
      }
    })
  })
})
