import type { KeyObject, JsonWebKey } from 'node:crypto'
import type { Duration } from '@beaver-kit/config'
import type { JwsAlgorithm, KeyInput } from '../keys.ts'

/** The registered claims (RFC 7519 section 4.1). Times are seconds since the epoch. */
export interface JwtClaims {
  iss?: string
  sub?: string
  aud?: string | string[]
  exp?: number
  nbf?: number
  iat?: number
  jti?: string
}

/** A decoded payload: the registered claims plus anything else the issuer put in. */
export type JwtPayload = JwtClaims & { [claim: string]: unknown }

/** The protected header as this package reads it. */
export interface JwtHeader {
  alg: JwsAlgorithm
  kid?: string
  typ?: string
  [name: string]: unknown
}

/** One key of a JWT key set. */
export interface JwtKeyInput {
  /** PEM, JWK, raw secret bytes or a KeyObject. */
  key: KeyInput
  /** Key id put in the header and used to pick the key; asymmetric keys default to their RFC 7638 thumbprint. */
  kid?: string
  /** The one algorithm this key is used with. Default: the natural one for the key (HS256 for a 32-byte secret, ES256 for P-256, ...). */
  alg?: JwsAlgorithm
}

/** Options of `createJwt`: the key set and the defaults of every sign and verify. */
export interface JwtOptions {
  /** The key set: the first key signs, every key verifies (rotation: put the new key first, keep the old ones). */
  keys?: readonly (JwtKeyInput | KeyObject | Uint8Array)[]
  /** Where to find keys whose `kid` is not local (for `verifyAsync`), e.g. `createRemoteJwks(url)`. */
  jwks?: JwtKeySource
  /** `iss` put on signed tokens (the first) and accepted on verification (any). */
  issuer?: string | readonly string[]
  /** `aud` put on signed tokens and accepted on verification (any one must match). */
  audience?: string | readonly string[]
  /** Lifetime of signed tokens. Default 15 minutes; `false` signs tokens without `exp`. */
  expiresIn?: Duration | false
  /** Tolerance for `exp`, `nbf` and `iat` when verifying. Default 30 s. */
  clockSkew?: Duration
  /** Reject tokens whose `iat` is older than this. */
  maxAge?: Duration
  /** Claims that must be present. Default `['exp']`: a token that never expires is refused. */
  requiredClaims?: readonly string[]
  /** Expected header `typ` (compared case-insensitively, `application/` prefix ignored), e.g. `at+jwt`. */
  typ?: string
  /** Put a random `jti` on signed tokens. Default true. */
  jti?: boolean
  /** The clock, in milliseconds. Default Date.now. */
  now?: () => number
}

/** Per-token options of `sign`; they override the instance defaults. */
export interface SignOptions {
  expiresIn?: Duration | false
  /** `nbf` as a delay from now. */
  notBefore?: Duration
  subject?: string
  audience?: string | readonly string[]
  issuer?: string
  jwtId?: string
  /** Sign with this key id of the set instead of the first key. */
  kid?: string
  /** Extra protected header parameters (`alg` and `kid` cannot be overridden). */
  header?: Record<string, unknown>
}

/** Per-call options of `verify`; they override the instance defaults. */
export interface VerifyOptions<T> {
  audience?: string | readonly string[]
  issuer?: string | readonly string[]
  subject?: string
  maxAge?: Duration
  requiredClaims?: readonly string[]
  typ?: string
  /** Narrows the payload to `T` (a schema's parse function); a throw becomes KRYPTO_JWT_CLAIM_INVALID. */
  validate?: (payload: JwtPayload) => T
}

/** A verified token. */
export interface VerifiedJwt<T> {
  header: JwtHeader
  payload: T
}

/** A key ready for verification. */
export interface JwtVerifyKey {
  kid: string | undefined
  alg: JwsAlgorithm
  key: KeyObject
}

/** Where `verifyAsync` finds keys it does not hold locally (a remote JWKS). */
export interface JwtKeySource {
  /** Keys that may verify a token with this header; an empty array when none. */
  getKeys(header: JwtHeader): Promise<readonly JwtVerifyKey[]>
  close?(): void | Promise<void>
}

/** Signs and verifies JWTs with a key set (see `createJwt`). */
export interface Jwt {
  /**
   * Signs a payload. `iat` is always now; `exp`, `iss`, `aud`, `sub` and `jti` from the options and
   * the instance win over the same claims in the payload, so a payload built from user input can
   * never extend a token's lifetime or change its issuer or audience.
   */
  sign<P extends object>(payload: P, options?: SignOptions): string
  /** Verifies against the local keys, synchronously, and returns the payload. */
  verify<T = JwtPayload>(token: string, options?: VerifyOptions<T>): T
  /** Like `verify`, returning the header too. */
  verifyComplete<T = JwtPayload>(token: string, options?: VerifyOptions<T>): VerifiedJwt<T>
  /** Verifies against local keys, then the remote key source (JWKS) for an unknown `kid`. */
  verifyAsync<T = JwtPayload>(token: string, options?: VerifyOptions<T>): Promise<T>
  /** The public keys of the set as a JWKS document, to publish at `/.well-known/jwks.json`. */
  jwks(): { keys: JsonWebKey[] }
  /** The key id that signs, if any. */
  readonly currentKid: string | undefined
}
