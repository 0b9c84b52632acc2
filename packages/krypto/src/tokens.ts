import { createHash, createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto'
import { sleep } from '@beaver-kit/core'
import { invalidArgument } from './errors.ts'

/**
 * A URL-safe random token (base64url, 32 bytes = 256 bits by default), for sessions, password
 * resets, API keys and e-mail links. An optional `prefix` (`lnk_`) makes leaked keys greppable.
 * @example const apiKey = randomToken({ prefix: 'bk_live_' })
 */
export function randomToken(options: { bytes?: number; prefix?: string } = {}): string {
  const bytes = options.bytes ?? 32
  if (!Number.isInteger(bytes) || bytes < 16 || bytes > 1024)
    throw invalidArgument(`A token needs 16-1024 random bytes, got ${bytes}`)
  return (options.prefix ?? '') + randomBytes(bytes).toString('base64url')
}

/** A uniformly random numeric code (no modulo bias), e.g. for an e-mailed confirmation code. */
export function randomCode(digits = 6): string {
  if (!Number.isInteger(digits) || digits < 4 || digits > 15)
    throw invalidArgument(`A numeric code has 4-15 digits, got ${digits}`)
  let out = ''
  // randomInt's range is below 2^48, so build long codes from chunks of up to 9 digits.
  for (let left = digits; left > 0; left -= 9) {
    const n = Math.min(9, left)
    out += randomInt(0, 10 ** n)
      .toString()
      .padStart(n, '0')
  }
  return out
}

let lastMs = -1
let seq = 0

/**
 * A UUID version 7 (RFC 9562): 48-bit Unix ms timestamp then random bits, so ids sort by
 * creation time and index well. Monotonic within a process (a 12-bit counter in rand_a).
 */
export function uuidv7(now: number = Date.now()): string {
  const bytes = randomBytes(16)
  if (now <= lastMs) {
    seq++
    if (seq > 0xfff) {
      // Counter exhausted within one millisecond: borrow the next millisecond.
      lastMs++
      seq = 0
    }
  } else {
    lastMs = now
    seq = bytes.readUInt16BE(6) & 0x3ff
  }
  const ms = lastMs
  bytes.writeUIntBE(ms, 0, 6)
  bytes[6] = 0x70 | ((seq >>> 8) & 0x0f)
  bytes[7] = seq & 0xff
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80
  const h = bytes.toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

/**
 * The value to store for a token instead of the token itself: SHA-256 (base64url), or
 * HMAC-SHA256 when a `key` is given (then a stolen database alone cannot even confirm a guess).
 * Random tokens have 256 bits of entropy, so no salt or slow hash is needed.
 * @example await db.insert({ tokenHash: hashToken(token) })
 */
export function hashToken(token: string, key?: Uint8Array | string): string {
  if (typeof token !== 'string' || token.length === 0) throw invalidArgument('hashToken needs a non-empty token')
  return key === undefined
    ? createHash('sha256').update(token).digest('base64url')
    : createHmac('sha256', key).update(token).digest('base64url')
}

/** Constant-time check of a presented token against a stored `hashToken` value. */
export function verifyTokenHash(token: string, storedHash: string, key?: Uint8Array | string): boolean {
  if (typeof token !== 'string' || typeof storedHash !== 'string' || token.length === 0) return false
  return timingSafeEqualString(hashToken(token, key), storedHash)
}

/**
 * Constant-time string equality. Both sides are hashed first, so neither the content nor the
 * length of the secret leaks through timing.
 */
export function timingSafeEqualString(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest()
  const hb = createHash('sha256').update(b).digest()
  return timingSafeEqual(ha, hb) && a === b
}

/**
 * Waits a uniformly random time in [minMs, maxMs]: pads responses of "unknown user" and
 * "wrong password" paths so they are not told apart by timing. Prefer `padTo` when the
 * real work has a known upper bound.
 * @example await randomDelay(50, 150)
 */
export function randomDelay(minMs: number, maxMs: number, options: { signal?: AbortSignal } = {}): Promise<void> {
  if (!(minMs >= 0) || !(maxMs >= minMs))
    throw invalidArgument(`randomDelay needs 0 <= min <= max, got ${minMs}..${maxMs}`)
  return sleep(minMs + randomInt(0, Math.floor(maxMs - minMs) + 1), options.signal)
}

/**
 * Runs `fn` and resolves no earlier than `minMs` after the start (plus up to `jitterMs` random),
 * so the fast path (unknown e-mail) and the slow path (hash check) take the same time.
 * @example const ok = await padTo(400, () => login(email, password))
 */
export async function padTo<T>(
  minMs: number,
  fn: () => Promise<T>,
  options: { jitterMs?: number; signal?: AbortSignal; now?: () => number } = {},
): Promise<T> {
  const now = options.now ?? performance.now.bind(performance)
  const start = now()
  let result: { ok: true; value: T } | { ok: false; error: unknown }
  try {
    result = { ok: true, value: await fn() }
  } catch (error) {
    result = { ok: false, error }
  }
  const jitter = options.jitterMs ? randomInt(0, Math.floor(options.jitterMs) + 1) : 0
  const left = minMs + jitter - (now() - start)
  if (left > 0) await sleep(left, options.signal)
  if (!result.ok) throw result.error
  return result.value
}
