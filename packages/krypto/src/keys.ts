import {
  KeyObject,
  constants,
  createHmac,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  generateKeyPairSync,
  randomBytes,
  sign as cryptoSign,
  timingSafeEqual,
  verify as cryptoVerify,
  type JsonWebKey,
} from 'node:crypto'
import { decodeBase64url } from './encoding.ts'
import { KryptoError, invalidArgument } from './errors.ts'

/** JWS algorithms (RFC 7518 section 3, RFC 8037 for EdDSA). `none` does not exist here. */
export type JwsAlgorithm =
  | 'HS256'
  | 'HS384'
  | 'HS512'
  | 'RS256'
  | 'RS384'
  | 'RS512'
  | 'PS256'
  | 'PS384'
  | 'PS512'
  | 'ES256'
  | 'ES384'
  | 'ES512'
  | 'EdDSA'

/** The asymmetric JWS algorithms, for which a key pair is generated. */
export type AsymmetricAlgorithm = Exclude<JwsAlgorithm, 'HS256' | 'HS384' | 'HS512'>

interface AlgSpec {
  kind: 'hmac' | 'rsa' | 'pss' | 'ec' | 'ed'
  hash: 'sha256' | 'sha384' | 'sha512' | undefined
  /** Minimum HMAC key length, or the fixed ECDSA raw signature length, in bytes. */
  size: number
  curve?: string
}

/** @internal What each JWS algorithm needs: key family, hash, sizes, curve. */
export const ALGORITHMS: Readonly<Record<JwsAlgorithm, AlgSpec>> = Object.freeze({
  HS256: { kind: 'hmac', hash: 'sha256', size: 32 },
  HS384: { kind: 'hmac', hash: 'sha384', size: 48 },
  HS512: { kind: 'hmac', hash: 'sha512', size: 64 },
  RS256: { kind: 'rsa', hash: 'sha256', size: 0 },
  RS384: { kind: 'rsa', hash: 'sha384', size: 0 },
  RS512: { kind: 'rsa', hash: 'sha512', size: 0 },
  PS256: { kind: 'pss', hash: 'sha256', size: 0 },
  PS384: { kind: 'pss', hash: 'sha384', size: 0 },
  PS512: { kind: 'pss', hash: 'sha512', size: 0 },
  ES256: { kind: 'ec', hash: 'sha256', size: 64, curve: 'prime256v1' },
  ES384: { kind: 'ec', hash: 'sha384', size: 96, curve: 'secp384r1' },
  ES512: { kind: 'ec', hash: 'sha512', size: 132, curve: 'secp521r1' },
  EdDSA: { kind: 'ed', hash: undefined, size: 0 },
})

const JWK_CURVES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' }

/** True for the name of a supported JWS algorithm (never `none`). */
export function isJwsAlgorithm(value: unknown): value is JwsAlgorithm {
  return typeof value === 'string' && Object.hasOwn(ALGORITHMS, value)
}

/** Random bytes for an HMAC secret (default 32 bytes, the HS256 minimum) or an AES-256 key. */
export function generateSecret(bytes = 32): Buffer {
  if (!Number.isInteger(bytes) || bytes < 16) throw invalidArgument(`A secret needs at least 16 bytes, got ${bytes}`)
  return randomBytes(bytes)
}

/** The result of `generateKeyPair`. */
export interface GeneratedKeyPair {
  privateKey: KeyObject
  publicKey: KeyObject
}

/**
 * A fresh key pair for an asymmetric JWS algorithm: RSA (2048-bit by default), ECDSA on the
 * algorithm's curve, or Ed25519 for EdDSA.
 * @example const { privateKey, publicKey } = generateKeyPair('ES256')
 */
export function generateKeyPair(alg: AsymmetricAlgorithm, options: { modulusLength?: number } = {}): GeneratedKeyPair {
  const spec = ALGORITHMS[alg]
  if (!spec || spec.kind === 'hmac')
    throw invalidArgument(`generateKeyPair needs an asymmetric algorithm, got "${String(alg)}"`)
  switch (spec.kind) {
    case 'rsa':
    case 'pss': {
      const modulusLength = options.modulusLength ?? 2048
      if (modulusLength < 2048) throw invalidArgument(`RSA keys need at least 2048 bits, got ${modulusLength}`)
      return generateKeyPairSync('rsa', { modulusLength })
    }
    case 'ec':
      return generateKeyPairSync('ec', { namedCurve: spec.curve as string })
    default:
      return generateKeyPairSync('ed25519')
  }
}

/** What `importKey` accepts: PEM text (PKCS#8, SPKI, PKCS#1, SEC1, certificates), a JWK, raw secret bytes or a KeyObject. */
export type KeyInput = string | Uint8Array | JsonWebKey | KeyObject

/**
 * Turns PEM, a JWK or raw bytes into a KeyObject. A PEM or JWK holding a private key gives
 * the private key; `oct` JWKs and other bytes give a secret key. Asymmetric key material is
 * never taken as an HMAC secret: a PEM body that lost its armour, or DER bytes, are refused.
 * @example const key = importKey(process.env.JWT_PUBLIC_KEY_PEM!)
 */
export function importKey(input: KeyInput): KeyObject {
  try {
    if (input instanceof KeyObject) return input
    if (typeof input === 'string') {
      if (input.includes('-----BEGIN')) return importPem(input)
      const trimmed = input.trim()
      if (trimmed.startsWith('{')) return importJwk(JSON.parse(trimmed) as JsonWebKey)
      return importSecret(Buffer.from(input, 'utf8'), input)
    }
    if (input instanceof Uint8Array) {
      const bytes = Buffer.from(input)
      // PEM read from a file as a Buffer is still PEM.
      if (bytes.subarray(0, 64).toString('latin1').includes('-----BEGIN')) return importPem(bytes.toString('utf8'))
      return importSecret(bytes, undefined)
    }
    if (typeof input === 'object' && input !== null && typeof input.kty === 'string') return importJwk(input)
  } catch (err) {
    if (err instanceof KryptoError) throw err
    throw new KryptoError('KRYPTO_KEY_INVALID', `The key could not be imported: ${(err as Error).message}`, {
      cause: err,
    })
  }
  throw new KryptoError('KRYPTO_KEY_INVALID', 'A key must be PEM text, a JWK object, raw bytes or a KeyObject')
}

function importPem(text: string): KeyObject {
  // Env files and CI secrets often carry PEM with literal "\n" for its line breaks.
  const pem = text.includes('\\n') && !text.includes('\n') ? text.replace(/\\n/g, '\n') : text
  return /PRIVATE KEY-----/.test(pem) ? createPrivateKey(pem) : createPublicKey(pem)
}

/** True when `bytes` parse as a DER public or private key (SPKI, PKCS#8, PKCS#1, SEC1). */
function isDerKey(bytes: Buffer): boolean {
  if (bytes.length < 32 || bytes[0] !== 0x30) return false
  const tries: (() => KeyObject)[] = [
    () => createPublicKey({ key: bytes, format: 'der', type: 'spki' }),
    () => createPrivateKey({ key: bytes, format: 'der', type: 'pkcs8' }),
    () => createPublicKey({ key: bytes, format: 'der', type: 'pkcs1' }),
    () => createPrivateKey({ key: bytes, format: 'der', type: 'pkcs1' }),
    () => createPrivateKey({ key: bytes, format: 'der', type: 'sec1' }),
  ]
  for (const attempt of tries) {
    try {
      attempt()
      return true
    } catch {
      // not this encoding
    }
  }
  return false
}

function importSecret(bytes: Buffer, text: string | undefined): KeyObject {
  const compact = text?.replace(/\s+/g, '')
  const decoded =
    compact !== undefined && /^[A-Za-z0-9+/]{40,}={0,2}$/.test(compact) ? Buffer.from(compact, 'base64') : undefined
  if (isDerKey(bytes) || (decoded !== undefined && isDerKey(decoded))) {
    throw new KryptoError(
      'KRYPTO_KEY_INVALID',
      'This is an asymmetric key without its PEM armour (-----BEGIN ... KEY-----); it is never used as an HMAC secret. Pass the whole PEM text, a JWK or a KeyObject',
    )
  }
  return createSecretKey(bytes)
}

function importJwk(jwk: JsonWebKey): KeyObject {
  if (jwk.kty === 'oct') {
    const bytes = typeof jwk.k === 'string' ? decodeBase64url(jwk.k) : undefined
    if (!bytes || bytes.length === 0) throw new KryptoError('KRYPTO_KEY_INVALID', 'An "oct" JWK needs a base64url "k"')
    return createSecretKey(bytes)
  }
  return typeof jwk.d === 'string'
    ? createPrivateKey({ key: jwk, format: 'jwk' })
    : createPublicKey({ key: jwk, format: 'jwk' })
}

/** The public half of a key (a public key is returned as is; secrets have none). */
export function publicKeyOf(key: KeyObject): KeyObject {
  if (key.type === 'secret') throw new KryptoError('KRYPTO_KEY_INVALID', 'A secret key has no public half')
  return key.type === 'private' ? createPublicKey(key) : key
}

/**
 * Exports a key as PEM (PKCS#8 for private, SPKI for public) or as a JWK. Secret keys export
 * only as JWK (`oct`).
 * @example const jwk = exportKey(publicKey, 'jwk')
 */
export function exportKey(key: KeyObject, format: 'pem'): string
export function exportKey(key: KeyObject, format: 'jwk'): JsonWebKey
export function exportKey(key: KeyObject, format: 'pem' | 'jwk'): string | JsonWebKey {
  if (format === 'jwk') return key.export({ format: 'jwk' })
  if (key.type === 'secret') throw invalidArgument('A secret key exports only as JWK')
  return key.type === 'private'
    ? (key.export({ format: 'pem', type: 'pkcs8' }) as string)
    : (key.export({ format: 'pem', type: 'spki' }) as string)
}

/**
 * Checks that `key` may be used with `alg` for `use`, so that an algorithm can never be applied
 * to a key of another family (the classic HS256-with-an-RSA-public-key confusion).
 * Returns the key to use (the public half for verification with a private key).
 */
export function checkKeyForAlgorithm(key: KeyObject, alg: JwsAlgorithm, use: 'sign' | 'verify'): KeyObject {
  const spec = ALGORITHMS[alg]
  if (!spec) throw invalidArgument(`Unknown JWS algorithm "${String(alg)}"`)
  const fail = (why: string): never => {
    throw new KryptoError('KRYPTO_KEY_INVALID', `This key cannot be used with ${alg}: ${why}`, { details: { alg } })
  }
  if (spec.kind === 'hmac') {
    if (key.type !== 'secret') fail(`${alg} needs a secret key, got a ${key.type} key`)
    if ((key.symmetricKeySize ?? 0) < spec.size)
      fail(`${alg} needs a secret of at least ${spec.size} bytes (RFC 7518 3.2)`)
    return key
  }
  if (key.type === 'secret') fail(`${alg} needs an asymmetric key, got a secret`)
  if (use === 'sign' && key.type !== 'private') fail('signing needs the private key')
  const type = key.asymmetricKeyType
  const details = key.asymmetricKeyDetails
  switch (spec.kind) {
    case 'rsa':
    case 'pss':
      if (type !== 'rsa' && !(spec.kind === 'pss' && type === 'rsa-pss')) fail(`expected an RSA key, got ${type}`)
      if ((details?.modulusLength ?? 0) < 2048) fail('RSA keys need at least 2048 bits')
      break
    case 'ec':
      if (type !== 'ec' || details?.namedCurve !== spec.curve) {
        fail(
          `expected an EC key on ${JWK_CURVES[spec.curve as string]}, got ${type} ${details?.namedCurve ?? ''}`.trim(),
        )
      }
      break
    default:
      if (type !== 'ed25519' && type !== 'ed448') fail(`expected an Ed25519 or Ed448 key, got ${type}`)
  }
  return use === 'verify' && key.type === 'private' ? createPublicKey(key) : key
}

/** The JWS algorithm that naturally fits a key (HS256 for secrets, ES256 for P-256, ...). */
export function defaultAlgorithmFor(key: KeyObject): JwsAlgorithm {
  if (key.type === 'secret') {
    const size = key.symmetricKeySize ?? 0
    return size >= 64 ? 'HS512' : size >= 48 ? 'HS384' : 'HS256'
  }
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return 'RS256'
    case 'rsa-pss':
      return 'PS256'
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve
      return curve === 'secp384r1' ? 'ES384' : curve === 'secp521r1' ? 'ES512' : 'ES256'
    }
    default:
      return 'EdDSA'
  }
}

function signOptions(alg: JwsAlgorithm, key: KeyObject) {
  const spec = ALGORITHMS[alg]
  if (spec.kind === 'pss')
    return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
  if (spec.kind === 'ec') return { key, dsaEncoding: 'ieee-p1363' as const }
  return key
}

/**
 * Signs `data` with a JWS algorithm (raw r||s for ECDSA, as JOSE wants). HMAC algorithms are
 * accepted too, so one call covers every algorithm.
 */
export function signBytes(alg: JwsAlgorithm, data: Uint8Array, key: KeyObject): Buffer {
  const spec = ALGORITHMS[alg]
  if (spec.kind === 'hmac') return hmacBytes(spec.hash as string, key, data)
  return cryptoSign(spec.hash ?? null, data, signOptions(alg, key))
}

/** Verifies a JWS-style signature; false (never an exception) for a wrong signature. */
export function verifyBytes(alg: JwsAlgorithm, data: Uint8Array, signature: Uint8Array, key: KeyObject): boolean {
  const spec = ALGORITHMS[alg]
  if (spec.kind === 'hmac') return timingSafeEqualBytes(hmacBytes(spec.hash as string, key, data), signature)
  if (spec.kind === 'ec' && signature.length !== spec.size) return false
  try {
    return cryptoVerify(spec.hash ?? null, data, signOptions(alg, key), signature)
  } catch {
    return false
  }
}

function hmacBytes(hash: string, key: KeyObject, data: Uint8Array): Buffer {
  return createHmac(hash, key).update(data).digest()
}

/** Constant-time equality of two byte arrays (false, without leaking timing, when lengths differ). */
export function timingSafeEqualBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) {
    timingSafeEqual(a, a)
    return false
  }
  return timingSafeEqual(a, b)
}
