import { headerValue, safeEqual } from '@beaver-kit/delivery'
import { badPayload, notConfigured, parseJson, timeOf, type DeliveryEvent, type ProviderWebhook } from './types.ts'

interface PostmarkEvent {
  RecordType?: string
  MessageID?: string
  Recipient?: string
  Email?: string
  Type?: string
  Description?: string
  OriginalLink?: string
  DeliveredAt?: string
  BouncedAt?: string
  ReceivedAt?: string
}

// Bounce types that mean the address will not work (https://postmarkapp.com/developer/api/bounce-api#bounce-types).
const HARD = new Set([
  'HardBounce',
  'BadEmailAddress',
  'ManuallyDeactivated',
  'SpamNotification',
  'Blocked',
  'DMARCPolicy',
])
const DEFERRED = new Set(['Transient', 'DnsError', 'AutoResponder', 'OutOfOffice'])

/**
 * Postmark's webhooks. Postmark signs nothing: it calls the URL with the Basic auth credentials
 * you put in it (https://user:password@host/path), which are checked here in constant time.
 */
export const postmarkWebhook: ProviderWebhook = {
  verify(request, settings) {
    if (!settings.postmarkUser || !settings.postmarkPassword) {
      return notConfigured('BEAVER_MAIL_WEBHOOKS_POSTMARK_USER and _PASSWORD')
    }
    const auth = headerValue(request.headers, 'authorization') ?? ''
    const expected = `Basic ${Buffer.from(`${settings.postmarkUser}:${settings.postmarkPassword}`).toString('base64')}`
    return safeEqual(auth, expected) ? { ok: true } : { ok: false, reason: 'the Basic auth credentials do not match' }
  },
  parse(body) {
    const e = parseJson('postmark', body) as PostmarkEvent
    if (typeof e !== 'object' || e === null || typeof e.RecordType !== 'string')
      throw badPayload('postmark', 'RecordType is missing')
    const recipient = e.Recipient ?? e.Email
    if (typeof recipient !== 'string') return []
    const base = { provider: 'postmark' as const, messageId: e.MessageID, recipient, raw: e }
    const one = (event: DeliveryEvent): DeliveryEvent[] => [event]
    switch (e.RecordType) {
      case 'Delivery':
        return one({ ...base, type: 'delivered', timestamp: timeOf(e.DeliveredAt, 'iso') })
      case 'Bounce': {
        const timestamp = timeOf(e.BouncedAt, 'iso')
        if (DEFERRED.has(e.Type ?? '')) return one({ ...base, type: 'deferred', timestamp })
        return one({
          ...base,
          type: 'bounced',
          timestamp,
          bounce: { kind: HARD.has(e.Type ?? '') ? 'hard' : 'soft', reason: e.Description },
        })
      }
      case 'SpamComplaint':
        return one({ ...base, type: 'complained', timestamp: timeOf(e.BouncedAt, 'iso') })
      case 'Open':
        return one({ ...base, type: 'opened', timestamp: timeOf(e.ReceivedAt, 'iso') })
      case 'Click':
        return one({ ...base, type: 'clicked', url: e.OriginalLink, timestamp: timeOf(e.ReceivedAt, 'iso') })
      default:
        return []
    }
  },
}
