// Published test vectors: if any of these fail, the implementation disagrees with the standard.
import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { aesGcmDecrypt, aesGcmEncrypt } from '../src/aead/gcm.ts'
import { createJwt, hkdf, hotp, importKey, isKryptoError, signBytes, totp, verifyBytes } from '../src/index.ts'

const hex = (s: string): Buffer => Buffer.from(s, 'hex')

describe('RFC 4226 appendix D (HOTP)', () => {
  const secret = Buffer.from('12345678901234567890')
  const expected = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489']
  it.each(expected.map((code, counter) => [counter, code]))('counter %i gives %s', (counter, code) => {
    expect(hotp(secret, counter)).toBe(code)
  })
})

describe('RFC 6238 appendix B (TOTP, 8 digits, 30 s)', () => {
  const seeds = {
    SHA1: Buffer.from('12345678901234567890'),
    SHA256: Buffer.from('12345678901234567890123456789012'),
    SHA512: Buffer.from('1234567890123456789012345678901234567890123456789012345678901234'),
  } as const
  const table: [number, string, string, string][] = [
    [59, '94287082', '46119246', '90693936'],
    [1111111109, '07081804', '68084774', '25091201'],
    [1111111111, '14050471', '67062674', '99943326'],
    [1234567890, '89005924', '91819424', '93441116'],
    [2000000000, '69279037', '90698825', '38618901'],
    [20000000000, '65353130', '77737706', '47863826'],
  ]
  it.each(table)('T=%i', (t, sha1, sha256, sha512) => {
    expect(totp(seeds.SHA1, { time: t * 1000, digits: 8, algorithm: 'SHA1' })).toBe(sha1)
    expect(totp(seeds.SHA256, { time: t * 1000, digits: 8, algorithm: 'SHA256' })).toBe(sha256)
    expect(totp(seeds.SHA512, { time: t * 1000, digits: 8, algorithm: 'SHA512' })).toBe(sha512)
  })
})

describe('RFC 5869 HKDF', () => {
  it('test case 1 (SHA-256)', () => {
    const okm = hkdf(hex('0b'.repeat(22)), {
      salt: hex('000102030405060708090a0b0c'),
      info: hex('f0f1f2f3f4f5f6f7f8f9'),
      length: 42,
    })
    expect(okm.toString('hex')).toBe(
      '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
    )
  })
  it('test case 3 (SHA-256, empty salt and info)', () => {
    const okm = hkdf(hex('0b'.repeat(22)), { length: 42 })
    expect(okm.toString('hex')).toBe(
      '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8',
    )
  })
  it('test case 4 (SHA-1)', () => {
    const okm = hkdf(hex('0b'.repeat(11)), {
      salt: hex('000102030405060708090a0b0c'),
      info: hex('f0f1f2f3f4f5f6f7f8f9'),
      length: 42,
      hash: 'sha1',
    })
    expect(okm.toString('hex')).toBe(
      '085a01ea1b10f36933068b56efa5ad81a4f14b822f5b091568a9cdd4f155fda2c22e422478d305f3f896',
    )
  })
})

describe('AES-GCM known answers (McGrew & Viega test cases)', () => {
  it('test case 2 (AES-128, zero key and IV, one zero block)', () => {
    const { ciphertext, tag } = aesGcmEncrypt(Buffer.alloc(16), Buffer.alloc(12), Buffer.alloc(16))
    expect(ciphertext.toString('hex')).toBe('0388dace60b6a392f328c2b971b2fe78')
    expect(tag.toString('hex')).toBe('ab6e47d42cec13bdf53a67b21257bddf')
  })
  it('test case 13 (AES-256, empty plaintext)', () => {
    const { ciphertext, tag } = aesGcmEncrypt(Buffer.alloc(32), Buffer.alloc(12), Buffer.alloc(0))
    expect(ciphertext.length).toBe(0)
    expect(tag.toString('hex')).toBe('530f8afbc74536b9a963b4f1c4cb738b')
  })
  it('test case 14 (AES-256, one zero block)', () => {
    const { ciphertext, tag } = aesGcmEncrypt(Buffer.alloc(32), Buffer.alloc(12), Buffer.alloc(16))
    expect(ciphertext.toString('hex')).toBe('cea7403d4d606b6e074ec5d3baf39d18')
    expect(tag.toString('hex')).toBe('d0d1c8a799996bf0265b98b5d48ab919')
  })
  const key = hex('feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308')
  const iv = hex('cafebabefacedbaddecaf888')
  const pt = hex(
    'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255',
  )
  const ct =
    '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad'
  it('test case 15 (AES-256, 4 blocks)', () => {
    const out = aesGcmEncrypt(key, iv, pt)
    expect(out.ciphertext.toString('hex')).toBe(ct)
    expect(out.tag.toString('hex')).toBe('b094dac5d93471bdec1a502270e3cc6c')
  })
  it('test case 16 (AES-256 with associated data) encrypts and decrypts', () => {
    const aad = hex('feedfacedeadbeeffeedfacedeadbeefabaddad2')
    const out = aesGcmEncrypt(key, iv, pt.subarray(0, 60), aad)
    expect(out.ciphertext.toString('hex')).toBe(ct.slice(0, 120))
    expect(out.tag.toString('hex')).toBe('76fc6ece0f4e1768cddf8853bb2d551b')
    expect(aesGcmDecrypt(key, iv, out.ciphertext, out.tag, aad)).toEqual(pt.subarray(0, 60))
    const badTag = Buffer.from(out.tag)
    badTag[0] = (badTag[0] as number) ^ 1
    expect(() => aesGcmDecrypt(key, iv, out.ciphertext, badTag, aad)).toThrow(
      expect.objectContaining({ code: 'KRYPTO_TAMPERED' }),
    )
  })
})

// RFC 7515 appendix A: the expiry (2011) is long gone, so the clock is set to just before it.
const rfcNow = (): number => 1300819000 * 1000
const RFC_PAYLOAD = 'eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ'

describe('RFC 7515 appendix A / RFC 7519 section 3.1', () => {
  it('A.1 HS256 (also the RFC 7519 example JWT) verifies, and is expired today', () => {
    const token = `eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.${RFC_PAYLOAD}.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk`
    const key = importKey({
      kty: 'oct',
      k: 'AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow',
    })
    const jwt = createJwt({ keys: [{ key, alg: 'HS256' }], now: rfcNow })
    expect(jwt.verify(token)).toEqual({ iss: 'joe', exp: 1300819380, 'http://example.com/is_root': true })
    const today = createJwt({ keys: [{ key, alg: 'HS256' }] })
    expect(() => today.verify(token)).toThrow(expect.objectContaining({ code: 'KRYPTO_JWT_EXPIRED' }))
  })

  const rsa = {
    kty: 'RSA',
    n: 'ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ',
    e: 'AQAB',
  }
  const rsaSig =
    'cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw'

  it('A.2 RS256 verifies with the published public key', () => {
    const jwt = createJwt({ keys: [{ key: rsa, alg: 'RS256' }], now: rfcNow })
    expect(jwt.verify(`eyJhbGciOiJSUzI1NiJ9.${RFC_PAYLOAD}.${rsaSig}`)).toMatchObject({ iss: 'joe' })
  })

  it('A.2 RS256: HS256 with the RSA public key as HMAC secret is refused (algorithm confusion)', () => {
    const jwt = createJwt({ keys: [{ key: rsa, alg: 'RS256' }], now: rfcNow })
    const pem = importKey(rsa).export({ format: 'pem', type: 'spki' }) as string
    const forgedInput = `${Buffer.from('{"alg":"HS256"}').toString('base64url')}.${RFC_PAYLOAD}`
    // The attacker HMACs with the public key's PEM text, as the classic confusion attack does.
    const forged = `${forgedInput}.${createHmac('sha256', pem).update(forgedInput).digest('base64url')}`
    expect(() => jwt.verify(forged)).toThrow(expect.objectContaining({ code: 'KRYPTO_JWT_ALGORITHM_NOT_ALLOWED' }))
  })

  it('A.3 ES256 verifies with the published public key', () => {
    const key = {
      kty: 'EC',
      crv: 'P-256',
      x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
      y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
    }
    const jwt = createJwt({ keys: [{ key, alg: 'ES256' }], now: rfcNow })
    const token = `eyJhbGciOiJFUzI1NiJ9.${RFC_PAYLOAD}.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q`
    expect(jwt.verify(token)).toMatchObject({ 'http://example.com/is_root': true })
    let caught: unknown
    try {
      jwt.verify(token.slice(0, -2) + 'Qg')
    } catch (err) {
      caught = err
    }
    expect(isKryptoError(caught, 'KRYPTO_JWT_BAD_SIGNATURE')).toBe(true)
  })

  it('RFC 8037 A.4 Ed25519 signature is reproduced exactly and verifies (A.5)', () => {
    const priv = importKey({
      kty: 'OKP',
      crv: 'Ed25519',
      d: 'nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A',
      x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo',
    })
    const pub = importKey({ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' })
    const input = Buffer.from('eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc')
    const sig = signBytes('EdDSA', input, priv)
    expect(sig.toString('base64url')).toBe(
      'hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg',
    )
    expect(verifyBytes('EdDSA', input, sig, pub)).toBe(true)
    expect(verifyBytes('EdDSA', Buffer.concat([input, Buffer.from('x')]), sig, pub)).toBe(false)
  })
})
