import { createCipheriv, createHmac, randomBytes } from 'node:crypto'
import type { Transform } from 'node:stream'
import { decodeBase64url } from '../encoding.ts'
import { KryptoError, invalidArgument } from '../errors.ts'
import { deriveInternalKey, deriveKey } from '../hkdf.ts'
import { NONCE, TAG, aesGcmDecrypt, aesGcmEncrypt, associatedBytes, toBytes, type CipherOptions } from './gcm.ts'
import { createDecryptStream, createEncryptStream, type StreamOptions } from './stream.ts'

/** One master key of a ring: an id and at least 32 secret bytes. */
export interface KeyRingKey {
  kid: string
  key: Uint8Array
}

/** What `createKeyRing` accepts: `kid1:base64,kid2:base64`, a list of `kid:base64`, or key objects. */
export type KeyRingInput = string | readonly string[] | readonly KeyRingKey[]

/**
 * A ring of AES-256-GCM master keys with ids: the first key encrypts, all decrypt. Envelopes
 * carry the version and key id, so rotation is "prepend a key, re-encrypt at leisure, drop the old one".
 */
export interface KeyRing {
  /** The id of the key that encrypts. */
  readonly currentKid: string
  /** Every key id, current first. */
  readonly kids: readonly string[]
  /** Encrypts to a text envelope `v1.<kid>.<nonce>.<ciphertext>.<tag>` (base64url parts). */
  encrypt(plaintext: Uint8Array | string, options?: CipherOptions): string
  /** Decrypts a text envelope; KRYPTO_TAMPERED when anything was altered. */
  decrypt(envelope: string, options?: CipherOptions): Buffer
  /** `decrypt` then UTF-8. */
  decryptString(envelope: string, options?: CipherOptions): string
  /** Encrypts to a compact binary envelope: `0x03, kid length, kid, nonce(12), ciphertext, tag(16)`. */
  encryptBytes(plaintext: Uint8Array | string, options?: CipherOptions): Buffer
  /** Decrypts a binary envelope. */
  decryptBytes(envelope: Uint8Array, options?: CipherOptions): Buffer
  /** The key id of a text or binary envelope (without decrypting). */
  kidOf(envelope: string | Uint8Array): string
  /** True when the envelope was not encrypted with the current key. */
  needsReencrypt(envelope: string | Uint8Array): boolean
  /** Decrypts and encrypts again with the current key (returns the input unchanged if it already uses it). */
  reencrypt<E extends string | Uint8Array>(envelope: E, options?: CipherOptions): E extends string ? string : Buffer
  /** A Transform that encrypts a stream in authenticated segments (truncation and reordering are detected). */
  encryptStream(options?: StreamOptions): Transform
  /** The Transform that decrypts what `encryptStream` wrote. */
  decryptStream(options?: CipherOptions): Transform
  /** HMAC-SHA256 (base64url) under a key derived for `purpose` from the current (or the given) key: for lookup keys of encrypted data. */
  hmac(data: Uint8Array | string, options?: { purpose?: string; kid?: string }): string
  /** The same HMAC under every key of the ring (current first), to find entries written before a rotation. */
  hmacAll(data: Uint8Array | string, options?: { purpose?: string }): { kid: string; mac: string }[]
  /** A key bound to `purpose` (HKDF) from the current or the given key. */
  deriveKey(purpose: string, options?: { kid?: string; length?: number }): Buffer
}

const KID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/
const TEXT_VERSION = 'v1'
// Binary envelopes start with 0x03 (0x02 starts a stream). Envelopes starting with 0x01 were
// authenticated exactly like text ones, so one could be rewritten into the other; they are refused.
const BIN_VERSION = 0x03

/** Parses `kid1:base64,kid2:base64` (standard or url-safe base64, at least 32 bytes each). */
export function parseKeyRing(input: KeyRingInput): KeyRingKey[] {
  const items =
    typeof input === 'string'
      ? input
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : input
  const out: KeyRingKey[] = []
  const seen = new Set<string>()
  for (const item of items) {
    let kid: string
    let key: Uint8Array
    if (typeof item === 'string') {
      const at = item.indexOf(':')
      if (at <= 0)
        throw new KryptoError(
          'KRYPTO_KEY_INVALID',
          `A key ring entry must be "kid:base64key"; entry ${out.length + 1} has no kid`,
        )
      kid = item.slice(0, at)
      const b64 = item.slice(at + 1).trim()
      if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(b64))
        throw new KryptoError('KRYPTO_KEY_INVALID', `The key "${kid}" is not base64`, { details: { kid } })
      key = Buffer.from(b64, 'base64')
    } else {
      kid = item.kid
      key = item.key
    }
    if (!KID_PATTERN.test(kid))
      throw new KryptoError('KRYPTO_KEY_INVALID', `The key id "${kid}" must be 1-64 of A-Z a-z 0-9 _ -`, {
        details: { kid },
      })
    if (seen.has(kid))
      throw new KryptoError('KRYPTO_KEY_INVALID', `The key id "${kid}" appears twice in the key ring`, {
        details: { kid },
      })
    if (key.length < 32) {
      throw new KryptoError(
        'KRYPTO_KEY_INVALID',
        `The key "${kid}" has ${key.length} bytes; a master key needs at least 32 (generate one with generateKeyRingEntry())`,
        { details: { kid } },
      )
    }
    seen.add(kid)
    out.push({ kid, key: Buffer.from(key) })
  }
  if (out.length === 0)
    throw new KryptoError('KRYPTO_KEYS_MISSING', 'The key ring is empty: give at least one "kid:base64key"')
  return out
}

/**
 * A new `kid:base64` entry (32 random bytes) to put first in BEAVER_KRYPTO_KEYS.
 * @example console.log(generateKeyRingEntry('2026-11'))
 */
export function generateKeyRingEntry(kid: string = new Date().toISOString().slice(0, 10)): string {
  if (!KID_PATTERN.test(kid)) throw invalidArgument(`The key id "${kid}" must be 1-64 of A-Z a-z 0-9 _ -`)
  return `${kid}:${randomBytes(32).toString('base64')}`
}

type EnvelopeFormat = 'text' | 'binary'

function aadFor(format: EnvelopeFormat, kid: string, associatedData: Uint8Array | string | undefined): Buffer {
  // The format, version and kid are authenticated too, so an envelope cannot be relabelled to
  // another key of the ring, nor rewritten from text into binary or back.
  const head = Buffer.from(
    format === 'text' ? `beaver-kit/krypto:v1:${kid}:` : `beaver-kit/krypto:bin3:${kid}:`,
    'utf8',
  )
  const associated = associatedBytes(associatedData)
  return associated === undefined ? head : Buffer.concat([head, associated])
}

/**
 * A key ring for AES-256-GCM. Each master key is first run through HKDF (purpose `aead:v1`),
 * so the same master key can also feed JWT and URL-signing keys without any two uses sharing a key.
 * Nonces are random (96 bits): stay below 2^32 encryptions per key, i.e. rotate long before.
 * @example
 * const ring = createKeyRing(process.env.BEAVER_KRYPTO_KEYS!)
 * const box = ring.encrypt('4111 1111 1111 1111', { associatedData: `user:${id}` })
 * ring.decryptString(box, { associatedData: `user:${id}` })
 */
export function createKeyRing(input: KeyRingInput): KeyRing {
  const masters = parseKeyRing(input)
  const aeadKeys = new Map<string, Buffer>()
  const masterByKid = new Map<string, Uint8Array>()
  for (const { kid, key } of masters) {
    aeadKeys.set(kid, deriveInternalKey(key, 'aead:v1'))
    masterByKid.set(kid, key)
  }
  const current = masters[0] as KeyRingKey
  const binHeader = Buffer.concat([Buffer.from([BIN_VERSION, current.kid.length]), Buffer.from(current.kid, 'latin1')])
  const currentKey = aeadKeys.get(current.kid) as Buffer

  function keyFor(kid: string): Buffer {
    const key = aeadKeys.get(kid)
    if (!key)
      throw new KryptoError(
        'KRYPTO_KEY_NOT_FOUND',
        `No key with id "${kid}" is in the key ring; was it removed before its data was re-encrypted?`,
        { details: { kid } },
      )
    return key
  }

  function parseText(envelope: string): { kid: string; nonce: Buffer; ct: Buffer; tag: Buffer } {
    const parts = typeof envelope === 'string' ? envelope.split('.') : []
    if (parts.length !== 5 || parts[0] !== TEXT_VERSION)
      throw new KryptoError(
        'KRYPTO_ENVELOPE_MALFORMED',
        'Not a krypto envelope: expected v1.<kid>.<nonce>.<ciphertext>.<tag>',
      )
    const kid = parts[1] as string
    const nonce = decodeBase64url(parts[2] as string)
    const ct = decodeBase64url(parts[3] as string)
    const tag = decodeBase64url(parts[4] as string)
    if (!KID_PATTERN.test(kid) || !nonce || !ct || !tag)
      throw new KryptoError('KRYPTO_ENVELOPE_MALFORMED', 'The envelope has a malformed key id or base64url part')
    if (nonce.length !== NONCE || tag.length !== TAG)
      throw new KryptoError('KRYPTO_ENVELOPE_MALFORMED', 'The envelope nonce or tag has the wrong length')
    return { kid, nonce, ct, tag }
  }

  function parseBinary(envelope: Uint8Array): { kid: string; nonce: Buffer; ct: Buffer; tag: Buffer } {
    const buf = toBytes(envelope)
    if (buf.length < 2 || buf[0] !== BIN_VERSION)
      throw new KryptoError(
        'KRYPTO_ENVELOPE_MALFORMED',
        `Not a binary krypto envelope (version byte 0x0${BIN_VERSION} expected)`,
      )
    const kidLen = buf[1] as number
    if (buf.length < 2 + kidLen + NONCE + TAG)
      throw new KryptoError('KRYPTO_ENVELOPE_MALFORMED', 'The binary envelope is truncated')
    const kid = buf.toString('latin1', 2, 2 + kidLen)
    if (!KID_PATTERN.test(kid))
      throw new KryptoError('KRYPTO_ENVELOPE_MALFORMED', 'The binary envelope has a malformed key id')
    const start = 2 + kidLen
    return {
      kid,
      nonce: buf.subarray(start, start + NONCE),
      ct: buf.subarray(start + NONCE, buf.length - TAG),
      tag: buf.subarray(buf.length - TAG),
    }
  }

  function seal(plaintext: Uint8Array | string, options: CipherOptions | undefined) {
    const nonce = randomBytes(NONCE)
    const { ciphertext, tag } = aesGcmEncrypt(
      currentKey,
      nonce,
      toBytes(plaintext),
      aadFor('text', current.kid, options?.associatedData),
    )
    return { nonce, ciphertext, tag }
  }

  function masterFor(kid: string | undefined): Uint8Array {
    const k = masterByKid.get(kid ?? current.kid)
    if (!k)
      throw new KryptoError('KRYPTO_KEY_NOT_FOUND', `No key with id "${kid}" is in the key ring`, { details: { kid } })
    return k
  }

  const ring: KeyRing = {
    currentKid: current.kid,
    kids: Object.freeze(masters.map((m) => m.kid)),
    encrypt(plaintext, options) {
      const { nonce, ciphertext, tag } = seal(plaintext, options)
      return `${TEXT_VERSION}.${current.kid}.${nonce.toString('base64url')}.${ciphertext.toString('base64url')}.${tag.toString('base64url')}`
    },
    decrypt(envelope, options) {
      const { kid, nonce, ct, tag } = parseText(envelope)
      return aesGcmDecrypt(keyFor(kid), nonce, ct, tag, aadFor('text', kid, options?.associatedData))
    },
    decryptString(envelope, options) {
      return ring.decrypt(envelope, options).toString('utf8')
    },
    encryptBytes(plaintext, options) {
      // One copy: the cipher's output goes straight into the envelope.
      const nonce = randomBytes(NONCE)
      const cipher = createCipheriv('aes-256-gcm', currentKey, nonce, { authTagLength: TAG })
      cipher.setAAD(aadFor('binary', current.kid, options?.associatedData))
      const body = cipher.update(toBytes(plaintext))
      const last = cipher.final()
      return Buffer.concat([binHeader, nonce, body, last, cipher.getAuthTag()])
    },
    decryptBytes(envelope, options) {
      const { kid, nonce, ct, tag } = parseBinary(envelope)
      return aesGcmDecrypt(keyFor(kid), nonce, ct, tag, aadFor('binary', kid, options?.associatedData))
    },
    kidOf(envelope) {
      return typeof envelope === 'string' ? parseText(envelope).kid : parseBinary(envelope).kid
    },
    needsReencrypt(envelope) {
      return ring.kidOf(envelope) !== current.kid
    },
    reencrypt(envelope, options) {
      type R = typeof envelope extends string ? string : Buffer
      if (!ring.needsReencrypt(envelope)) return envelope as unknown as R
      if (typeof envelope === 'string') return ring.encrypt(ring.decrypt(envelope, options), options) as R
      return ring.encryptBytes(ring.decryptBytes(envelope, options), options) as unknown as R
    },
    encryptStream(options = {}) {
      return createEncryptStream(current.kid, currentKey, options)
    },
    decryptStream(options = {}) {
      return createDecryptStream(keyFor, options)
    },
    hmac(data, options = {}) {
      const key = deriveInternalKey(masterFor(options.kid), `hmac:${options.purpose ?? 'default'}`)
      return createHmac('sha256', key).update(toBytes(data)).digest('base64url')
    },
    hmacAll(data, options = {}) {
      return ring.kids.map((kid) => ({ kid, mac: ring.hmac(data, { kid, purpose: options.purpose ?? 'default' }) }))
    },
    deriveKey(purpose, options = {}) {
      return deriveKey(masterFor(options.kid), purpose, options.length ?? 32)
    },
  }
  return Object.freeze(ring)
}
