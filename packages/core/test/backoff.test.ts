import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { backoffDelay, parseRetryAfter, retry, sleep } from '@beaver-kit/core'

describe('backoffDelay', () => {
  it('grows exponentially and is capped, without jitter', () => {
    const o = { baseMs: 100, maxMs: 1000, jitter: 'none' as const }
    expect([1, 2, 3, 4, 5, 10].map((n) => backoffDelay(n, o))).toEqual([100, 200, 400, 800, 1000, 1000])
  })

  it('full jitter stays within [0, exp] and equal jitter within [exp/2, exp]', () => {
    expect(backoffDelay(3, { baseMs: 100, random: () => 0 })).toBe(0)
    expect(backoffDelay(3, { baseMs: 100, random: () => 0.999 })).toBeCloseTo(399.6)
    expect(backoffDelay(3, { baseMs: 100, jitter: 'equal', random: () => 0 })).toBe(200)
    for (let i = 0; i < 1000; i++) {
      const d = backoffDelay(20, { baseMs: 100, maxMs: 5000 })
      expect(d).toBeGreaterThanOrEqual(0)
      expect(d).toBeLessThanOrEqual(5000)
    }
  })
})

describe('retry', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  it('retries until success and reports each retry', async () => {
    let calls = 0
    const seen: number[] = []
    const p = retry(
      async (attempt) => {
        calls++
        if (attempt < 3) throw new Error(`fail ${attempt}`)
        return 'ok'
      },
      { maxAttempts: 5, baseMs: 100, jitter: 'none', onRetry: (i) => seen.push(i.delayMs) },
    )
    await vi.advanceTimersByTimeAsync(300)
    await expect(p).resolves.toBe('ok')
    expect(calls).toBe(3)
    expect(seen).toEqual([100, 200])
  })

  it('rethrows the last error unchanged when attempts run out', async () => {
    const errors = [new Error('1'), new Error('2'), new Error('3')]
    const p = retry(async (a) => Promise.reject(errors[a - 1]), { maxAttempts: 3, baseMs: 10, jitter: 'none' })
    const settled = p.catch((e: unknown) => e)
    await vi.advanceTimersByTimeAsync(100)
    expect(await settled).toBe(errors[2])
  })

  it('does not retry what shouldRetry refuses', async () => {
    let calls = 0
    const fatal = new Error('400 bad request')
    await expect(
      retry(
        async () => {
          calls++
          throw fatal
        },
        { shouldRetry: () => false },
      ),
    ).rejects.toBe(fatal)
    expect(calls).toBe(1)
  })

  it('honours a server hint (Retry-After) up to a cap instead of the computed delay', async () => {
    const delays: number[] = []
    const p = retry(
      async (a) => {
        if (a < 3) throw Object.assign(new Error('503'), { retryAfterMs: a === 1 ? 2000 : 999_999 })
        return a
      },
      {
        maxAttempts: 3,
        retryAfter: (e) => (e as { retryAfterMs?: number }).retryAfterMs,
        maxRetryAfterMs: 5000,
        onRetry: (i) => delays.push(i.delayMs),
      },
    )
    await vi.advanceTimersByTimeAsync(7000)
    await expect(p).resolves.toBe(3)
    expect(delays).toEqual([2000, 5000])
  })

  it('stops before a retry that would pass the deadline', async () => {
    let calls = 0
    const err = new Error('down')
    const p = retry(
      async () => {
        calls++
        throw err
      },
      { maxAttempts: 10, baseMs: 1000, jitter: 'none', deadline: Date.now() + 2500 },
    ).catch((e: unknown) => e)
    await vi.advanceTimersByTimeAsync(10_000)
    expect(await p).toBe(err)
    expect(calls).toBe(2)
  })

  it('checks the deadline before asking shouldRetry', async () => {
    let asked = 0
    const err = new Error('down')
    const p = retry(async () => Promise.reject(err), {
      maxAttempts: 5,
      baseMs: 1000,
      jitter: 'none',
      deadline: Date.now() + 500,
      shouldRetry: () => {
        asked++
        return true
      },
    }).catch((e: unknown) => e)
    await vi.advanceTimersByTimeAsync(2000)
    expect(await p).toBe(err)
    expect(asked).toBe(0)
  })

  it('aborts during the wait with the signal reason', async () => {
    const ac = new AbortController()
    const p = retry(async () => Promise.reject(new Error('x')), {
      maxAttempts: 5,
      baseMs: 1000,
      jitter: 'none',
      signal: ac.signal,
    }).catch((e: unknown) => e)
    await vi.advanceTimersByTimeAsync(10)
    ac.abort(new Error('caller gave up'))
    expect(((await p) as Error).message).toBe('caller gave up')
  })

  it('sleep rejects at once for an already aborted signal', async () => {
    await expect(sleep(10, AbortSignal.abort(new Error('already')))).rejects.toThrow('already')
  })
})

describe('parseRetryAfter', () => {
  it('reads delta-seconds and HTTP dates', () => {
    const now = Date.parse('2026-11-21T00:00:00Z')
    expect(parseRetryAfter('120', now)).toBe(120_000)
    expect(parseRetryAfter('Sat, 21 Nov 2026 00:00:30 GMT', now)).toBe(30_000)
    expect(parseRetryAfter('Fri, 20 Nov 2026 00:00:00 GMT', now)).toBe(0)
    expect(parseRetryAfter('soon', now)).toBeUndefined()
    expect(parseRetryAfter(undefined, now)).toBeUndefined()
    expect(parseRetryAfter('-5', now)).toBeUndefined()
  })
})
