import { KeyObject, createHash } from 'node:crypto'
import { PreparedHmac } from '../hmac.ts'
import { invalidArgument } from '../errors.ts'
import {
  ALGORITHMS,
  checkKeyForAlgorithm,
  defaultAlgorithmFor,
  importKey,
  isJwsAlgorithm,
  publicKeyOf,
} from '../keys.ts'
import type { JwtKeyInput, JwtVerifyKey } from './types.ts'

/** @internal A key of a JWT set, checked against its one algorithm, with its sign-side state prepared. */
export interface PreparedKey extends JwtVerifyKey {
  signKey: KeyObject | undefined
  /** The cached base64url header for the default typ. */
  headerB64: string
  /** The prepared HMAC of an HS* key (pads computed once). */
  hmac: PreparedHmac | undefined
  /** Length of the base64url signature for HMAC keys. */
  sigLength: number
}

/** The RFC 7638 JWK thumbprint (SHA-256, base64url) of a key's public part. */
export function jwkThumbprint(key: KeyObject): string {
  const jwk = key.type === 'secret' ? key.export({ format: 'jwk' }) : publicKeyOf(key).export({ format: 'jwk' })
  let members: Record<string, unknown>
  switch (jwk.kty) {
    case 'EC':
      members = { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
      break
    case 'RSA':
      members = { e: jwk.e, kty: jwk.kty, n: jwk.n }
      break
    case 'OKP':
      members = { crv: jwk.crv, kty: jwk.kty, x: jwk.x }
      break
    default:
      members = { k: jwk.k, kty: jwk.kty }
  }
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url')
}

/** @internal base64url of a value's JSON. */
export function b64json(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

/**
 * @internal Binds a key to exactly one algorithm (given, or the natural one for the key) and
 * refuses a key of another family, so `alg` confusion cannot happen later.
 */
export function prepareKey(input: JwtKeyInput | KeyObject | Uint8Array): PreparedKey {
  const entry: JwtKeyInput = input instanceof Uint8Array || input instanceof KeyObject ? { key: input } : input
  const { key: raw, kid: givenKid, alg: givenAlg } = entry
  const key = importKey(raw)
  const alg = givenAlg ?? defaultAlgorithmFor(key)
  if (!isJwsAlgorithm(alg)) throw invalidArgument(`Unknown JWS algorithm "${String(alg)}"`)
  const verifyKey = checkKeyForAlgorithm(key, alg, 'verify')
  const signKey = key.type === 'public' ? undefined : checkKeyForAlgorithm(key, alg, 'sign')
  const kid = givenKid ?? (key.type === 'secret' ? undefined : jwkThumbprint(key))
  const spec = ALGORITHMS[alg]
  const header: Record<string, unknown> = { alg, typ: 'JWT' }
  if (kid !== undefined) header.kid = kid
  return {
    kid,
    alg,
    key: verifyKey,
    signKey,
    headerB64: b64json(header),
    hmac: spec.kind === 'hmac' ? new PreparedHmac(spec.hash as 'sha256', verifyKey) : undefined,
    sigLength: Math.ceil((spec.size * 4) / 3),
  }
}

/** @internal Equality whose time depends only on the (public) length, not on where the strings differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i)
  return diff === 0
}
