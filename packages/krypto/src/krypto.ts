import type { JsonWebKey, KeyObject } from 'node:crypto'
import { resolveConfig } from '@beaver-kit/config'
import { defineDefaultInstance } from '@beaver-kit/core'
import { createKeyRing, parseKeyRing, type CipherOptions, type KeyRing, type KeyRingInput } from './aead.ts'
import { kryptoSchema, type KryptoConfigOptions } from './config.ts'
import { KryptoError } from './errors.ts'
import { createRemoteJwks, type RemoteJwks } from './jwks.ts'
import { createJwt, type Jwt, type JwtKeyInput } from './jwt.ts'
import { ALGORITHMS, importKey, type JwsAlgorithm } from './keys.ts'
import { deriveInternalKey } from './hkdf.ts'
import {
  generateOtpSecret,
  otpauthUri,
  totp,
  verifyTotp,
  type OtpAlgorithm,
  type OtpSecret,
  type TotpResult,
  type TotpVerifyOptions,
} from './otp.ts'
import { createPasswordHasher, type PasswordHasher } from './password.ts'

/** Options of `createKrypto`: BEAVER_KRYPTO_* settings plus what env cannot carry. */
export interface KryptoOptions extends Omit<KryptoConfigOptions, 'keys'> {
  /** The master key ring; default BEAVER_KRYPTO_KEYS. */
  keys?: KeyRingInput
  /** An explicit JWT key set, replacing what the jwt settings and the ring would give. */
  jwtKeys?: readonly (JwtKeyInput | KeyObject | Uint8Array)[]
  /** Env prefix: `USER_` reads USER_KRYPTO_*; `false` reads no environment. */
  envPrefix?: string | false
  /** The clock in ms, for JWT and TOTP. Default Date.now. */
  now?: () => number
  /** The fetch used for the remote JWKS. */
  fetch?: typeof fetch
}

/** TOTP with the configured digits, period, algorithm, window and issuer. */
export interface KryptoTotp {
  /** A new base32 secret to store (encrypted) for the user. */
  generateSecret(): string
  /** The `otpauth://` URI to show as a QR code. */
  uri(account: string, secret: OtpSecret): string
  /** The current code (for tests and SMS/e-mail fallbacks). */
  code(secret: OtpSecret): string
  /** Checks a code; see `verifyTotp` for `afterStep` and `replayGuard`. */
  verify(
    code: string,
    secret: OtpSecret,
    options?: Pick<TotpVerifyOptions, 'afterStep' | 'replayGuard' | 'window'>,
  ): Promise<TotpResult>
}

/** Everything configured from BEAVER_KRYPTO_*: key ring, JWT, passwords, TOTP. */
export interface Krypto {
  /** True when a key ring is configured. */
  readonly hasKeys: boolean
  /** The AES-256-GCM key ring; throws KRYPTO_KEYS_MISSING when none is configured. */
  readonly ring: KeyRing
  /** Shortcut of `ring.encrypt`. */
  encrypt(plaintext: Uint8Array | string, options?: CipherOptions): string
  /** Shortcut of `ring.decryptString`. */
  decrypt(envelope: string, options?: CipherOptions): string
  /** The JWT signer/verifier. */
  readonly jwt: Jwt
  /** The password hasher at the configured costs. */
  readonly passwords: PasswordHasher
  readonly totp: KryptoTotp
  /** A purpose-bound key from the current master key. */
  deriveKey(purpose: string, length?: number): Buffer
  /** The settings in effect, secrets masked. */
  describe(): string
  /** Stops the remote JWKS (if any). Idempotent. */
  close(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

function jwtKeysFromConfig(
  jwt: ReturnType<typeof resolveConfig<typeof kryptoSchema.shape>>['values']['jwt'],
  ring: readonly { kid: string; key: Uint8Array }[] | undefined,
): (JwtKeyInput | KeyObject)[] {
  const alg = jwt.algorithm as JwsAlgorithm
  const spec = ALGORITHMS[alg]
  if (jwt.privateKey !== undefined) {
    const text = jwt.privateKey.trim()
    if (text.startsWith('{') && text.includes('"keys"')) {
      let set: { keys?: unknown }
      try {
        set = JSON.parse(text) as { keys?: unknown }
      } catch (err) {
        throw new KryptoError('KRYPTO_KEY_INVALID', 'BEAVER_KRYPTO_JWT_PRIVATE_KEY looks like a JWKS but is not JSON', {
          cause: err,
        })
      }
      if (!Array.isArray(set.keys) || set.keys.length === 0)
        throw new KryptoError('KRYPTO_KEY_INVALID', 'BEAVER_KRYPTO_JWT_PRIVATE_KEY holds a JWKS without keys')
      return (set.keys as JsonWebKey[]).map((jwk) => ({
        key: jwk,
        ...(typeof jwk.kid === 'string' ? { kid: jwk.kid } : {}),
        alg: (typeof jwk.alg === 'string' ? jwk.alg : alg) as JwsAlgorithm,
      }))
    }
    return [{ key: importKey(text), alg }]
  }
  if (spec.kind !== 'hmac') {
    throw new KryptoError(
      'KRYPTO_KEYS_MISSING',
      `BEAVER_KRYPTO_JWT_ALGORITHM is ${alg}, which needs BEAVER_KRYPTO_JWT_PRIVATE_KEY (PEM or JWK)`,
    )
  }
  if (jwt.secrets !== undefined) {
    return parseKeyRing(jwt.secrets).map(({ kid, key }) => ({ kid, key, alg }))
  }
  // Derived per purpose and algorithm: the JWT key of a ring entry never equals its AES key.
  return (ring ?? []).map(({ kid, key }) => ({ kid, key: deriveInternalKey(key, `jwt:${alg}`, spec.size), alg }))
}

/**
 * Builds the krypto facade from options and BEAVER_KRYPTO_*. Creation does no I/O; without a
 * key ring, password hashing, OTP and tokens work and keyed operations throw KRYPTO_KEYS_MISSING.
 * @example
 * const k = createKrypto({ keys: process.env.APP_KEYS, jwt: { issuer: 'links' } })
 * const token = k.jwt.sign({ sub: user.id })
 * const stored = await k.passwords.hash(password)
 */
export function createKrypto(options: KryptoOptions = {}): Krypto {
  const { keys, jwtKeys, envPrefix, now, fetch, ...configOptions } = options
  const resolved = resolveConfig(kryptoSchema, { options: configOptions, envPrefix })
  const values = resolved.values
  const ringInput = keys ?? values.keys
  const masters = ringInput === undefined ? undefined : parseKeyRing(ringInput)
  const ring = masters === undefined ? undefined : createKeyRing(masters)
  const jwks: RemoteJwks | undefined =
    values.jwt.jwksUrl === undefined
      ? undefined
      : createRemoteJwks(values.jwt.jwksUrl, {
          cacheTtl: values.jwt.jwksCacheTtl,
          cooldown: values.jwt.jwksCooldown,
          ...(fetch ? { fetch } : {}),
          ...(now ? { now } : {}),
        })
  const jwt = createJwt({
    keys: jwtKeys ?? jwtKeysFromConfig(values.jwt, masters),
    ...(jwks ? { jwks } : {}),
    ...(values.jwt.issuer !== undefined ? { issuer: values.jwt.issuer } : {}),
    ...(values.jwt.audience !== undefined ? { audience: values.jwt.audience } : {}),
    expiresIn: values.jwt.expiresIn,
    clockSkew: values.jwt.clockSkew,
    ...(values.jwt.maxAge !== undefined ? { maxAge: values.jwt.maxAge } : {}),
    ...(now ? { now } : {}),
  })
  const pw = values.password
  const passwords = createPasswordHasher({
    algorithm: pw.algorithm,
    argon2: {
      memory: Math.floor(pw.argon2.memory / 1024),
      passes: pw.argon2.passes,
      parallelism: pw.argon2.parallelism,
    },
    scrypt: { cost: pw.scrypt.cost, blockSize: pw.scrypt.blockSize, parallelism: pw.scrypt.parallelism },
    ...(pw.pepper !== undefined ? { pepper: pw.pepper } : {}),
  })
  const otp = values.otp
  const otpOptions = {
    digits: otp.digits,
    period: Math.round(otp.period / 1000),
    algorithm: otp.algorithm as OtpAlgorithm,
  }
  const clock = now ?? Date.now

  function requireRing(): KeyRing {
    if (!ring) {
      throw new KryptoError(
        'KRYPTO_KEYS_MISSING',
        'No key ring: set BEAVER_KRYPTO_KEYS to "kid:base64key" (32 random bytes; make one with generateKeyRingEntry()) or pass keys to createKrypto',
      )
    }
    return ring
  }

  let closed = false
  const krypto: Krypto = {
    hasKeys: ring !== undefined,
    get ring() {
      return requireRing()
    },
    encrypt: (plaintext, o) => requireRing().encrypt(plaintext, o),
    decrypt: (envelope, o) => requireRing().decryptString(envelope, o),
    jwt,
    passwords,
    totp: {
      generateSecret: () => generateOtpSecret(otp.algorithm === 'SHA512' ? 64 : otp.algorithm === 'SHA256' ? 32 : 20),
      uri: (account, secret) =>
        otpauthUri({
          label: account,
          secret,
          ...(otp.issuer !== undefined ? { issuer: otp.issuer } : {}),
          ...otpOptions,
        }),
      code: (secret) => totp(secret, { ...otpOptions, time: clock() }),
      verify: (code, secret, o = {}) =>
        verifyTotp(code, secret, { window: otp.window, ...otpOptions, time: clock(), ...o }),
    },
    deriveKey: (purpose, length = 32) => requireRing().deriveKey(purpose, { length }),
    describe: () => resolved.describe(),
    async close() {
      if (closed) return
      closed = true
      jwks?.close()
    },
    async [Symbol.asyncDispose]() {
      await krypto.close()
    },
  }
  return krypto
}

const def = defineDefaultInstance<Krypto, KryptoOptions>('krypto', (o) => createKrypto(o))

/** The default krypto instance, built on first use from BEAVER_KRYPTO_*. */
export const krypto = def.get
/** Configures the default instance before its first use (throws once it exists). */
export const initKrypto = def.init
/** Closes and forgets the default instance (tests). */
export const resetKrypto = def.reset
/** An instance reading `<prefix>KRYPTO_*`, e.g. `withPrefix('BILLING_')`. */
export const withPrefix = (prefix: string): Krypto => createKrypto({ envPrefix: prefix })
