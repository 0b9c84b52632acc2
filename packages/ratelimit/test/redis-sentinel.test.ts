// The Redis rate-limit store through a real Sentinel (a private master and sentinel,
// redis-server processes): configured from BEAVER_RATELIMIT_* alone, it asks the sentinel for
// the master and keeps its counters there; with sentinels that require a password, that
// password from BEAVER_RATELIMIT_REDIS_SENTINEL_PASSWORD (never shown by describe()).
import { afterAll, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { uniqueNamespace } from '@beaver-kit/testkit'
import { redisServersAvailable } from '@beaver-kit/testkit/redis-processes'
import { sentinelAnswerWithoutPassword, sentinelEnv, useSentinelSets } from '@beaver-kit/testkit/redis-sentinel'
import { createLimiter } from '@beaver-kit/ratelimit'

const withSentinel = redisServersAvailable('ratelimit tests')
const sentinelPassword = 'sentinel-pw-of-the-ratelimit-tests'
const { open: sentinel, guarded } = useSentinelSets(withSentinel, sentinelPassword)
const clients: Redis[] = []
afterAll(async () => {
  for (const c of clients) await c.quit()
})

describe.runIf(withSentinel)('limits on Redis found through Sentinel', () => {
  it('runs from BEAVER_RATELIMIT_* alone: the sentinels and the master name', async () => {
    const handle = sentinel()
    const namespace = uniqueNamespace('rls')
    await using limiter = createLimiter({
      env: {
        BEAVER_RATELIMIT_STORE: 'redis',
        ...sentinelEnv('BEAVER_RATELIMIT_', handle),
        BEAVER_RATELIMIT_NAMESPACE: namespace,
        BEAVER_RATELIMIT_ALGORITHM: 'fixed-window',
        BEAVER_RATELIMIT_LIMIT: '2',
        BEAVER_RATELIMIT_FAIL_POLICY: 'closed',
        BEAVER_RATELIMIT_TIMEOUT: '5s',
      },
    })
    await limiter.ready()
    expect(await limiter.limit('user:1')).toMatchObject({ source: 'store', allowed: true, remaining: 1 })
    expect(await limiter.limit('user:1')).toMatchObject({ source: 'store', allowed: true, remaining: 0 })
    expect(await limiter.limit('user:1')).toMatchObject({ source: 'store', allowed: false })
    const master = new Redis({ host: '127.0.0.1', port: handle.dataPorts[0] as number })
    clients.push(master)
    expect((await master.keys(`rl:{${namespace}*`)).length).toBeGreaterThan(0)
  })
})

describe.runIf(withSentinel)('limits through sentinels that require a password', () => {
  it("takes the sentinels' password from BEAVER_RATELIMIT_REDIS_SENTINEL_PASSWORD, and never shows it", async () => {
    const handle = guarded()
    expect(await sentinelAnswerWithoutPassword(handle)).toMatch(/^NOAUTH/)
    const namespace = uniqueNamespace('rls')
    await using limiter = createLimiter({
      env: {
        BEAVER_RATELIMIT_STORE: 'redis',
        ...sentinelEnv('BEAVER_RATELIMIT_', handle, sentinelPassword),
        BEAVER_RATELIMIT_NAMESPACE: namespace,
        BEAVER_RATELIMIT_ALGORITHM: 'fixed-window',
        BEAVER_RATELIMIT_LIMIT: '1',
        BEAVER_RATELIMIT_FAIL_POLICY: 'closed',
        BEAVER_RATELIMIT_TIMEOUT: '5s',
      },
    })
    expect(JSON.stringify(limiter.describe())).not.toContain(sentinelPassword)
    await limiter.ready()
    expect(await limiter.limit('user:1')).toMatchObject({ source: 'store', allowed: true })
    expect(await limiter.limit('user:1')).toMatchObject({ source: 'store', allowed: false })
  })
})
