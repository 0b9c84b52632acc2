import { createVerify, X509Certificate } from 'node:crypto'
import type { Verification } from './signatures.ts'

/** An Amazon SNS HTTP(S) delivery: a notification or a (un)subscribe confirmation. */
export interface SnsMessage {
  readonly Type: 'Notification' | 'SubscriptionConfirmation' | 'UnsubscribeConfirmation'
  readonly MessageId: string
  readonly TopicArn: string
  readonly Message: string
  readonly Timestamp: string
  readonly SignatureVersion: '1' | '2'
  readonly Signature: string
  readonly SigningCertURL: string
  readonly Subject?: string
  readonly Token?: string
  readonly SubscribeURL?: string
  readonly UnsubscribeURL?: string
}

export interface SnsVerifyOptions {
  /** Accept only these topics (recommended by AWS: a foreign topic's valid message is still not yours). */
  topicArns?: readonly string[] | undefined
  /**
   * Which certificate URLs are trusted. Default: `https://sns.<region>.amazonaws.com[.cn]/….pem`
   * only, as AWS documents; tests pointing at a local SNS stand-in pass their own check.
   */
  trustCertificateUrl?: ((url: URL) => boolean) | undefined
  /** Downloads a PEM certificate. Default: `fetch` with a 5 s limit and a 64 KiB cap. */
  fetchCertificate?: ((url: string) => Promise<string>) | undefined
  /** Older messages are refused (replays). Default 1 hour; SNS retries for at most about an hour. */
  maxAgeMs?: number | undefined
  now?: (() => number) | undefined
}

const SNS_HOST = /^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/
const TYPES = new Set(['Notification', 'SubscriptionConfirmation', 'UnsubscribeConfirmation'])
const MAX_CERT_BYTES = 64 * 1024
const certificates = new Map<string, Promise<string>>()

/** The URL rule AWS documents for `SigningCertURL` and `SubscribeURL`: HTTPS on an `sns.<region>.amazonaws.com` host. */
export function isAwsSnsUrl(url: URL): boolean {
  return url.protocol === 'https:' && SNS_HOST.test(url.hostname)
}

/** Parses an SNS delivery body; undefined when it is not one (wrong JSON, a missing field). */
export function parseSnsMessage(body: string | Buffer): SnsMessage | undefined {
  let value: unknown
  try {
    value = JSON.parse(body.toString())
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const m = value as Record<string, unknown>
  const text = ['MessageId', 'TopicArn', 'Message', 'Timestamp', 'Signature', 'SigningCertURL']
  if (!TYPES.has(String(m.Type)) || !text.every((k) => typeof m[k] === 'string')) return undefined
  if (m.SignatureVersion !== '1' && m.SignatureVersion !== '2') return undefined
  return m as unknown as SnsMessage
}

/** The canonical text SNS signs, fields in the documented order. */
export function snsStringToSign(m: SnsMessage): string {
  const keys =
    m.Type === 'Notification'
      ? ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type']
      : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type']
  let out = ''
  for (const key of keys) {
    const value = (m as unknown as Record<string, unknown>)[key]
    if (typeof value === 'string') out += `${key}\n${value}\n`
  }
  return out
}

async function defaultFetchCertificate(url: string): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000), redirect: 'error' })
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`)
  const text = await response.text()
  if (text.length > MAX_CERT_BYTES) throw new Error(`the certificate at ${url} is larger than 64 KiB`)
  return text
}

/**
 * Verifies an SNS message as AWS documents it: a trusted certificate URL, the RSA signature
 * (SHA1 for version 1, SHA256 for version 2) over the canonical string, the topic when a list
 * is given, and an age limit against replays. Certificates are cached per URL.
 * @example const m = parseSnsMessage(body); const v = m && (await verifySnsMessage(m, { topicArns: [arn] }))
 */
export async function verifySnsMessage(message: SnsMessage, options: SnsVerifyOptions = {}): Promise<Verification> {
  const { topicArns, trustCertificateUrl = isAwsSnsUrl, fetchCertificate = defaultFetchCertificate } = options
  const now = options.now?.() ?? Date.now()
  let certUrl: URL
  try {
    certUrl = new URL(message.SigningCertURL)
  } catch {
    return { ok: false, reason: 'SigningCertURL is not a URL' }
  }
  if (!trustCertificateUrl(certUrl) || !certUrl.pathname.endsWith('.pem')) {
    return { ok: false, reason: `SigningCertURL ${certUrl.origin} is not an Amazon SNS certificate URL` }
  }
  if (topicArns && !topicArns.includes(message.TopicArn)) {
    return { ok: false, reason: `the topic ${message.TopicArn} is not one of the expected topics` }
  }
  const sent = Date.parse(message.Timestamp)
  if (Number.isNaN(sent) || now - sent > (options.maxAgeMs ?? 3_600_000)) {
    return { ok: false, reason: 'the message is too old (a replay) or has no valid Timestamp' }
  }
  let pem: string
  const key = certUrl.href
  try {
    let pending = certificates.get(key)
    if (!pending) {
      pending = fetchCertificate(key)
      if (certificates.size >= 32) certificates.delete(certificates.keys().next().value as string)
      certificates.set(key, pending)
      pending.catch(() => certificates.delete(key))
    }
    pem = await pending
  } catch (err) {
    return { ok: false, reason: `the signing certificate could not be fetched: ${(err as Error).message}` }
  }
  let certificate: X509Certificate
  try {
    certificate = new X509Certificate(pem)
  } catch {
    return { ok: false, reason: 'the signing certificate is not a PEM certificate' }
  }
  const verifier = createVerify(message.SignatureVersion === '1' ? 'RSA-SHA1' : 'RSA-SHA256')
  verifier.update(snsStringToSign(message), 'utf8')
  return verifier.verify(certificate.publicKey, message.Signature, 'base64')
    ? { ok: true }
    : { ok: false, reason: 'the signature does not match' }
}

/** Parses and verifies an SNS delivery body in one step (a body that is not an SNS message fails). */
export async function verifySnsRequest(body: string | Buffer, options: SnsVerifyOptions = {}): Promise<Verification> {
  const message = parseSnsMessage(body)
  if (!message) return { ok: false, reason: 'the body is not a signed SNS message' }
  return verifySnsMessage(message, options)
}

/**
 * Confirms a verified SubscriptionConfirmation by calling its SubscribeURL, which must pass the
 * same URL check as certificates (an Amazon SNS host by default): a forged URL is never fetched.
 */
export async function confirmSnsSubscription(
  message: SnsMessage,
  trust: (url: URL) => boolean = isAwsSnsUrl,
): Promise<void> {
  if (!message.SubscribeURL) throw new Error('the SubscriptionConfirmation has no SubscribeURL')
  const target = new URL(message.SubscribeURL)
  if (!trust(target)) throw new Error(`the SubscribeURL ${target.origin} is not an Amazon SNS URL; not confirmed`)
  const response = await fetch(target, { signal: AbortSignal.timeout(5000), redirect: 'error' })
  await response.body?.cancel()
  if (!response.ok) throw new Error(`confirming the subscription answered ${response.status}`)
}
