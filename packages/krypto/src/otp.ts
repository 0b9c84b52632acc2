import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { base32Decode, base32Encode } from './encoding.ts'
import { KryptoError, invalidArgument } from './errors.ts'

/** OTP hash functions (RFC 6238 allows SHA-1, SHA-256 and SHA-512). */
export type OtpAlgorithm = 'SHA1' | 'SHA256' | 'SHA512'

/** A shared secret: raw bytes, or base32 text as authenticator apps show it. */
export type OtpSecret = Uint8Array | string

/** Code shape of HOTP (and TOTP). */
export interface HotpOptions {
  /** 6 (default) to 10. */
  digits?: number
  /** Default SHA1, what every authenticator app supports. */
  algorithm?: OtpAlgorithm
}

/** TOTP time settings (RFC 6238). */
export interface TotpOptions extends HotpOptions {
  /** Time step in seconds. Default 30. */
  period?: number
  /** The time in ms. Default Date.now(). */
  time?: number
  /** T0 in seconds. Default 0. */
  epoch?: number
}

/** Says whether a code was used before. Return true to accept (first use), false to refuse a replay. */
export type OtpReplayGuard = (use: { step: number; code: string }) => boolean | Promise<boolean>

/** Options of `verifyTotp`: drift window and replay protection. */
export interface TotpVerifyOptions extends TotpOptions {
  /** Steps accepted before and after the current one (drift), 0-10. Default 1 (±30 s). */
  window?: number
  /** Refuse any step at or below this one (the last accepted step, stored per user): the simplest replay guard. */
  afterStep?: number
  /** Called once a code matched; its answer decides (one-time use across servers: SET NX in Redis). */
  replayGuard?: OtpReplayGuard
}

/** The result of a TOTP check. */
export interface TotpResult {
  valid: boolean
  /** The step that matched: store it as `afterStep` for the next login. */
  step?: number
  /** How many steps the client's clock is off (negative: behind). Track it for hardware tokens. */
  drift?: number
  /** True when the code matched but the guard refused it as already used. */
  replayed?: boolean
}

/** The largest HOTP look-ahead `verifyHotp` accepts (RFC 4226 section 7.4 suggests a small one). */
const MAX_HOTP_WINDOW = 100
/** The largest TOTP drift window, in steps either side. */
const MAX_TOTP_WINDOW = 10

const HASH: Record<OtpAlgorithm, string> = { SHA1: 'sha1', SHA256: 'sha256', SHA512: 'sha512' }

function secretBytes(secret: OtpSecret): Buffer {
  if (typeof secret === 'string') {
    const bytes = base32Decode(secret)
    if (!bytes || bytes.length === 0)
      throw new KryptoError('KRYPTO_OTP_INVALID', 'The OTP secret is not base32 (A-Z, 2-7)')
    return bytes
  }
  if (secret.length === 0) throw new KryptoError('KRYPTO_OTP_INVALID', 'The OTP secret is empty')
  return Buffer.from(secret)
}

function checkDigits(digits: number): number {
  if (!Number.isInteger(digits) || digits < 6 || digits > 10)
    throw invalidArgument(`OTP digits must be 6-10, got ${digits}`)
  return digits
}

function checkAlgorithm(algorithm: OtpAlgorithm): string {
  const hash = HASH[algorithm]
  if (!hash) throw invalidArgument(`OTP algorithm must be SHA1, SHA256 or SHA512, got ${String(algorithm)}`)
  return hash
}

function hotpRaw(key: Buffer, counter: number, digits: number, hash: string): string {
  if (!Number.isSafeInteger(counter) || counter < 0)
    throw invalidArgument(`The HOTP counter must be a non-negative integer, got ${counter}`)
  const msg = Buffer.alloc(8)
  msg.writeBigUInt64BE(BigInt(counter))
  const mac = createHmac(hash, key).update(msg).digest()
  const offset = (mac[mac.length - 1] as number) & 0x0f
  const binary = mac.readUInt32BE(offset) & 0x7fffffff
  // 10 digits exceed 2^31: pad the truncated value rather than take a modulo larger than it.
  return (digits >= 10 ? binary : binary % 10 ** digits).toString().padStart(digits, '0')
}

/**
 * An HOTP code (RFC 4226) for a counter.
 * @example hotp('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', 0) // '755224'
 */
export function hotp(secret: OtpSecret, counter: number, options: HotpOptions = {}): string {
  return hotpRaw(
    secretBytes(secret),
    counter,
    checkDigits(options.digits ?? 6),
    checkAlgorithm(options.algorithm ?? 'SHA1'),
  )
}

function stepAt(options: TotpOptions): number {
  const period = options.period ?? 30
  if (!Number.isInteger(period) || period < 1)
    throw invalidArgument(`The TOTP period must be a positive integer of seconds, got ${period}`)
  return Math.floor(((options.time ?? Date.now()) / 1000 - (options.epoch ?? 0)) / period)
}

/**
 * A TOTP code (RFC 6238) for now, or for `options.time`.
 * @example totp(secret) // '492039'
 */
export function totp(secret: OtpSecret, options: TotpOptions = {}): string {
  return hotp(secret, stepAt(options), options)
}

function sameCode(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b))
}

function normalizeCode(code: string, digits: number): string | undefined {
  if (typeof code !== 'string') return undefined
  const c = code.replace(/[\s-]/g, '')
  return c.length === digits && /^\d+$/.test(c) ? c : undefined
}

/**
 * Checks an HOTP code against counters `counter` .. `counter + window` (look-ahead for
 * tokens pressed without logging in). Returns the matched counter: store `counter + 1`.
 */
export function verifyHotp(
  code: string,
  secret: OtpSecret,
  counter: number,
  options: HotpOptions & { /** Counters looked ahead, 0-100. Default 0. */ window?: number } = {},
): { valid: boolean; counter?: number } {
  const digits = checkDigits(options.digits ?? 6)
  const hash = checkAlgorithm(options.algorithm ?? 'SHA1')
  const window = options.window ?? 0
  // Every step of the window costs an HMAC, so the look-ahead is bounded.
  if (!Number.isInteger(window) || window < 0 || window > MAX_HOTP_WINDOW)
    throw invalidArgument(`The HOTP window must be 0-${MAX_HOTP_WINDOW} counters, got ${window}`)
  const key = secretBytes(secret)
  const c = normalizeCode(code, digits)
  if (c === undefined) return { valid: false }
  let found: number | undefined
  // Every candidate is computed and compared, so timing does not tell which one matched.
  for (let i = 0; i <= window; i++)
    if (sameCode(hotpRaw(key, counter + i, digits, hash), c) && found === undefined) found = counter + i
  return found === undefined ? { valid: false } : { valid: true, counter: found }
}

/**
 * Checks a TOTP code within ±`window` steps, refuses replays (through `afterStep` and/or a
 * `replayGuard`), and reports the clock drift of the device.
 * @example
 * const r = await verifyTotp(code, user.totpSecret, { afterStep: user.lastTotpStep })
 * if (r.valid) await users.update(user.id, { lastTotpStep: r.step })
 */
export async function verifyTotp(
  code: string,
  secret: OtpSecret,
  options: TotpVerifyOptions = {},
): Promise<TotpResult> {
  const digits = checkDigits(options.digits ?? 6)
  const hash = checkAlgorithm(options.algorithm ?? 'SHA1')
  const window = options.window ?? 1
  if (!Number.isInteger(window) || window < 0 || window > MAX_TOTP_WINDOW)
    throw invalidArgument(`The TOTP window must be 0-${MAX_TOTP_WINDOW} steps, got ${window}`)
  const key = secretBytes(secret)
  const c = normalizeCode(code, digits)
  if (c === undefined) return { valid: false }
  const now = stepAt(options)
  let matched: number | undefined
  for (let d = -window; d <= window; d++) {
    const step = now + d
    if (step < 0) continue
    if (sameCode(hotpRaw(key, step, digits, hash), c) && matched === undefined) matched = step
  }
  if (matched === undefined) return { valid: false }
  if (options.afterStep !== undefined && matched <= options.afterStep)
    return { valid: false, step: matched, drift: matched - now, replayed: true }
  if (options.replayGuard && !(await options.replayGuard({ step: matched, code: c })))
    return { valid: false, step: matched, drift: matched - now, replayed: true }
  return { valid: true, step: matched, drift: matched - now }
}

/** A random OTP secret in base32: 20 bytes by default (the RFC 4226 recommendation for SHA-1). */
export function generateOtpSecret(bytes = 20): string {
  if (!Number.isInteger(bytes) || bytes < 16 || bytes > 128)
    throw invalidArgument(`An OTP secret needs 16-128 bytes, got ${bytes}`)
  return base32Encode(randomBytes(bytes))
}

/** What goes into an `otpauth://` URI. */
export interface OtpauthUriOptions {
  /** `totp` (default) or `hotp`. */
  type?: 'totp' | 'hotp'
  /** The account, shown in the app: an e-mail or user name. */
  label: string
  /** The service, shown in the app and used to group entries. */
  issuer?: string
  secret: OtpSecret
  algorithm?: OtpAlgorithm
  digits?: number
  period?: number
  /** Initial counter (HOTP only). Default 0. */
  counter?: number
}

/**
 * The `otpauth://` URI authenticator apps read from a QR code (Key Uri Format). Only defaults
 * apps all understand are left out; non-default settings are written explicitly.
 * @example otpauthUri({ label: 'ada@example.com', issuer: 'Beaver Links', secret })
 */
export function otpauthUri(options: OtpauthUriOptions): string {
  const type = options.type ?? 'totp'
  if (type !== 'totp' && type !== 'hotp')
    throw invalidArgument(`otpauth type must be totp or hotp, got ${String(type)}`)
  if (!options.label) throw invalidArgument('otpauthUri needs a label (the account name)')
  if (options.issuer?.includes(':') || options.label.includes(':'))
    throw invalidArgument('The otpauth issuer and label must not contain ":"')
  const secret = base32Encode(secretBytes(options.secret))
  const label = options.issuer
    ? `${encodeURIComponent(options.issuer)}:${encodeURIComponent(options.label)}`
    : encodeURIComponent(options.label)
  const params = new URLSearchParams({ secret })
  if (options.issuer) params.set('issuer', options.issuer)
  const algorithm = options.algorithm ?? 'SHA1'
  checkAlgorithm(algorithm)
  if (algorithm !== 'SHA1') params.set('algorithm', algorithm)
  const digits = checkDigits(options.digits ?? 6)
  if (digits !== 6) params.set('digits', String(digits))
  if (type === 'totp') {
    const period = options.period ?? 30
    if (period !== 30) params.set('period', String(period))
  } else {
    params.set('counter', String(options.counter ?? 0))
  }
  return `otpauth://${type}/${label}?${params.toString().replace(/\+/g, '%20')}`
}
