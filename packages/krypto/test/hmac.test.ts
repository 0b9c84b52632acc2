import { createHmac, createSecretKey, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { PreparedHmac } from '../src/hmac.ts'

// The JWT hot path computes HMAC from pre-padded key blocks; it must equal createHmac everywhere.
describe('PreparedHmac', () => {
  const algorithms = ['sha256', 'sha384', 'sha512'] as const
  it.each(algorithms)(
    '%s equals createHmac for key sizes around the block and message sizes around the buffer',
    (alg) => {
      for (const keyLength of [1, 32, 63, 64, 65, 127, 128, 129, 300]) {
        const key = createSecretKey(randomBytes(keyLength))
        const h = new PreparedHmac(alg, key)
        for (const length of [0, 1, 55, 56, 64, 200, 5461, 5462, 20_000]) {
          const message = randomBytes(Math.ceil(length * 0.75))
            .toString('base64url')
            .slice(0, length)
          expect(h.digest(message, 'base64url'), `key ${keyLength} message ${length}`).toBe(
            createHmac(alg, key).update(message).digest('base64url'),
          )
        }
        // Non-ASCII text is hashed as UTF-8, like createHmac does with a string.
        const text = 'é€😀'.repeat(50)
        expect(h.digest(text, 'hex')).toBe(createHmac(alg, key).update(text).digest('hex'))
        expect(h.digest('é'.repeat(6000), 'hex')).toBe(createHmac(alg, key).update('é'.repeat(6000)).digest('hex'))
      }
    },
  )
  it('RFC 4231 test case 2 (HMAC-SHA-256, key "Jefe")', () => {
    const h = new PreparedHmac('sha256', createSecretKey(Buffer.from('Jefe')))
    expect(h.digest('what do ya want for nothing?', 'hex')).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    )
  })
  it('successive calls do not leak state into each other', () => {
    const key = createSecretKey(randomBytes(32))
    const h = new PreparedHmac('sha256', key)
    const long = 'x'.repeat(3000)
    h.digest(long, 'hex')
    expect(h.digest('short', 'hex')).toBe(createHmac('sha256', key).update('short').digest('hex'))
  })
})
