import type { KeyObject } from 'node:crypto'
import {
  describeInstance,
  maskUrl,
  resolveConfig,
  type ConfigIssue,
  type InstanceDescription,
  type InstanceOptions,
} from '@beaver-kit/config'
import type { Instance } from '@beaver-kit/core'
import { createKeyRing, parseKeyRing, type KeyRing, type KeyRingInput, type KeyRingKey } from './aead/key-ring.ts'
import type { CipherOptions } from './aead/gcm.ts'
import { kryptoSchema, type KryptoConfigOptions } from './config.ts'
import { configError, settingNamer, shownAsOption } from './described.ts'
import { KryptoError, isKryptoError } from './errors.ts'
import { jwtKeysFromConfig } from './jwt/config-keys.ts'
import { createRemoteJwks, type RemoteJwks } from './jwt/jwks.ts'
import { buildJwt } from './jwt/jwt.ts'
import type { Jwt, JwtKeyInput } from './jwt/types.ts'
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
import { createPasswordHasher, passwordCostProblems, type PasswordHasher } from './password.ts'
import { buildUrlSigner, type UrlSigner, type UrlSignerOptions } from './url-signer.ts'

/** Options of `createKrypto`: BEAVER_KRYPTO_* settings plus what env cannot carry. */
export interface KryptoOptions extends Omit<KryptoConfigOptions, 'keys'>, InstanceOptions {
  /** The master key ring; default BEAVER_KRYPTO_KEYS. */
  keys?: KeyRingInput
  /** An explicit JWT key set, replacing what the jwt settings and the ring would give. */
  jwtKeys?: readonly (JwtKeyInput | KeyObject | Uint8Array)[]
  /** Options of `krypto.urls` (BEAVER_URLSIGNER_*); its keys default to this instance's ring. */
  urls?: Omit<UrlSignerOptions, 'envPrefix' | 'env' | 'now'>
  /** The clock in ms, for JWT, TOTP and signed URLs. Default Date.now. */
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

/** Everything configured from BEAVER_KRYPTO_* (and BEAVER_URLSIGNER_*): key ring, JWT, passwords, TOTP, signed URLs. */
export interface Krypto extends Instance<InstanceDescription> {
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
  /** The URL signer (BEAVER_URLSIGNER_*), keyed by BEAVER_URLSIGNER_KEYS or else this instance's ring. */
  readonly urls: UrlSigner
  /** A purpose-bound key from the current master key. */
  deriveKey(purpose: string, length?: number): Buffer
  /** Fails fast: fetches the remote JWKS when one is configured; rejects once closed. */
  ready(options?: { signal?: AbortSignal }): Promise<void>
}

type KryptoValues = ReturnType<typeof resolveConfig<typeof kryptoSchema.shape>>['values']

/** The master ring from `keys` or BEAVER_KRYPTO_KEYS; a bad entry is an issue naming where it came from. */
function readRing(
  input: KeyRingInput | undefined,
  settingName: (path: string) => string,
  issues: ConfigIssue[],
): KeyRingKey[] | undefined {
  if (input === undefined) return undefined
  try {
    return parseKeyRing(input)
  } catch (err) {
    if (!isKryptoError(err)) throw err
    issues.push({ name: settingName('keys'), found: '****', expected: err.message })
    return undefined
  }
}

function costIssues(values: KryptoValues, settingName: (path: string) => string): ConfigIssue[] {
  const pw = values.password
  const memoryKiB = Math.floor(pw.argon2.memory / 1024)
  return passwordCostProblems(
    { memory: memoryKiB, passes: pw.argon2.passes, parallelism: pw.argon2.parallelism },
    { cost: pw.scrypt.cost, blockSize: pw.scrypt.blockSize, parallelism: pw.scrypt.parallelism },
  ).map((p) => ({ name: settingName(`password.${p.param}`), found: undefined, expected: p.message }))
}

/**
 * Builds the krypto facade from options and BEAVER_KRYPTO_*. Creation does no I/O; without a
 * key ring, password hashing, OTP and tokens work and keyed operations throw KRYPTO_KEYS_MISSING
 * naming the variable to set. Every configuration problem is one ConfigError.
 * @example
 * await using k = createKrypto({ keys: process.env.APP_KEYS, jwt: { issuer: 'links' } })
 * const token = k.jwt.sign({ sub: 'user-1' })
 */
export function createKrypto(options: KryptoOptions = {}): Krypto {
  const { keys, jwtKeys, envPrefix, env, now, fetch, urls: urlOptions, ...configOptions } = options
  const source = { envPrefix, ...(env ? { env } : {}) }
  const resolved = resolveConfig(kryptoSchema, { options: configOptions, ...source })
  const { values } = resolved
  const entries = keys === undefined ? resolved.entries : shownAsOption(resolved.entries, 'keys')
  const settingName = settingNamer(entries, envPrefix)

  const issues: ConfigIssue[] = []
  const masters = readRing(keys ?? values.keys, settingName, issues)
  const fromConfig = jwtKeys === undefined ? jwtKeysFromConfig(values.jwt, entries, settingName, masters) : undefined
  issues.push(...(fromConfig?.issues ?? []), ...costIssues(values, settingName))
  const jwksUrl = values.jwt.jwksUrl
  if (jwksUrl !== undefined && new URL(jwksUrl).protocol === 'http:' && !values.jwt.jwksAllowHttp) {
    issues.push({
      name: settingName('jwt.jwksUrl'),
      found: maskUrl(jwksUrl),
      expected: `an https:// URL (keys fetched in clear text can be replaced on the way), or set ${settingName('jwt.jwksAllowHttp')}=true for a trusted network`,
    })
  }
  if (issues.length > 0) throw configError(kryptoSchema.title, issues)

  const ring = masters === undefined ? undefined : createKeyRing(masters)
  const jwks: RemoteJwks | undefined =
    jwksUrl === undefined
      ? undefined
      : createRemoteJwks(jwksUrl, {
          cacheTtl: values.jwt.jwksCacheTtl,
          cooldown: values.jwt.jwksCooldown,
          timeout: values.jwt.jwksTimeout,
          allowHttp: values.jwt.jwksAllowHttp,
          ...(fetch ? { fetch } : {}),
          ...(now ? { now } : {}),
        })
  const ringHint =
    envPrefix === false
      ? 'pass keys in the krypto options ("kid:base64key"; generateKeyRingEntry() makes one)'
      : `set ${settingName('keys')} to "kid:base64key" (generateKeyRingEntry() makes one), or pass keys in the krypto options`
  const keysHint =
    envPrefix === false
      ? `${ringHint}, or jwt.privateKey`
      : `${ringHint}; for asymmetric tokens set ${settingName('jwt.privateKey')}`
  const jwt = buildJwt(
    {
      keys: jwtKeys ?? fromConfig?.keys ?? [],
      ...(jwks ? { jwks } : {}),
      ...(values.jwt.issuer !== undefined ? { issuer: values.jwt.issuer } : {}),
      ...(values.jwt.audience !== undefined ? { audience: values.jwt.audience } : {}),
      expiresIn: values.jwt.expiresIn,
      clockSkew: values.jwt.clockSkew,
      ...(values.jwt.maxAge !== undefined ? { maxAge: values.jwt.maxAge } : {}),
      ...(now ? { now } : {}),
    },
    { missingKeys: keysHint },
  )
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
  const urls = buildUrlSigner({ ...urlOptions, ...source, ...(now ? { now } : {}) }, () => ({
    keys: masters,
    from: settingName('keys'),
  }))
  const otp = values.otp
  const otpOptions = {
    digits: otp.digits,
    period: Math.round(otp.period / 1000),
    algorithm: otp.algorithm as OtpAlgorithm,
  }
  const clock = now ?? Date.now

  function requireRing(): KeyRing {
    if (!ring) {
      throw new KryptoError('KRYPTO_KEYS_MISSING', `No key ring: ${ringHint}`)
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
    urls,
    deriveKey: (purpose, length = 32) => requireRing().deriveKey(purpose, { length }),
    async ready(o = {}) {
      if (closed) throw new KryptoError('KRYPTO_CLOSED', 'This krypto instance was closed')
      await jwks?.refresh(o)
    },
    describe: () =>
      describeInstance('krypto', envPrefix, entries, {
        keyIds: ring?.kids.join(','),
        jwtKid: jwt.currentKid,
        jwtKeys: jwtKeys === undefined ? undefined : 'option jwtKeys',
      }),
    async close() {
      if (closed) return
      closed = true
      jwks?.close()
      await urls.close()
    },
    async [Symbol.asyncDispose]() {
      await krypto.close()
    },
  }
  return krypto
}
