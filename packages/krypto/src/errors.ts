import { BeaverError, errorGuard, type BeaverErrorOptions } from '@beaver-kit/core'

/**
 * Every code `@beaver-kit/krypto` throws. Verification failures say precisely why, so that a
 * caller can answer "token expired, refresh it" differently from "signature forged, log it".
 */
export type KryptoErrorCode =
  /** An argument has the wrong type, size or range (a 10-byte AES key, digits: 4). */
  | 'KRYPTO_INVALID_ARGUMENT'
  /** A key could not be parsed or does not fit the algorithm it was given for. */
  | 'KRYPTO_KEY_INVALID'
  /** A keyed operation ran without keys: set BEAVER_KRYPTO_KEYS (or pass `keys`). */
  | 'KRYPTO_KEYS_MISSING'
  /** No key with the token's or envelope's key id (`kid`) is known. */
  | 'KRYPTO_KEY_NOT_FOUND'
  /** The runtime lacks a primitive (argon2 before Node 24.7). */
  | 'KRYPTO_UNSUPPORTED'
  /** The token is not three strict base64url segments of JSON objects. */
  | 'KRYPTO_JWT_MALFORMED'
  /** The header's `alg` is not allowed for the key (`none`, HS256 against an RSA key, ...). */
  | 'KRYPTO_JWT_ALGORITHM_NOT_ALLOWED'
  /** The signature does not match: forged, corrupted, or signed with another key. */
  | 'KRYPTO_JWT_BAD_SIGNATURE'
  /** `exp` is in the past (beyond the clock skew). */
  | 'KRYPTO_JWT_EXPIRED'
  /** `nbf` (or `iat`) is in the future (beyond the clock skew). */
  | 'KRYPTO_JWT_NOT_YET_VALID'
  /** `iat` is older than `maxAge`. */
  | 'KRYPTO_JWT_TOO_OLD'
  /** `aud` does not contain an expected audience. */
  | 'KRYPTO_JWT_WRONG_AUDIENCE'
  /** `iss` is not an expected issuer. */
  | 'KRYPTO_JWT_WRONG_ISSUER'
  /** `sub` is not the expected subject. */
  | 'KRYPTO_JWT_WRONG_SUBJECT'
  /** A required claim is absent, or a registered claim has the wrong type. */
  | 'KRYPTO_JWT_CLAIM_INVALID'
  /** The remote JWKS could not be fetched or parsed. */
  | 'KRYPTO_JWKS_FETCH_FAILED'
  /** The envelope is not one this package wrote (bad version, truncated, bad base64url). */
  | 'KRYPTO_ENVELOPE_MALFORMED'
  /** Authentication failed: the ciphertext, key id, nonce, tag or associated data was altered. */
  | 'KRYPTO_TAMPERED'
  /** A stored password hash is not a PHC/bcrypt string this package can read. */
  | 'KRYPTO_PASSWORD_HASH_MALFORMED'
  /** An OTP secret or code is malformed. */
  | 'KRYPTO_OTP_INVALID'
  /** The signed URL's expiry has passed. */
  | 'KRYPTO_URL_EXPIRED'
  /** The signed URL was altered (path, a bound parameter, expiry, key id or signature). */
  | 'KRYPTO_URL_TAMPERED'
  /** The signed URL is used with another HTTP method than it was signed for. */
  | 'KRYPTO_URL_WRONG_METHOD'
  /** The URL carries no signature or expiry parameter. */
  | 'KRYPTO_URL_UNSIGNED'
  /** The one-time URL's nonce was already used. */
  | 'KRYPTO_URL_REPLAYED'
  /** The instance was closed. */
  | 'KRYPTO_CLOSED'

/** The one error class of `@beaver-kit/krypto`; `code` says what failed, `details` with what. */
export class KryptoError extends BeaverError<KryptoErrorCode> {
  constructor(code: KryptoErrorCode, message: string, options?: BeaverErrorOptions) {
    super(code, message, options)
  }
}

/**
 * True for a krypto error, optionally with one of the given codes; works across duplicated installs.
 * @example if (isKryptoError(err, 'KRYPTO_JWT_EXPIRED')) return refresh()
 */
export const isKryptoError = errorGuard<KryptoErrorCode, KryptoError>('KRYPTO_')

/** @internal A KRYPTO_INVALID_ARGUMENT error. */
export function invalidArgument(message: string, details?: Record<string, unknown>): KryptoError {
  return new KryptoError('KRYPTO_INVALID_ARGUMENT', message, details ? { details } : {})
}
