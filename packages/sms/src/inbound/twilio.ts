import { createHmac } from 'node:crypto'
import { headerValue, safeEqual } from '@beaver-kit/delivery'
import { SmsError } from '../errors.ts'
import { keywordOf, paramsOf, type SmsProviderWebhook, type SmsStatusEvent } from './types.ts'

const STATUS: Readonly<Record<string, SmsStatusEvent['type']>> = {
  sent: 'sent',
  delivered: 'delivered',
  undelivered: 'failed',
  failed: 'failed',
}

/** Twilio's X-Twilio-Signature: HMAC-SHA1 of the full URL then each POST parameter name and value, sorted by name, base64. */
export function twilioSignature(authToken: string, url: string, params: Readonly<Record<string, string>>): string {
  const data = Object.keys(params)
    .sort()
    .reduce((acc, key) => acc + key + params[key], url)
  return createHmac('sha1', authToken).update(data).digest('base64')
}

/**
 * Twilio's incoming-message and status-callback webhooks (form posts), verified with the
 * account's auth token over the URL Twilio called: set BEAVER_SMS_WEBHOOKS_PUBLIC_URL behind a
 * proxy, because a proxy changes what the request looks like but not what Twilio signed.
 */
export const twilioWebhook: SmsProviderWebhook = {
  verify(request, settings) {
    if (!settings.twilioAuthToken)
      return { ok: false, reason: 'BEAVER_SMS_TWILIO_AUTH_TOKEN is not set, so no request can be verified' }
    const signature = headerValue(request.headers, 'x-twilio-signature')
    if (!signature) return { ok: false, reason: 'the X-Twilio-Signature header is missing' }
    const path = request.url.replace(/^https?:\/\/[^/]+/, '')
    const url = settings.publicUrl ? new URL(path, settings.publicUrl).href : request.url
    const params =
      request.method === 'GET' ? {} : Object.fromEntries(new URLSearchParams(request.body.toString('utf8')))
    return safeEqual(twilioSignature(settings.twilioAuthToken, url, params), signature)
      ? { ok: true }
      : { ok: false, reason: `the signature does not match (signed URL ${url})` }
  },
  parse(request) {
    const p = paramsOf(request)
    if (p.MessageStatus !== undefined) {
      const type = STATUS[p.MessageStatus]
      if (!type || !p.MessageSid) return {}
      return {
        status: {
          type,
          provider: 'twilio',
          messageId: p.MessageSid,
          to: p.To,
          errorCode: p.ErrorCode || undefined,
          raw: p,
        },
      }
    }
    if (p.From === undefined || p.Body === undefined) {
      throw new SmsError('SMS_WEBHOOK_PAYLOAD', 'The twilio webhook has neither MessageStatus nor From and Body.', {
        details: { provider: 'twilio' },
      })
    }
    return {
      inbound: {
        provider: 'twilio',
        from: p.From,
        to: p.To ?? '',
        body: p.Body,
        keyword: keywordOf(p.Body),
        messageId: p.MessageSid,
        raw: p,
      },
    }
  },
}

/** A TwiML answer: `<Response/>`, or one reply message, XML-escaped. */
export function twiml(reply: string | undefined): string {
  if (reply === undefined) return '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
  const text = reply.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
  return `<?xml version="1.0" encoding="UTF-8"?><Response><Message>${text}</Message></Response>`
}
