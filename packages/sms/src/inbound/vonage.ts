import { createHash, createHmac } from 'node:crypto'
import { checkTimestamp, safeEqual } from '@beaver-kit/delivery'
import { SmsError } from '../errors.ts'
import { keywordOf, paramsOf, type SmsProviderWebhook, type SmsStatusEvent, type SmsWebhookSettings } from './types.ts'

const STATUS: Readonly<Record<string, SmsStatusEvent['type']>> = {
  delivered: 'delivered',
  accepted: 'sent',
  buffered: 'sent',
  expired: 'failed',
  failed: 'failed',
  rejected: 'failed',
}

/**
 * Vonage's signature of SMS API webhooks: every parameter but `sig`, sorted by name, as
 * `&name=value` with `&` and `=` in values replaced by `_`; md5hash appends the secret and
 * takes MD5, the HMAC methods key the HMAC with it (hex, compared without case).
 */
export function vonageSignature(
  params: Readonly<Record<string, string>>,
  secret: string,
  method: SmsWebhookSettings['vonageSignatureMethod'],
): string {
  const text = Object.keys(params)
    .filter((k) => k !== 'sig')
    .sort()
    .map((k) => `&${k}=${String(params[k]).replace(/[&=]/g, '_')}`)
    .join('')
  if (method === 'md5hash')
    return createHash('md5')
      .update(text + secret)
      .digest('hex')
  return createHmac(method, secret).update(text).digest('hex')
}

/** Vonage's inbound-message and delivery-receipt webhooks (GET query, form or JSON), verified by `sig` and `timestamp`. */
export const vonageWebhook: SmsProviderWebhook = {
  verify(request, settings) {
    if (!settings.vonageSignatureSecret)
      return { ok: false, reason: 'BEAVER_SMS_VONAGE_SIGNATURE_SECRET is not set, so no request can be verified' }
    const p = paramsOf(request)
    if (!p.sig)
      return { ok: false, reason: 'the sig parameter is missing (turn on signed webhooks in the Vonage dashboard)' }
    const fresh = checkTimestamp(Number(p.timestamp), settings.tolerance / 1000)
    if (!fresh.ok) return fresh
    const expected = vonageSignature(p, settings.vonageSignatureSecret, settings.vonageSignatureMethod)
    return safeEqual(expected.toLowerCase(), p.sig.toLowerCase())
      ? { ok: true }
      : { ok: false, reason: 'the signature does not match' }
  },
  parse(request) {
    const p = paramsOf(request)
    const plus = (n: string | undefined): string => (n === undefined || n.startsWith('+') ? (n ?? '') : `+${n}`)
    if (p.status !== undefined && p.messageId !== undefined) {
      const type = STATUS[p.status]
      if (!type) return {}
      return {
        status: {
          type,
          provider: 'vonage',
          messageId: p.messageId,
          to: plus(p.msisdn),
          errorCode: p['err-code'] && p['err-code'] !== '0' ? p['err-code'] : undefined,
          raw: p,
        },
      }
    }
    if (p.msisdn === undefined || p.text === undefined) {
      throw new SmsError('SMS_WEBHOOK_PAYLOAD', 'The vonage webhook has neither a status nor msisdn and text.', {
        details: { provider: 'vonage' },
      })
    }
    return {
      inbound: {
        provider: 'vonage',
        from: plus(p.msisdn),
        to: plus(p.to),
        body: p.text,
        keyword: keywordOf(p.text),
        messageId: p.messageId,
        raw: p,
      },
    }
  },
}
