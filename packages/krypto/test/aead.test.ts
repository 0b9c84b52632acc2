import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { deriveInternalKey } from '../src/hkdf.ts'
import { createKeyRing, deriveKey, generateKeyRingEntry, isKryptoError, parseKeyRing } from '../src/index.ts'

const K1 = generateKeyRingEntry('k1')
const K2 = generateKeyRingEntry('k2')

function errorCode(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    if (isKryptoError(err)) return err.code
    throw err
  }
  return undefined
}

function thrown(fn: () => unknown): Error {
  try {
    fn()
  } catch (err) {
    return err as Error
  }
  throw new Error('expected an error')
}

describe('key ring parsing', () => {
  it('accepts standard and url-safe base64 and refuses short keys, bad kids and duplicates without echoing the key', () => {
    const raw = randomBytes(32)
    expect(parseKeyRing(`a:${raw.toString('base64')},b:${raw.toString('base64url')}`).map((k) => k.kid)).toEqual([
      'a',
      'b',
    ])
    expect(errorCode(() => parseKeyRing(`a:${randomBytes(16).toString('base64')}`))).toBe('KRYPTO_KEY_INVALID')
    expect(errorCode(() => parseKeyRing(`a.b:${raw.toString('base64')}`))).toBe('KRYPTO_KEY_INVALID')
    expect(errorCode(() => parseKeyRing(`a:${raw.toString('base64')},a:${raw.toString('base64')}`))).toBe(
      'KRYPTO_KEY_INVALID',
    )
    expect(errorCode(() => parseKeyRing(''))).toBe('KRYPTO_KEYS_MISSING')
    const short = randomBytes(20).toString('base64')
    const err = thrown(() => parseKeyRing(`a:${short}`))
    expect(err).toMatchObject({ code: 'KRYPTO_KEY_INVALID', details: { kid: 'a' } })
    expect(err.message).toContain('has 20 bytes')
    expect(err.message).not.toContain(short)
    expect(JSON.stringify(err)).not.toContain(short)
  })
})

describe('envelopes', () => {
  const ring = createKeyRing(`${K1},${K2}`)

  it('round-trips text and binary envelopes with associated data', () => {
    const box = ring.encrypt('4111 1111 1111 1111', { associatedData: 'user:1' })
    expect(box).toMatch(/^v1\.k1\.[\w-]{16}\.[\w-]+\.[\w-]{22}$/)
    expect(ring.decryptString(box, { associatedData: 'user:1' })).toBe('4111 1111 1111 1111')
    expect(errorCode(() => ring.decrypt(box, { associatedData: 'user:2' }))).toBe('KRYPTO_TAMPERED')
    expect(errorCode(() => ring.decrypt(box))).toBe('KRYPTO_TAMPERED')
    const bin = ring.encryptBytes(Buffer.from([0, 1, 2]), { associatedData: Buffer.from('x') })
    expect(bin[0]).toBe(3)
    expect(ring.kidOf(bin)).toBe('k1')
    expect(ring.decryptBytes(bin, { associatedData: Buffer.from('x') })).toEqual(Buffer.from([0, 1, 2]))
    expect(ring.decryptString(ring.encrypt(''))).toBe('')
  })

  it('uses a fresh nonce every time', () => {
    const seen = new Set<string>()
    for (let i = 0; i < 200; i++) seen.add(ring.encrypt('same').split('.')[2] as string)
    expect(seen.size).toBe(200)
  })

  it('rejects every single-byte change of a text envelope', () => {
    const box = ring.encrypt('hello world', { associatedData: 'ad' })
    for (let i = 0; i < box.length; i++) {
      for (const bit of [1, 4, 32]) {
        const flipped = box.slice(0, i) + String.fromCharCode(box.charCodeAt(i) ^ bit) + box.slice(i + 1)
        const code = errorCode(() => ring.decrypt(flipped, { associatedData: 'ad' }))
        expect(
          ['KRYPTO_TAMPERED', 'KRYPTO_ENVELOPE_MALFORMED', 'KRYPTO_KEY_NOT_FOUND'],
          `byte ${i} bit ${bit}`,
        ).toContain(code)
      }
    }
  })

  it('rejects every bit flip of a binary envelope, and truncation', () => {
    const bin = ring.encryptBytes('hello world', { associatedData: 'ad' })
    for (let i = 0; i < bin.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const copy = Buffer.from(bin)
        copy[i] = (copy[i] as number) ^ (1 << bit)
        const code = errorCode(() => ring.decryptBytes(copy, { associatedData: 'ad' }))
        expect(code, `byte ${i} bit ${bit}`).toMatch(/^KRYPTO_(TAMPERED|ENVELOPE_MALFORMED|KEY_NOT_FOUND)$/)
      }
    }
    for (let n = 0; n < bin.length; n++)
      expect(
        errorCode(() => ring.decryptBytes(bin.subarray(0, n), { associatedData: 'ad' })),
        `length ${n}`,
      ).toMatch(/^KRYPTO_(TAMPERED|ENVELOPE_MALFORMED)$/)
  })

  it('empty associated data is refused, never the same as none', () => {
    const none = ring.encrypt('secret')
    const noneBin = ring.encryptBytes('secret')
    for (const empty of ['', new Uint8Array(0)]) {
      expect(errorCode(() => ring.decrypt(none, { associatedData: empty }))).toBe('KRYPTO_INVALID_ARGUMENT')
      expect(errorCode(() => ring.decryptBytes(noneBin, { associatedData: empty }))).toBe('KRYPTO_INVALID_ARGUMENT')
      expect(errorCode(() => ring.encrypt('x', { associatedData: empty }))).toBe('KRYPTO_INVALID_ARGUMENT')
      expect(errorCode(() => ring.encryptBytes('x', { associatedData: empty }))).toBe('KRYPTO_INVALID_ARGUMENT')
      expect(errorCode(() => ring.encryptStream({ associatedData: empty }))).toBe('KRYPTO_INVALID_ARGUMENT')
      expect(errorCode(() => ring.decryptStream({ associatedData: empty }))).toBe('KRYPTO_INVALID_ARGUMENT')
    }
    expect(ring.decryptString(none)).toBe('secret')
  })

  it('a text envelope rewritten as a binary one (or back) does not decrypt', () => {
    const text = ring.encrypt('secret', { associatedData: 'ad' })
    const [, kid, nonce, ct, tag] = text.split('.') as [string, string, string, string, string]
    const asBinary = Buffer.concat([
      Buffer.from([3, kid.length]),
      Buffer.from(kid, 'latin1'),
      Buffer.from(nonce, 'base64url'),
      Buffer.from(ct, 'base64url'),
      Buffer.from(tag, 'base64url'),
    ])
    expect(ring.kidOf(asBinary)).toBe('k1')
    expect(errorCode(() => ring.decryptBytes(asBinary, { associatedData: 'ad' }))).toBe('KRYPTO_TAMPERED')
    // The earlier binary layout (version byte 0x01) shared the text envelope's authentication, so it is not read.
    expect(
      errorCode(() =>
        ring.decryptBytes(Buffer.concat([Buffer.from([1]), asBinary.subarray(1)]), { associatedData: 'ad' }),
      ),
    ).toBe('KRYPTO_ENVELOPE_MALFORMED')
    const bin = ring.encryptBytes('secret', { associatedData: 'ad' })
    const start = 2 + (bin[1] as number)
    const asText = [
      'v1',
      'k1',
      bin.subarray(start, start + 12).toString('base64url'),
      bin.subarray(start + 12, bin.length - 16).toString('base64url'),
      bin.subarray(bin.length - 16).toString('base64url'),
    ].join('.')
    expect(errorCode(() => ring.decrypt(asText, { associatedData: 'ad' }))).toBe('KRYPTO_TAMPERED')
  })

  it('an envelope relabelled to another key id of the ring does not decrypt', () => {
    const box = ring.encrypt('secret')
    expect(errorCode(() => ring.decrypt(box.replace('v1.k1.', 'v1.k2.')))).toBe('KRYPTO_TAMPERED')
  })
})

describe('rotation', () => {
  it('old envelopes decrypt after a new key is prepended, and reencrypt moves them to it', () => {
    const before = createKeyRing(K1)
    const after = createKeyRing(`${K2},${K1}`)
    const old = before.encrypt('data', { associatedData: 'row:9' })
    const oldBin = before.encryptBytes('data')
    expect(after.needsReencrypt(old)).toBe(true)
    const moved = after.reencrypt(old, { associatedData: 'row:9' })
    expect(after.kidOf(moved)).toBe('k2')
    expect(after.needsReencrypt(moved)).toBe(false)
    expect(after.reencrypt(moved, { associatedData: 'row:9' })).toBe(moved)
    expect(after.decryptString(moved, { associatedData: 'row:9' })).toBe('data')
    expect(after.kidOf(after.reencrypt(oldBin))).toBe('k2')
    expect(errorCode(() => createKeyRing(K2).decrypt(old))).toBe('KRYPTO_KEY_NOT_FOUND')
  })
})

describe('purpose-bound keys and HMAC', () => {
  const ring = createKeyRing(`${K1},${K2}`)
  it('derives different keys per purpose and per key id, refusing the reserved purpose', () => {
    expect(ring.deriveKey('url-signer').equals(ring.deriveKey('session'))).toBe(false)
    expect(ring.deriveKey('x').equals(ring.deriveKey('x', { kid: 'k2' }))).toBe(false)
    expect(ring.deriveKey('x', { length: 64 })).toHaveLength(64)
    const master = parseKeyRing(K1)[0]!.key
    expect(ring.deriveKey('x').equals(deriveKey(master, 'x'))).toBe(true)
  })
  it('hmac is stable per key and purpose; hmacAll lists every key for lookups across a rotation', () => {
    expect(ring.hmac('user:1')).toBe(ring.hmac('user:1'))
    expect(ring.hmac('user:1')).not.toBe(ring.hmac('user:2'))
    expect(ring.hmac('user:1', { purpose: 'cache' })).not.toBe(ring.hmac('user:1'))
    const all = ring.hmacAll('user:1', { purpose: 'cache' })
    expect(all.map((m) => m.kid)).toEqual(['k1', 'k2'])
    expect(all[1]?.mac).toBe(createKeyRing(K2).hmac('user:1', { purpose: 'cache' }))
  })
})

// OpenSSL's command line has no AEAD mode, so GCM is rebuilt from its parts: OpenSSL's AES-CTR
// must give our ciphertext, and the tag must equal E(K, J0) xor GHASH(H, A, C) with E from
// OpenSSL's AES-ECB and GHASH computed here (NIST SP 800-38D, section 6.4).
describe('cross-check with openssl', () => {
  const openssl = (args: string[], input: Buffer): Buffer => execFileSync('openssl', args, { input })

  function gmul(x: bigint, y: bigint): bigint {
    const R = 0xe1n << 120n
    let z = 0n
    let v = y
    for (let i = 127n; i >= 0n; i--) {
      if ((x >> i) & 1n) z ^= v
      v = v & 1n ? (v >> 1n) ^ R : v >> 1n
    }
    return z
  }
  function ghash(h: Buffer, aad: Buffer, ct: Buffer): Buffer {
    const H = BigInt(`0x${h.toString('hex')}`)
    const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((16 - (b.length % 16)) % 16)])
    const lens = Buffer.alloc(16)
    lens.writeBigUInt64BE(BigInt(aad.length * 8), 0)
    lens.writeBigUInt64BE(BigInt(ct.length * 8), 8)
    const data = Buffer.concat([pad(aad), pad(ct), lens])
    let y = 0n
    for (let i = 0; i < data.length; i += 16) y = gmul(y ^ BigInt(`0x${data.subarray(i, i + 16).toString('hex')}`), H)
    return Buffer.from(y.toString(16).padStart(32, '0'), 'hex')
  }

  it('an envelope matches AES-256-GCM rebuilt with openssl', () => {
    const ring = createKeyRing(K1)
    const plaintext = Buffer.from('The quick brown fox jumps over the lazy dog, twice over.')
    const box = ring.encrypt(plaintext, { associatedData: 'ad' })
    const [, kid, nonceB64, ctB64, tagB64] = box.split('.') as string[]
    const nonce = Buffer.from(nonceB64 as string, 'base64url')
    const ct = Buffer.from(ctB64 as string, 'base64url')
    // The envelope key is the ring key derived for AEAD; the associated data is prefixed with the version and kid.
    const key = deriveInternalKey(parseKeyRing(K1)[0]!.key, 'aead:v1')
    const aad = Buffer.from(`beaver-kit/krypto:v1:${kid}:ad`)
    const counter2 = Buffer.concat([nonce, Buffer.from([0, 0, 0, 2])])
    const ctr = openssl(['enc', '-aes-256-ctr', '-K', key.toString('hex'), '-iv', counter2.toString('hex')], ct)
    expect(ctr).toEqual(plaintext)
    const j0 = Buffer.concat([nonce, Buffer.from([0, 0, 0, 1])])
    const ecb = openssl(
      ['enc', '-aes-256-ecb', '-nopad', '-K', key.toString('hex')],
      Buffer.concat([Buffer.alloc(16), j0]),
    )
    const h = ecb.subarray(0, 16)
    const ej0 = ecb.subarray(16, 32)
    const s = ghash(h, aad, ct)
    const tag = Buffer.from(ej0.map((b, i) => b ^ (s[i] as number)))
    expect(tag.toString('base64url')).toBe(tagB64)
  })
})
