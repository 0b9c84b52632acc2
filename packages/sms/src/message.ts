import { invalidField } from './errors.ts'
import { segmentsOf, toE164, toSender } from './phone.ts'
import type { OutgoingSms } from './driver.ts'

/** A message as callers write it. */
export interface SmsMessage {
  /** E.164 (`+14155550100`); spaces, dots, dashes and parentheses are accepted and removed. */
  to: string
  body: string
  /** Default BEAVER_SMS_FROM; an E.164 number or an alphanumeric sender id. */
  from?: string | undefined
  /** A key unique to this logical message, for providers and queues that deduplicate. */
  idempotencyKey?: string | undefined
}

/** C0 control characters a handset cannot show (tab, line feed and carriage return are fine). */
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0x7f) return true
  }
  return false
}
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,256}$/

/** Checks a message field by field; every problem is an SmsError naming the field. */
export function prepareSms(
  message: SmsMessage,
  limits: { defaultFrom: string | undefined; maxLength: number },
): OutgoingSms & { segments: number } {
  if (typeof message !== 'object' || message === null) throw invalidField('message', 'expected { to, body }')
  const to = toE164(message.to, 'to')
  const fromInput = message.from ?? limits.defaultFrom
  const from = fromInput === undefined ? undefined : toSender(fromInput, 'from')
  const { body } = message
  if (typeof body !== 'string' || body.trim() === '') throw invalidField('body', 'a body is required')
  if (body.length > limits.maxLength)
    throw invalidField('body', `${body.length} characters; at most ${limits.maxLength} (BEAVER_SMS_MAX_LENGTH)`)
  if (hasControl(body)) throw invalidField('body', 'holds control characters a handset cannot show')
  const key = message.idempotencyKey
  if (key !== undefined && (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)))
    throw invalidField('idempotencyKey', '1 to 256 printable ASCII characters')
  return Object.freeze({ to, from, body, idempotencyKey: key, segments: segmentsOf(body) })
}
