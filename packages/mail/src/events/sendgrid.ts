import { createPublicKey, createVerify, type KeyObject } from 'node:crypto'
import { checkTimestamp, headerValue } from '@beaver-kit/delivery'
import { badPayload, notConfigured, parseJson, timeOf, type DeliveryEvent, type ProviderWebhook } from './types.ts'

interface SendgridEvent {
  email?: string
  event?: string
  timestamp?: number
  sg_message_id?: string
  type?: string
  reason?: string
  url?: string
}

const keys = new Map<string, KeyObject>()
function publicKey(text: string): KeyObject {
  let key = keys.get(text)
  if (!key) {
    key = text.includes('BEGIN PUBLIC KEY')
      ? createPublicKey(text)
      : createPublicKey({ key: Buffer.from(text, 'base64'), format: 'der', type: 'spki' })
    keys.set(text, key)
  }
  return key
}

/**
 * SendGrid's signed event webhook: an ECDSA (P-256, SHA-256) signature of the timestamp header
 * followed by the raw body, checked with the verification key from the SendGrid settings; the
 * body is an array of events whose `sg_message_id` starts with the X-Message-Id send() answered.
 */
export const sendgridWebhook: ProviderWebhook = {
  verify(request, settings) {
    if (!settings.sendgridPublicKey) return notConfigured('BEAVER_MAIL_WEBHOOKS_SENDGRID_PUBLIC_KEY')
    const signature = headerValue(request.headers, 'x-twilio-email-event-webhook-signature')
    const timestamp = headerValue(request.headers, 'x-twilio-email-event-webhook-timestamp')
    if (!signature || !timestamp)
      return { ok: false, reason: 'the X-Twilio-Email-Event-Webhook-Signature or -Timestamp header is missing' }
    const fresh = checkTimestamp(Number(timestamp), settings.tolerance / 1000)
    if (!fresh.ok) return fresh
    const verifier = createVerify('sha256')
    verifier.update(timestamp)
    verifier.update(request.body)
    let valid: boolean
    try {
      valid = verifier.verify(publicKey(settings.sendgridPublicKey), signature, 'base64')
    } catch {
      // A key or signature that is not ECDSA DER at all: refused like a wrong one.
      valid = false
    }
    return valid ? { ok: true } : { ok: false, reason: 'the ECDSA signature does not match' }
  },
  parse(body) {
    const events = parseJson('sendgrid', body)
    if (!Array.isArray(events)) throw badPayload('sendgrid', 'expected an array of events')
    const out: DeliveryEvent[] = []
    for (const raw of events as SendgridEvent[]) {
      if (typeof raw !== 'object' || raw === null || typeof raw.email !== 'string') continue
      const base = {
        provider: 'sendgrid' as const,
        messageId: raw.sg_message_id?.split('.')[0],
        recipient: raw.email,
        timestamp: timeOf(raw.timestamp, 'seconds'),
        raw,
      }
      switch (raw.event) {
        case 'delivered':
          out.push({ ...base, type: 'delivered' })
          break
        case 'deferred':
          out.push({ ...base, type: 'deferred' })
          break
        case 'bounce':
          // SendGrid: type "bounce" is a hard bounce, "blocked" a refusal that may pass later.
          out.push({
            ...base,
            type: 'bounced',
            bounce: { kind: raw.type === 'blocked' ? 'soft' : 'hard', reason: raw.reason },
          })
          break
        case 'dropped':
          out.push({ ...base, type: 'bounced', bounce: { kind: 'hard', reason: raw.reason } })
          break
        case 'spamreport':
          out.push({ ...base, type: 'complained' })
          break
        case 'open':
          out.push({ ...base, type: 'opened' })
          break
        case 'click':
          out.push({ ...base, type: 'clicked', url: raw.url })
          break
      }
    }
    return out
  },
}
