import { hkdfSync, type KeyObject } from 'node:crypto'
import { invalidArgument } from './errors.ts'

/** Hash functions accepted by HKDF and HMAC helpers. */
export type HashAlgorithm = 'sha256' | 'sha384' | 'sha512' | 'sha1'

/** Inputs of `hkdf` besides the key material. */
export interface HkdfOptions {
  /** Non-secret salt; empty by default (RFC 5869 allows it). */
  salt?: Uint8Array | string
  /** Context and application specific information. */
  info?: Uint8Array | string
  /** Output length in bytes. Default 32. */
  length?: number
  /** Default sha256. */
  hash?: HashAlgorithm
}

/**
 * HKDF (RFC 5869) extract-and-expand over node:crypto.
 * @example const okm = hkdf(masterKey, { info: 'my-app:cookies', length: 32 })
 */
export function hkdf(ikm: Uint8Array | string | KeyObject, options: HkdfOptions = {}): Buffer {
  const { salt = Buffer.alloc(0), info = Buffer.alloc(0), length = 32, hash = 'sha256' } = options
  if (!Number.isInteger(length) || length < 1)
    throw invalidArgument(`HKDF length must be a positive integer, got ${length}`)
  return Buffer.from(hkdfSync(hash, ikm, salt, info, length))
}

/**
 * A key bound to one purpose: HKDF-SHA256 of the master key with the info
 * `beaver-kit/krypto:<purpose>`. Two purposes never share a key, so a key derived for URL
 * signing can never verify a session token even though both come from one master secret.
 * @example const urlKey = deriveKey(master, 'url-signer')
 */
export function deriveKey(master: Uint8Array | KeyObject, purpose: string, length = 32): Buffer {
  if (purpose.length === 0) throw invalidArgument('deriveKey needs a non-empty purpose')
  // Application purposes live in their own namespace, so no purpose string an application picks
  // can reproduce a key the package uses itself (JWT, envelopes, URL signing).
  return hkdf(master, { info: `beaver-kit/krypto:app:${purpose}`, length })
}

/** @internal The package's own purposes (`aead:v1`, `jwt:HS256`, `url-signer:v1`, `hmac:<purpose>`). */
export function deriveInternalKey(master: Uint8Array | KeyObject, purpose: string, length = 32): Buffer {
  return hkdf(master, { info: `beaver-kit/krypto:${purpose}`, length })
}
