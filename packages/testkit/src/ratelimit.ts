// The rate-limit conformance suite: every @beaver-kit/ratelimit store runs all of it against
// its real backend on a fake clock. Exact values at the window edges of each algorithm, the
// modes (upTo, refund, penalty), blocks, atomic multi-limits, concurrency, and a seeded random
// script whose every decision must equal the reference (the pure algorithms in memory), which
// is what makes a decision the same on every store. Windows are a minute long so a store's
// real-time key expiry (Redis PEXPIRE) never races the fake clock on a loaded machine.
// The subject is typed structurally so the testkit does not depend on the ratelimit package.
import { expect, it } from 'vitest'
import { defineConformanceSuite } from './conformance.ts'
import { seededRandom } from './random.ts'

type Algorithm = 'fixed-window' | 'sliding-window' | 'sliding-log' | 'token-bucket' | 'gcra'

interface ConformanceDecision {
  allowed: boolean
  granted: number
  remaining: number
  resetMs: number
  retryAfterMs: number
  blocked: boolean
  source: string
}

interface ConformanceLimiter {
  limit(key: string, options?: { cost?: number; upTo?: boolean }): Promise<ConformanceDecision>
  limitAll(
    limits: ReadonlyArray<{ key: string; cost?: number; limit?: number; algorithm?: Algorithm }>,
  ): Promise<{ allowed: boolean; decisions: ConformanceDecision[]; refusedBy: number[] }>
  refund(key: string, cost?: number): Promise<void>
  penalty(key: string, cost: number): Promise<void>
  block(key: string, duration: string | number): Promise<void>
  reset(key: string): Promise<void>
  close(): Promise<void>
}

export interface LimiterRule {
  algorithm: Algorithm
  limit: number
  window: number
  burst?: number
}

/** What a store's test gives the suite: limiters on one store and namespace, on a given clock. */
export interface RateLimitSubject {
  /** A limiter with `rule` on this subject's store and namespace, reading time from `clock`. */
  make(rule: LimiterRule, clock: () => number): ConformanceLimiter
  /** A limiter on the reference (memory) store with the same rule and clock. */
  reference(rule: LimiterRule, clock: () => number): ConformanceLimiter
  close(): Promise<void>
}

const W = 60_000
/** A window-aligned start, so the window edges fall where the cases say. */
const T0 = W * 28_000_000

const ALL: Algorithm[] = ['fixed-window', 'sliding-window', 'sliding-log', 'token-bucket', 'gcra']

function fakeClock(): { now: () => number; advance: (ms: number) => void; set: (t: number) => void } {
  let t = T0
  return { now: () => t, advance: (ms) => (t += ms), set: (v) => (t = v) }
}

function pick(d: ConformanceDecision): Omit<ConformanceDecision, 'source'> {
  return {
    allowed: d.allowed,
    granted: d.granted,
    remaining: d.remaining,
    resetMs: d.resetMs,
    retryAfterMs: d.retryAfterMs,
    blocked: d.blocked,
  }
}

/** What differs between stores: `limitAll()` over keys that a Redis Cluster puts in different slots. */
export interface RateLimitStoreOptions {
  store: string
  /** False for a Redis Cluster with a slot per key, where such a `limitAll()` is refused. Default true. */
  crossSlotLimitAll?: boolean
}

export const describeRateLimitStore = defineConformanceSuite<RateLimitSubject, RateLimitStoreOptions>(
  'ratelimit',
  (ctx) => {
    const make = (rule: LimiterRule, clock: () => number): ConformanceLimiter => ctx.subject().make(rule, clock)

    it('fixed-window: the limit per window, refused until the window ends, then a fresh window', async () => {
      const c = fakeClock()
      const l = make({ algorithm: 'fixed-window', limit: 3, window: W }, c.now)
      expect((await l.limit('k')).remaining).toBe(2)
      expect((await l.limit('k')).remaining).toBe(1)
      expect(pick(await l.limit('k'))).toMatchObject({ allowed: true, remaining: 0, resetMs: W })
      c.advance(W - 1)
      expect(pick(await l.limit('k'))).toEqual({
        allowed: false,
        granted: 0,
        remaining: 0,
        resetMs: 1,
        retryAfterMs: 1,
        blocked: false,
      })
      c.advance(1)
      expect(pick(await l.limit('k'))).toMatchObject({ allowed: true, remaining: 2, resetMs: W })
    })

    it('sliding-window: the previous window weighs in, so a burst at the edge is not doubled', async () => {
      const c = fakeClock()
      const l = make({ algorithm: 'sliding-window', limit: 3, window: W }, c.now)
      for (let i = 0; i < 3; i++) expect((await l.limit('k')).allowed).toBe(true)
      c.advance(W) // next window, elapsed 0: the previous 3 still weigh 3
      expect(pick(await l.limit('k'))).toMatchObject({ allowed: false, retryAfterMs: 1 })
      c.advance(1) // weight floor(3 * (W-1)/W) = 2
      expect(pick(await l.limit('k'))).toMatchObject({ allowed: true, remaining: 0 })
      c.advance(W / 2 - 1) // elapsed W/2: weight 1, count 1
      expect(pick(await l.limit('k'))).toMatchObject({ allowed: true, remaining: 0 })
      expect((await l.limit('k')).allowed).toBe(false)
    })

    it('sliding-log: exact, each unit leaves the window when its own time is up', async () => {
      const c = fakeClock()
      const l = make({ algorithm: 'sliding-log', limit: 3, window: W }, c.now)
      await l.limit('k')
      c.advance(20_000)
      await l.limit('k')
      c.advance(20_000)
      expect(pick(await l.limit('k'))).toMatchObject({ allowed: true, remaining: 0, resetMs: 20_000 })
      expect(pick(await l.limit('k'))).toMatchObject({ allowed: false, retryAfterMs: 20_000 })
      c.advance(19_999)
      expect((await l.limit('k')).allowed).toBe(false)
      c.advance(1)
      expect(pick(await l.limit('k'))).toMatchObject({ allowed: true, remaining: 0 })
    })

    it('token-bucket: a full bucket of burst, then one token per window/limit', async () => {
      const c = fakeClock()
      const l = make({ algorithm: 'token-bucket', limit: 3, window: W, burst: 3 }, c.now)
      for (let i = 0; i < 3; i++) expect((await l.limit('k')).allowed).toBe(true)
      expect(pick(await l.limit('k'))).toMatchObject({ allowed: false, retryAfterMs: 20_000, resetMs: W })
      c.advance(19_999)
      expect((await l.limit('k')).allowed).toBe(false)
      c.advance(1)
      expect(pick(await l.limit('k'))).toMatchObject({ allowed: true, remaining: 0 })
    })

    it('gcra: evenly spaced after the burst, with the exact retry time', async () => {
      const c = fakeClock()
      const l = make({ algorithm: 'gcra', limit: 3, window: W, burst: 2 }, c.now)
      expect(pick(await l.limit('k'))).toMatchObject({ allowed: true, remaining: 1 })
      expect(pick(await l.limit('k'))).toMatchObject({ allowed: true, remaining: 0, resetMs: 40_000 })
      expect(pick(await l.limit('k'))).toMatchObject({ allowed: false, retryAfterMs: 20_000 })
      c.advance(20_000)
      expect(pick(await l.limit('k'))).toMatchObject({ allowed: true, remaining: 0 })
    })

    for (const algorithm of ALL) {
      it(`${algorithm}: upTo grants what is left, refund gives back, penalty takes, reset forgets`, async () => {
        const c = fakeClock()
        const l = make({ algorithm, limit: 5, window: W, burst: 5 }, c.now)
        const first = await l.limit('k', { cost: 3 })
        expect(first).toMatchObject({ allowed: true, granted: 3, remaining: 2 })
        const partial = await l.limit('k', { cost: 4, upTo: true })
        expect(partial).toMatchObject({ allowed: true, granted: 2, remaining: 0 })
        const none = await l.limit('k', { cost: 1, upTo: true })
        expect(none).toMatchObject({ allowed: false, granted: 0 })
        expect(none.retryAfterMs).toBeGreaterThan(0)
        await l.refund('k', 2)
        expect(await l.limit('k', { cost: 2 })).toMatchObject({ allowed: true, granted: 2, remaining: 0 })
        await l.reset('k')
        expect(await l.limit('k')).toMatchObject({ allowed: true, remaining: 4 })
        await l.penalty('k', 4)
        expect((await l.limit('k')).allowed).toBe(false)
      })
    }

    it('block() refuses a key for the duration whatever its counters; block(0) lifts it', async () => {
      const c = fakeClock()
      const l = make({ algorithm: 'fixed-window', limit: 100, window: W }, c.now)
      await l.block('k', 30_000)
      const d = await l.limit('k')
      expect(d).toMatchObject({ allowed: false, blocked: true })
      expect(d.retryAfterMs).toBeGreaterThan(25_000)
      expect(d.retryAfterMs).toBeLessThanOrEqual(30_000)
      expect((await l.limit('other')).allowed).toBe(true)
      await l.block('k', 0)
      expect(await l.limit('k')).toMatchObject({ allowed: true, blocked: false, remaining: 99 })
    })

    ctx.itIf(
      ctx.options.crossSlotLimitAll !== false,
      'limitAll() over keys in different Redis Cluster slots is refused (tested beside the Cluster tests)',
    )('limitAll() is all-or-nothing: a refusal by one limit takes nothing from the others', async () => {
      const c = fakeClock()
      const l = make({ algorithm: 'fixed-window', limit: 10, window: W }, c.now)
      const both = [{ key: 'user:1' }, { key: 'global', limit: 1 }]
      const first = await l.limitAll(both)
      expect(first.allowed).toBe(true)
      expect(first.decisions.map((d) => d.remaining)).toEqual([9, 0])
      const second = await l.limitAll(both)
      expect(second).toMatchObject({ allowed: false, refusedBy: [1] })
      expect(second.decisions[0]).toMatchObject({ allowed: true, granted: 0, remaining: 9 })
      // The user's budget was not drained by the refused call.
      expect((await l.limit('user:1')).remaining).toBe(8)
    })

    it('two limiters on one store and namespace share a counter; keys stay apart', async () => {
      const c = fakeClock()
      const a = make({ algorithm: 'sliding-log', limit: 2, window: W }, c.now)
      const other = await ctx.another()
      const b = other.make({ algorithm: 'sliding-log', limit: 2, window: W }, c.now)
      expect((await a.limit('shared')).allowed).toBe(true)
      expect((await b.limit('shared')).allowed).toBe(true)
      expect((await a.limit('shared')).allowed).toBe(false)
      expect((await b.limit('shared')).allowed).toBe(false)
      expect((await a.limit('shared:2')).allowed).toBe(true)
      const long = 'x'.repeat(5000)
      expect((await a.limit(long)).remaining).toBe(1)
      expect((await a.limit(`${long}y`)).remaining).toBe(1)
      expect((await b.limit(long)).remaining).toBe(0)
    })

    for (const algorithm of ALL) {
      it(`${algorithm}: 200 concurrent calls never exceed the limit of 50`, async () => {
        const c = fakeClock()
        const l = make({ algorithm, limit: 50, window: W, burst: 50 }, c.now)
        const decisions = await Promise.all(Array.from({ length: 200 }, () => l.limit('hot')))
        expect(decisions.filter((d) => d.source !== 'store')).toEqual([])
        expect(decisions.filter((d) => d.allowed)).toHaveLength(50)
      })
    }

    for (const algorithm of ALL) {
      it(`${algorithm}: a seeded random script decides exactly as the reference model`, async () => {
        const c = fakeClock()
        const rule = { algorithm, limit: 7, window: W, burst: 4 }
        const l = make(rule, c.now)
        const ref = ctx.subject().reference(rule, c.now)
        const next = seededRandom(algorithm.length * 7919)
        const keys = ['a', 'b']
        for (let step = 0; step < 120; step++) {
          c.advance(Math.floor(next() * 12_000))
          const key = keys[Math.floor(next() * keys.length)] as string
          const r = next()
          if (r < 0.08) {
            await l.refund(key, 1)
            await ref.refund(key, 1)
            continue
          }
          const options = { cost: 1 + Math.floor(next() * 3), upTo: r > 0.85 }
          const got = pick(await l.limit(key, options))
          const want = pick(await ref.limit(key, options))
          expect({ step, ...got }).toEqual({ step, ...want })
        }
        await ref.close()
      })
    }
  },
)
