import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  hashToken,
  padTo,
  randomCode,
  randomDelay,
  randomToken,
  timingSafeEqualString,
  uuidv7,
  verifyTokenHash,
} from '../src/index.ts'

describe('random tokens and codes', () => {
  it('makes URL-safe tokens of the requested entropy, with an optional prefix', () => {
    const t = randomToken()
    expect(t).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(randomToken({ bytes: 16, prefix: 'lnk_' })).toMatch(/^lnk_[A-Za-z0-9_-]{22}$/)
    expect(new Set(Array.from({ length: 100 }, () => randomToken())).size).toBe(100)
    expect(() => randomToken({ bytes: 8 })).toThrow(expect.objectContaining({ code: 'KRYPTO_INVALID_ARGUMENT' }))
  })
  it('makes numeric codes of any length with every digit possible in every place', () => {
    for (const n of [4, 6, 9, 12, 15]) expect(randomCode(n)).toMatch(new RegExp(`^\\d{${n}}$`))
    const seen = Array.from({ length: 6 }, () => new Set<string>())
    for (let i = 0; i < 400; i++) [...randomCode(6)].forEach((d, j) => seen[j]?.add(d))
    for (const s of seen) expect(s.size).toBe(10)
  })
})

describe('UUIDv7', () => {
  it('has the version and variant bits, the timestamp, and sorts in creation order', () => {
    const ms = 1_800_000_000_123
    const id = uuidv7(ms)
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(ms)
    const ids = Array.from({ length: 5000 }, () => uuidv7(ms + 1))
    expect([...ids].sort()).toEqual(ids)
    expect(new Set(ids).size).toBe(ids.length)
  })
})

describe('token hashes', () => {
  it('stores a hash, verifies the token against it in constant time, with or without a key', () => {
    const token = randomToken()
    const h = hashToken(token)
    expect(h).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(verifyTokenHash(token, h)).toBe(true)
    expect(verifyTokenHash(`${token}x`, h)).toBe(false)
    expect(verifyTokenHash('', h)).toBe(false)
    const keyed = hashToken(token, 'pepper')
    expect(keyed).not.toBe(h)
    expect(verifyTokenHash(token, keyed, 'pepper')).toBe(true)
    expect(verifyTokenHash(token, keyed)).toBe(false)
  })
  it('compares strings of different lengths safely', () => {
    expect(timingSafeEqualString('abc', 'abc')).toBe(true)
    expect(timingSafeEqualString('abc', 'abcd')).toBe(false)
    expect(timingSafeEqualString('', '')).toBe(true)
  })
})

describe('random delay and padding', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('randomDelay waits between min and max', async () => {
    let done = false
    const p = randomDelay(100, 200).then(() => {
      done = true
    })
    await vi.advanceTimersByTimeAsync(99)
    expect(done).toBe(false)
    await vi.advanceTimersByTimeAsync(101)
    expect(done).toBe(true)
    await p
    expect(() => randomDelay(5, 1)).toThrow(expect.objectContaining({ code: 'KRYPTO_INVALID_ARGUMENT' }))
  })

  it('randomDelay can be aborted', async () => {
    const ac = new AbortController()
    const p = randomDelay(1000, 1000, { signal: ac.signal })
    ac.abort(new Error('stop'))
    await expect(p).rejects.toThrow('stop')
  })

  it('padTo makes fast paths and failures take the minimum time', async () => {
    let t = 0
    const now = () => t
    let settled: string | undefined
    const fastFail = padTo(
      300,
      async () => {
        t += 10
        throw new Error('unknown user')
      },
      { now },
    ).catch((e: Error) => {
      settled = e.message
    })
    await vi.advanceTimersByTimeAsync(289)
    expect(settled).toBeUndefined()
    await vi.advanceTimersByTimeAsync(1)
    await fastFail
    expect(settled).toBe('unknown user')
    t = 0
    const slow = padTo(
      300,
      async () => {
        t += 500
        return 'ok'
      },
      { now },
    )
    await expect(slow).resolves.toBe('ok')
  })
})
