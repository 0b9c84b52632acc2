import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { decodeBase64url, fromPhcBase64, isStrictBase64url, toPhcBase64 } from '../src/encoding.ts'

describe('strict base64url', () => {
  it('agrees with the reference check on every length and on altered strings', () => {
    for (let n = 0; n < 40; n++) {
      const s = randomBytes(n).toString('base64url')
      expect(isStrictBase64url(s)).toBe(true)
      expect(decodeBase64url(s)?.toString('base64url')).toBe(s)
      for (const bad of ['+', '/', '=', ' ', '\n', '.', '!', 'é', '\u0000']) {
        for (const at of [0, Math.floor(s.length / 2), s.length]) {
          const t = s.slice(0, at) + bad + s.slice(at)
          expect(decodeBase64url(t), JSON.stringify(t)).toBeUndefined()
          expect(isStrictBase64url(t)).toBe(false)
        }
      }
    }
  })
  it('refuses non-zero unused bits of the last character and impossible lengths', () => {
    expect(decodeBase64url('AA')).toEqual(Buffer.from([0]))
    expect(decodeBase64url('AB')).toBeUndefined()
    expect(decodeBase64url('AAB')).toBeUndefined()
    expect(decodeBase64url('AAAAA')).toBeUndefined()
    expect(isStrictBase64url('AB')).toBe(false)
  })
  it('PHC base64 round-trips and refuses padding or url-safe characters', () => {
    const b = randomBytes(16)
    expect(fromPhcBase64(toPhcBase64(b))).toEqual(b)
    expect(fromPhcBase64(`${toPhcBase64(b)}==`)).toBeUndefined()
    // Fixed bytes whose encoding uses both characters that differ between the alphabets.
    const both = Buffer.from([0xfb, 0xff, 0xfe, 0xfb, 0xef, 0xbe])
    expect(toPhcBase64(both)).toBe('+//+++++')
    expect(both.toString('base64url')).toBe('-__-----')
    expect(fromPhcBase64('+//+++++')).toEqual(both)
    expect(fromPhcBase64('-__-----')).toBeUndefined()
    expect(fromPhcBase64('+//+-+++')).toBeUndefined()
    expect(fromPhcBase64('+/_+++++')).toBeUndefined()
  })
})
