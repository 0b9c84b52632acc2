import { checkTimestamp, verifyHmac } from '@beaver-kit/delivery'
import { badPayload, notConfigured, parseJson, timeOf, type DeliveryEvent, type ProviderWebhook } from './types.ts'

interface MailgunBody {
  signature?: { timestamp?: string; token?: string; signature?: string }
  'event-data'?: {
    event?: string
    severity?: string
    recipient?: string
    timestamp?: number
    url?: string
    reason?: string
    message?: { headers?: { 'message-id'?: string } }
    'delivery-status'?: { message?: string; description?: string }
  }
}

// Mailgun asks receivers to refuse a token seen before: a captured request replayed within
// the timestamp tolerance is stopped here. Bounded, oldest first out.
const seenTokens = new Set<string>()

/**
 * Mailgun's webhooks: HMAC-SHA256 of timestamp + token with the webhook signing key, the
 * timestamp within the tolerance and the token not seen before; `event-data` is one event.
 */
export const mailgunWebhook: ProviderWebhook = {
  verify(request, settings) {
    if (!settings.mailgunSigningKey) return notConfigured('BEAVER_MAIL_WEBHOOKS_MAILGUN_SIGNING_KEY')
    let body: MailgunBody
    try {
      body = JSON.parse(request.body.toString('utf8')) as MailgunBody
    } catch {
      return { ok: false, reason: 'the body is not JSON, so it carries no signature' }
    }
    const { timestamp, token, signature } = body.signature ?? {}
    if (!timestamp || !token) return { ok: false, reason: 'signature.timestamp or signature.token is missing' }
    const fresh = checkTimestamp(Number(timestamp), settings.tolerance / 1000)
    if (!fresh.ok) return fresh
    const check = verifyHmac({
      algorithm: 'sha256',
      key: settings.mailgunSigningKey,
      payload: timestamp + token,
      signature,
      encoding: 'hex',
    })
    if (!check.ok) return check
    if (seenTokens.has(token)) return { ok: false, reason: 'the token was used before (a replay)' }
    seenTokens.add(token)
    if (seenTokens.size > 10_000) seenTokens.delete(seenTokens.values().next().value as string)
    return check
  },
  parse(body) {
    const e = (parseJson('mailgun', body) as MailgunBody)['event-data']
    if (typeof e !== 'object' || e === null) throw badPayload('mailgun', 'event-data is missing')
    if (typeof e.recipient !== 'string') return []
    const id = e.message?.headers?.['message-id']
    const base = {
      provider: 'mailgun' as const,
      // send() answers Mailgun's id in angle brackets; the events carry it bare.
      messageId: id === undefined ? undefined : `<${id.replace(/^<|>$/g, '')}>`,
      recipient: e.recipient,
      timestamp: timeOf(e.timestamp, 'seconds'),
      raw: e,
    }
    const reason = e['delivery-status']?.description || e['delivery-status']?.message || e.reason
    const one = (event: DeliveryEvent): DeliveryEvent[] => [event]
    switch (e.event) {
      case 'delivered':
        return one({ ...base, type: 'delivered' })
      case 'failed':
        return one(
          e.severity === 'temporary'
            ? { ...base, type: 'deferred' }
            : { ...base, type: 'bounced', bounce: { kind: 'hard', reason } },
        )
      case 'complained':
        return one({ ...base, type: 'complained' })
      case 'opened':
        return one({ ...base, type: 'opened' })
      case 'clicked':
        return one({ ...base, type: 'clicked', url: e.url })
      default:
        return []
    }
  },
}
