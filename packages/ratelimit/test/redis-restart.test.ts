// Redis restarted mid-test: a private redis-server (never the shared one) with an fsync'd
// append-only file, killed with SIGKILL and started again on the same port and directory.
// While it is away each limiter follows its failure policy; once it is back, the counters
// written before the crash are all there.
import { afterAll, describe, expect, it } from 'vitest'
import { eventually } from '@beaver-kit/testkit'
import { redisServersAvailable, startRedisServer, type RedisServerHandle } from '@beaver-kit/testkit/redis-processes'
import { channels, createLimiter, RedisStore } from '@beaver-kit/ratelimit'

const available = redisServersAvailable('ratelimit tests')
let server: RedisServerHandle | undefined
afterAll(async () => {
  await server?.stop()
})

describe.runIf(available)('Redis restarted mid-test (a private redis-server)', () => {
  it(
    'open limiters decide from insurance, closed ones refuse, and nothing is lost once Redis returns',
    { timeout: 90_000 },
    async () => {
      const redis = await startRedisServer({ appendOnly: true })
      server = redis
      const { url } = redis
      const rule = { envPrefix: false, algorithm: 'token-bucket', limit: 10, window: '1d', timeout: '2s' } as const
      const openStore = new RedisStore({ url, timeoutMs: 2000 })
      const closedStore = new RedisStore({ url, timeoutMs: 2000 })
      await using open = createLimiter({ ...rule, namespace: 'restart', failPolicy: 'open', storeInstance: openStore })
      await using closed = createLimiter({
        ...rule,
        namespace: 'restart',
        failPolicy: 'closed',
        storeInstance: closedStore,
      })
      const errors: unknown[] = []
      const listen = (m: unknown): void => void errors.push(m)
      channels.storeError.subscribe(listen)
      try {
        for (let i = 0; i < 4; i++) expect((await open.limit('k')).source).toBe('store')
        expect(await closed.limit('k')).toMatchObject({ source: 'store', remaining: 5 })

        await redis.kill()
        const during = await open.limit('k')
        expect(during).toMatchObject({ allowed: true, source: 'insurance' })
        expect(await closed.limit('k')).toMatchObject({ allowed: false, source: 'unavailable' })
        expect(errors.length).toBeGreaterThanOrEqual(2)
        expect(errors).toContainEqual(expect.objectContaining({ store: 'redis', policy: 'open' }))
        expect(errors).toContainEqual(expect.objectContaining({ store: 'redis', policy: 'closed' }))

        await redis.restart()
        // Back on the store, the five units taken before the crash are still taken.
        const back = await eventually(
          async () => {
            const d = await closed.limit('k')
            return d.source === 'store' ? d : false
          },
          { timeoutMs: 30_000, intervalMs: 100 },
        )
        expect(back).toMatchObject({ allowed: true, remaining: 4 })
        const reopened = await eventually(
          async () => {
            const d = await open.limit('k')
            return d.source === 'store' ? d : false
          },
          { timeoutMs: 30_000, intervalMs: 100 },
        )
        expect(reopened).toMatchObject({ allowed: true, remaining: 3 })
      } finally {
        channels.storeError.unsubscribe(listen)
        await openStore.close()
        await closedStore.close()
      }
    },
  )
})
