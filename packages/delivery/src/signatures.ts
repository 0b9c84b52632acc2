import { createHmac, timingSafeEqual } from 'node:crypto'

/** The outcome of a signature check: never an exception, so each package throws its own error. */
export type Verification = { readonly ok: true } | { readonly ok: false; readonly reason: string }

const OK: Verification = Object.freeze({ ok: true })
const fail = (reason: string): Verification => Object.freeze({ ok: false, reason })

/** Request headers as Node gives them (or any record); read case-insensitively. */
export type HeaderBag = Readonly<Record<string, string | readonly string[] | undefined>>

/** The first value of a header, whatever the case of its name. */
export function headerValue(headers: HeaderBag, name: string): string | undefined {
  const wanted = name.toLowerCase()
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== wanted) continue
    return typeof value === 'string' ? value : value?.[0]
  }
  return undefined
}

/** Compares two strings in time independent of where they differ (length is not secret). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/**
 * Checks an HMAC over `payload` against the `signature` a provider sent, in constant time.
 * @example verifyHmac({ algorithm: 'sha256', key: signingKey, payload: timestamp + token, signature, encoding: 'hex' })
 */
export function verifyHmac(input: {
  algorithm: 'sha1' | 'sha256' | 'sha512'
  key: string | Buffer
  payload: string | Buffer
  signature: string | undefined
  encoding: 'hex' | 'base64'
}): Verification {
  if (!input.signature) return fail('the signature is missing')
  const expected = createHmac(input.algorithm, input.key).update(input.payload).digest(input.encoding)
  const given = input.encoding === 'hex' ? input.signature.toLowerCase() : input.signature
  return safeEqual(expected, given) ? OK : fail('the signature does not match')
}

/**
 * Whether a timestamp (seconds since epoch) is within `toleranceSec` of now: a captured
 * request replayed later fails even with a valid signature.
 */
export function checkTimestamp(seconds: number, toleranceSec: number, now = Date.now()): Verification {
  if (!Number.isFinite(seconds)) return fail('the timestamp is missing or not a number')
  return Math.abs(now / 1000 - seconds) <= toleranceSec
    ? OK
    : fail(`the timestamp is more than ${toleranceSec} s away from now (a replay, or a skewed clock)`)
}

/**
 * Verifies a Svix-signed webhook (Resend, and every sender on Svix): HMAC-SHA256 of
 * `id.timestamp.body` with the base64 key after `whsec_`, any of the space-separated `v1,`
 * signatures matching, and the timestamp within the tolerance (default 5 minutes).
 */
export function verifySvix(input: {
  secret: string
  headers: HeaderBag
  body: string | Buffer
  toleranceSec?: number
  now?: number
}): Verification {
  const id = headerValue(input.headers, 'svix-id') ?? headerValue(input.headers, 'webhook-id')
  const timestamp = headerValue(input.headers, 'svix-timestamp') ?? headerValue(input.headers, 'webhook-timestamp')
  const signatures = headerValue(input.headers, 'svix-signature') ?? headerValue(input.headers, 'webhook-signature')
  if (!id || !timestamp || !signatures) return fail('the svix-id, svix-timestamp or svix-signature header is missing')
  const fresh = checkTimestamp(Number(timestamp), input.toleranceSec ?? 300, input.now)
  if (!fresh.ok) return fresh
  const key = Buffer.from(input.secret.startsWith('whsec_') ? input.secret.slice(6) : input.secret, 'base64')
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(input.body).digest('base64')
  for (const part of signatures.split(' ')) {
    const [version, signature] = part.split(',', 2)
    if (version === 'v1' && signature !== undefined && safeEqual(expected, signature)) return OK
  }
  return fail('no v1 signature matches')
}
