import { createCipheriv, createDecipheriv } from 'node:crypto'
import { KryptoError } from '../errors.ts'

/** Options of every encrypt/decrypt call. */
export interface CipherOptions {
  /**
   * Data bound to the ciphertext but not encrypted (a user id, a table+column name); decryption
   * must pass the same. Never empty: omit it to bind nothing.
   */
  associatedData?: Uint8Array | string
}

/** @internal Nonce and tag lengths of every AES-GCM use in the package. */
export const NONCE = 12
export const TAG = 16

/** @internal Bytes of a string (UTF-8) or a view, without copying a Buffer. */
export function toBytes(value: Uint8Array | string): Buffer {
  return typeof value === 'string'
    ? Buffer.from(value, 'utf8')
    : Buffer.isBuffer(value)
      ? value
      : Buffer.from(value.buffer, value.byteOffset, value.byteLength)
}

/** Raw AES-256-GCM (for known-answer tests and callers that manage nonces themselves). */
export function aesGcmEncrypt(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad?: Uint8Array,
): { ciphertext: Buffer; tag: Buffer } {
  const cipher = createCipheriv(`aes-${key.length * 8}-gcm` as 'aes-256-gcm', key, nonce, { authTagLength: TAG })
  if (aad && aad.length > 0) cipher.setAAD(aad)
  const ciphertext =
    plaintext.length > 0 ? Buffer.concat([cipher.update(plaintext), cipher.final()]) : (cipher.final(), Buffer.alloc(0))
  return { ciphertext, tag: cipher.getAuthTag() }
}

/** Raw AES-GCM decryption; KRYPTO_TAMPERED when the tag does not verify. */
export function aesGcmDecrypt(
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  tag: Uint8Array,
  aad?: Uint8Array,
): Buffer {
  if (tag.length !== TAG) throw new KryptoError('KRYPTO_TAMPERED', 'The authentication tag has the wrong length')
  const decipher = createDecipheriv(`aes-${key.length * 8}-gcm` as 'aes-256-gcm', key, nonce, { authTagLength: TAG })
  decipher.setAuthTag(tag)
  if (aad && aad.length > 0) decipher.setAAD(aad)
  try {
    return Buffer.concat([decipher.update(ciphertext), decipher.final()])
  } catch (err) {
    throw new KryptoError(
      'KRYPTO_TAMPERED',
      'Decryption failed: the ciphertext, key id, nonce, tag or associated data was altered, or the key is wrong',
      { cause: err },
    )
  }
}

/**
 * @internal The caller's associated data as bytes. Empty associated data is refused: it binds
 * nothing, so `associatedData: user.id ?? ''` would silently open data stored without any.
 */
export function associatedBytes(associatedData: Uint8Array | string | undefined): Buffer | undefined {
  if (associatedData === undefined) return undefined
  const bytes = toBytes(associatedData)
  if (bytes.length === 0) {
    throw new KryptoError(
      'KRYPTO_INVALID_ARGUMENT',
      'associatedData is empty: omit it to bind nothing, or bind a non-empty value (an empty one would match data encrypted without any)',
    )
  }
  return bytes
}
