import { decodeBase64url } from '../encoding.ts'
import { KryptoError, type KryptoErrorCode } from '../errors.ts'
import { isJwsAlgorithm } from '../keys.ts'
import type { JwtHeader, JwtPayload } from './types.ts'

/** @internal Throws a KryptoError with `details` (never a token or key). */
export function fail(code: KryptoErrorCode, message: string, details?: Record<string, unknown>): never {
  throw new KryptoError(code, message, details ? { details } : {})
}

/** @internal The positions of the two dots of a compact JWS, or KRYPTO_JWT_MALFORMED. */
export function splitToken(token: string): [number, number] {
  if (typeof token !== 'string') fail('KRYPTO_JWT_MALFORMED', 'A JWT must be a string')
  const dot1 = token.indexOf('.')
  const dot2 = dot1 < 0 ? -1 : token.indexOf('.', dot1 + 1)
  if (dot1 <= 0 || dot2 < 0 || token.indexOf('.', dot2 + 1) !== -1) {
    fail('KRYPTO_JWT_MALFORMED', 'A JWT has three dot-separated segments (header.payload.signature)')
  }
  return [dot1, dot2]
}

function parseObject(segment: string, part: 'header' | 'payload'): Record<string, unknown> {
  const bytes = decodeBase64url(segment)
  if (bytes === undefined) fail('KRYPTO_JWT_MALFORMED', `The JWT ${part} is not canonical base64url`)
  let value: unknown
  try {
    value = JSON.parse(bytes.toString('utf8'))
  } catch {
    fail('KRYPTO_JWT_MALFORMED', `The JWT ${part} is not JSON`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail('KRYPTO_JWT_MALFORMED', `The JWT ${part} is not a JSON object`)
  return value as Record<string, unknown>
}

/** @internal Parses and checks a protected header: a known `alg` (never `none`), no extension it cannot honour. */
export function parseHeader(segment: string): JwtHeader {
  const h = parseObject(segment, 'header')
  if (!isJwsAlgorithm(h.alg)) {
    fail(
      'KRYPTO_JWT_ALGORITHM_NOT_ALLOWED',
      `The JWT algorithm ${JSON.stringify(h.alg)} is not accepted (never "none")`,
      { alg: h.alg },
    )
  }
  if (h.kid !== undefined && typeof h.kid !== 'string')
    fail('KRYPTO_JWT_MALFORMED', 'The JWT header "kid" is not a string')
  if (h.typ !== undefined && typeof h.typ !== 'string')
    fail('KRYPTO_JWT_MALFORMED', 'The JWT header "typ" is not a string')
  // No extension is understood, so any critical one must be refused (RFC 7515 4.1.11); b64:false changes the signing input.
  if (h.crit !== undefined)
    fail('KRYPTO_JWT_MALFORMED', 'The JWT header lists critical extensions this verifier does not understand')
  if (h.b64 !== undefined) fail('KRYPTO_JWT_MALFORMED', 'Unencoded JWS payloads (b64) are not accepted for JWTs')
  if (h.enc !== undefined) fail('KRYPTO_JWT_MALFORMED', 'The token is a JWE; only signed JWTs are verified here')
  return Object.freeze(h) as JwtHeader
}

/** @internal Parses a payload segment: canonical base64url of a JSON object. */
export function parsePayload(segment: string): JwtPayload {
  return parseObject(segment, 'payload') as JwtPayload
}

/**
 * Reads a JWT's header and payload WITHOUT verifying anything: for routing and debugging only,
 * never for trust decisions.
 */
export function decodeJwtUnverified(token: string): { header: JwtHeader; payload: JwtPayload } {
  const parts = typeof token === 'string' ? token.split('.') : []
  if (parts.length !== 3) fail('KRYPTO_JWT_MALFORMED', 'A JWT has three dot-separated segments')
  return { header: parseHeader(parts[0] as string), payload: parsePayload(parts[1] as string) }
}

/** @internal `application/JWT` and `jwt` are the same typ (RFC 7515 4.1.9). */
export function normalizeTyp(typ: string): string {
  const lower = typ.toLowerCase()
  return lower.startsWith('application/') ? lower.slice(12) : lower
}
