import { describe, expect, it } from 'vitest'
import { base32Decode, base32Encode } from '../src/encoding.ts'
import { generateOtpSecret, hotp, otpauthUri, totp, verifyHotp, verifyTotp } from '../src/index.ts'

const secret = base32Encode(Buffer.from('12345678901234567890'))
const T = 1_800_000_000_000

describe('base32', () => {
  it('round-trips and reads what users paste (lower case, spaces, padding)', () => {
    expect(secret).toBe('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ')
    expect(base32Encode(Buffer.from('f'))).toBe('MY')
    expect(base32Encode(Buffer.from('foobar'))).toBe('MZXW6YTBOI')
    expect(base32Decode('mzxw 6ytb-oi======')?.toString()).toBe('foobar')
    expect(base32Decode('MZXW1')).toBeUndefined()
    expect(hotp('gezd gnbv gy3t qojq gezd gnbv gy3t qojq', 1)).toBe('287082')
  })
})

describe('TOTP verification', () => {
  it('accepts the current code and ±window steps, reporting the drift', async () => {
    const at = (step: number) => totp(secret, { time: T + step * 30_000 })
    expect(await verifyTotp(at(0), secret, { time: T })).toMatchObject({ valid: true, drift: 0 })
    expect(await verifyTotp(at(-1), secret, { time: T })).toMatchObject({ valid: true, drift: -1 })
    expect(await verifyTotp(at(1), secret, { time: T })).toMatchObject({ valid: true, drift: 1 })
    expect((await verifyTotp(at(2), secret, { time: T })).valid).toBe(false)
    expect((await verifyTotp(at(2), secret, { time: T, window: 2 })).valid).toBe(true)
    expect((await verifyTotp(at(-1), secret, { time: T, window: 0 })).valid).toBe(false)
  })

  it('refuses malformed codes without throwing', async () => {
    for (const code of ['', '12345', '1234567', 'abcdef', '12 34 5x'])
      expect((await verifyTotp(code, secret, { time: T })).valid).toBe(false)
    const ok = totp(secret, { time: T })
    expect((await verifyTotp(`${ok.slice(0, 3)} ${ok.slice(3)}`, secret, { time: T })).valid).toBe(true)
  })

  it('refuses a replay through afterStep (a code is accepted once, even inside the window)', async () => {
    const code = totp(secret, { time: T })
    const first = await verifyTotp(code, secret, { time: T })
    expect(first.valid).toBe(true)
    const again = await verifyTotp(code, secret, { time: T + 20_000, afterStep: first.step })
    expect(again).toMatchObject({ valid: false, replayed: true })
    const next = totp(secret, { time: T + 30_000 })
    expect((await verifyTotp(next, secret, { time: T + 30_000, afterStep: first.step })).valid).toBe(true)
  })

  it('refuses a replay through a guard hook (shared store across servers)', async () => {
    const used = new Set<string>()
    const replayGuard = ({ step, code }: { step: number; code: string }) => {
      const key = `${step}:${code}`
      if (used.has(key)) return false
      used.add(key)
      return true
    }
    const code = totp(secret, { time: T })
    expect((await verifyTotp(code, secret, { time: T, replayGuard })).valid).toBe(true)
    expect(await verifyTotp(code, secret, { time: T, replayGuard })).toMatchObject({ valid: false, replayed: true })
    // A wrong code never reaches the guard.
    expect((await verifyTotp('000000', secret, { time: T, replayGuard: () => true })).replayed).toBeUndefined()
  })

  it('supports SHA-256/512, 8 digits and 60 s periods', async () => {
    const opts = { algorithm: 'SHA512', digits: 8, period: 60, time: T } as const
    const code = totp(secret, opts)
    expect(code).toMatch(/^\d{8}$/)
    expect((await verifyTotp(code, secret, opts)).valid).toBe(true)
    expect((await verifyTotp(code, secret, { ...opts, algorithm: 'SHA256' })).valid).toBe(false)
    expect(() => totp(secret, { digits: 4 })).toThrow(expect.objectContaining({ code: 'KRYPTO_INVALID_ARGUMENT' }))
    expect(() => totp('not base32 !', {})).toThrow(expect.objectContaining({ code: 'KRYPTO_OTP_INVALID' }))
  })
})

describe('HOTP verification', () => {
  it('looks ahead within the window and returns the counter to store', () => {
    const raw = Buffer.from('12345678901234567890')
    expect(verifyHotp('969429', raw, 0, { window: 5 })).toEqual({ valid: true, counter: 3 })
    expect(verifyHotp('969429', raw, 0, { window: 2 })).toEqual({ valid: false })
    expect(verifyHotp('969429', raw, 4, { window: 5 })).toEqual({ valid: false })
    expect(verifyHotp('755224', raw, 0)).toEqual({ valid: true, counter: 0 })
  })

  it('bounds the look-ahead window (each step costs an HMAC)', () => {
    const raw = Buffer.from('12345678901234567890')
    expect(verifyHotp('520489', raw, 0, { window: 100 })).toEqual({ valid: true, counter: 9 })
    for (const window of [101, 3_000_000, -1, 1.5, Number.NaN])
      expect(() => verifyHotp('520489', raw, 0, { window })).toThrow(
        expect.objectContaining({
          code: 'KRYPTO_INVALID_ARGUMENT',
          message: `The HOTP window must be 0-100 counters, got ${window}`,
        }),
      )
  })

  it('bounds the TOTP window to 10 steps either side', async () => {
    await expect(verifyTotp('000000', secret, { window: 11 })).rejects.toMatchObject({
      code: 'KRYPTO_INVALID_ARGUMENT',
    })
  })
})

describe('otpauth URIs and secrets', () => {
  it('writes the Key Uri Format authenticator apps read', () => {
    expect(otpauthUri({ label: 'ada@example.com', issuer: 'Beaver Links', secret })).toBe(
      'otpauth://totp/Beaver%20Links:ada%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Beaver%20Links',
    )
    const uri = new URL(otpauthUri({ type: 'hotp', label: 'ada', secret, algorithm: 'SHA256', digits: 8, counter: 5 }))
    expect(uri.protocol).toBe('otpauth:')
    expect(Object.fromEntries(uri.searchParams)).toEqual({ secret, algorithm: 'SHA256', digits: '8', counter: '5' })
    expect(() => otpauthUri({ label: 'a:b', secret })).toThrow(
      expect.objectContaining({ code: 'KRYPTO_INVALID_ARGUMENT' }),
    )
  })
  it('generates 160-bit base32 secrets by default', () => {
    const s = generateOtpSecret()
    expect(s).toMatch(/^[A-Z2-7]{32}$/)
    expect(base32Decode(s)).toHaveLength(20)
    expect(generateOtpSecret()).not.toBe(s)
  })
})
