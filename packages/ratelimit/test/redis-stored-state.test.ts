// limit() runs its algorithm's own small Redis script (all but the sliding log's): it must continue the state and the
// blocks that the general script wrote (a limiter deployed before it, or limitAll(), refund()
// and penalty(), which still run the general script), and leave state the general script reads.
import { describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { requireService, uniqueNamespace } from '@beaver-kit/testkit'
import { createLimiter, RedisStore, type Algorithm } from '@beaver-kit/ratelimit'

const redis = await requireService('redis')
const W = 60_000

describe.runIf(redis)('state on Redis across the small scripts and the general one', () => {
  /**
   * A limiter on its own prefix, already connected by one call (the first call connects through
   * the general path; limit() then runs the small script); disposing it removes its keys.
   */
  const setup = async (now: { t: number }, algorithm: Algorithm = 'fixed-window') => {
    const namespace = uniqueNamespace('rlst')
    const prefix = uniqueNamespace('rlp')
    const store = new RedisStore({ url: redis as string, prefix, timeoutMs: 10_000 })
    const l = createLimiter({
      envPrefix: false,
      namespace,
      algorithm,
      limit: 5,
      window: W,
      failPolicy: 'closed',
      storeInstance: store,
      clock: () => now.t,
    })
    const admin = new Redis(redis as string)
    const state = (key: string) => `${prefix}:{${namespace}:${key}}`
    await l.limit('warm')
    return {
      l,
      admin,
      state,
      async [Symbol.asyncDispose]() {
        await l.close()
        await store.close()
        const keys = await admin.keys(`${prefix}:*`)
        if (keys.length > 0) await admin.del(...keys)
        admin.disconnect()
      },
    }
  }

  it('continues a window the general script wrote, and leaves one it continues', async () => {
    const now = { t: 1_700_000_000_000 - (1_700_000_000_000 % W) + 20_000 } // 20 s into a window
    const start = now.t - 20_000
    await using s = await setup(now)
    // What the deployed script stored: the hash s, n, p, expiring at the window's end.
    await s.admin.hset(s.state('a'), 's', start, 'n', 3, 'p', 0)
    await s.admin.pexpire(s.state('a'), 40_000)
    expect(await s.l.limit('a')).toMatchObject({ allowed: true, granted: 1, remaining: 1, resetMs: 40_000 })
    expect(await s.admin.hgetall(s.state('a'))).toEqual({ s: String(start), n: '4', p: '0' })
    // penalty() runs the general script on what the small one wrote, and limit() sees it.
    await s.l.penalty('a', 1)
    expect(await s.l.limit('a')).toMatchObject({ allowed: false, remaining: 0, retryAfterMs: 40_000 })
    await s.l.refund('a', 2)
    now.t += 10_000
    expect(await s.l.limit('a', { cost: 2 })).toMatchObject({ allowed: true, remaining: 0, resetMs: 30_000 })
    // The window's first write set the expiry to its end; later writes in it keep that.
    const ttl = await s.admin.pttl(s.state('a'))
    expect(ttl).toBeGreaterThan(0)
    expect(ttl).toBeLessThanOrEqual(40_000)
  })

  it('starts a fresh window over a previous one, expiring at its end', async () => {
    const now = { t: 1_700_000_000_000 - (1_700_000_000_000 % W) + 45_000 }
    const start = now.t - 45_000
    await using s = await setup(now)
    await s.admin.hset(s.state('b'), 's', start - W, 'n', 5, 'p', 0)
    await s.admin.pexpire(s.state('b'), 60_000)
    expect(await s.l.limit('b')).toMatchObject({ allowed: true, remaining: 4, resetMs: 15_000 })
    expect(await s.admin.hgetall(s.state('b'))).toEqual({ s: String(start), n: '1', p: '0' })
    const ttl = await s.admin.pttl(s.state('b'))
    expect(ttl).toBeGreaterThan(10_000)
    expect(ttl).toBeLessThanOrEqual(15_000)
  })

  it('refuses a key blocked by a block key the general script (or an older limiter) set', async () => {
    const now = { t: Date.now() }
    await using s = await setup(now)
    await s.admin.set(`${s.state('c')}:b`, '1', 'PX', 30_000)
    const d = await s.l.limit('c')
    expect(d).toMatchObject({ allowed: false, granted: 0, remaining: 0, blocked: true })
    expect(d.retryAfterMs).toBeGreaterThan(25_000)
    expect(d.retryAfterMs).toBeLessThanOrEqual(30_000)
    expect(await s.admin.exists(s.state('c'))).toBe(0) // a refusal writes nothing
    await s.l.block('c', 0)
    expect(await s.l.limit('c')).toMatchObject({ allowed: true, remaining: 4, blocked: false })
  })

  it('sliding window: weighs in the previous window the general script wrote, and continues this one', async () => {
    const now = { t: 1_700_000_000_000 - (1_700_000_000_000 % W) + 30_000 } // half-way: the previous counts half
    const start = now.t - 30_000
    await using s = await setup(now, 'sliding-window')
    await s.admin.hset(s.state('d'), 's', start - W, 'n', 4, 'p', 1)
    await s.admin.pexpire(s.state('d'), 90_000)
    // previous 4 weighs floor(4 * 30/60) = 2: 5 - 2 - 1 = 2 left
    expect(await s.l.limit('d')).toMatchObject({ allowed: true, remaining: 2, resetMs: 30_000 })
    expect(await s.admin.hgetall(s.state('d'))).toEqual({ s: String(start), n: '1', p: '4' })
    const ttl = await s.admin.pttl(s.state('d'))
    expect(ttl).toBeGreaterThan(80_000)
    expect(ttl).toBeLessThanOrEqual(90_000)
    await s.l.penalty('d', 1) // the general script on what the small one wrote
    expect(await s.l.limit('d', { cost: 2, upTo: true })).toMatchObject({ allowed: true, granted: 1, remaining: 0 })
    expect(await s.admin.hgetall(s.state('d'))).toEqual({ s: String(start), n: '3', p: '4' })
    expect(await s.l.limit('d')).toMatchObject({ allowed: false, blocked: false })
    await s.admin.set(`${s.state('d')}:b`, '1', 'PX', 30_000)
    expect(await s.l.limit('d')).toMatchObject({ allowed: false, blocked: true })
  })

  it('token bucket and GCRA: continue the fields the general script stored, to the last digit', async () => {
    const now = { t: 1_700_000_000_000 }
    await using bucket = await setup(now, 'token-bucket') // 5 per minute: a token every 12 s
    await using meter = await setup(now, 'gcra')
    await bucket.admin.hset(bucket.state('e'), 't', '2.5', 'u', now.t - 10_000)
    // 2.5 + 10 s of refill (0.8333...) = 3.333...; one taken leaves 2.333... (2 whole)
    expect(await bucket.l.limit('e')).toMatchObject({ allowed: true, remaining: 2 })
    expect(await bucket.admin.hgetall(bucket.state('e'))).toEqual({ t: '2.3333333333333335', u: String(now.t) })
    await bucket.l.penalty('e', 1) // the general script on what the small one wrote: 1.333... left
    expect(await bucket.l.limit('e')).toMatchObject({ allowed: true, remaining: 0 })
    expect(await bucket.l.limit('e')).toMatchObject({ allowed: false, remaining: 0 })
    await meter.admin.hset(meter.state('f'), 'a', now.t + 12_000) // one unit spent, 12 s each
    expect(await meter.l.limit('f')).toMatchObject({ allowed: true, remaining: 3, resetMs: 24_000 })
    expect(await meter.admin.hget(meter.state('f'), 'a')).toBe(String(now.t + 24_000))
    await meter.l.penalty('f', 3)
    expect(await meter.l.limit('f')).toMatchObject({ allowed: false, retryAfterMs: 12_000 })
  })
})
