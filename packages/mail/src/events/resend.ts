import { verifySvix } from '@beaver-kit/delivery'
import {
  badPayload,
  notConfigured,
  parseJson,
  timeOf,
  type DeliveryEvent,
  type DeliveryEventType,
  type ProviderWebhook,
} from './types.ts'

interface ResendEvent {
  type?: string
  created_at?: string
  data?: {
    email_id?: string
    to?: string[]
    bounce?: { type?: string; message?: string }
    click?: { link?: string }
  }
}

const TYPES: Readonly<Record<string, DeliveryEventType>> = {
  'email.delivered': 'delivered',
  'email.delivery_delayed': 'deferred',
  'email.bounced': 'bounced',
  'email.complained': 'complained',
  'email.opened': 'opened',
  'email.clicked': 'clicked',
}

/** Resend's webhooks, signed through Svix (svix-id, svix-timestamp, svix-signature over the raw body). */
export const resendWebhook: ProviderWebhook = {
  verify(request, settings) {
    if (!settings.resendSecret) return notConfigured('BEAVER_MAIL_WEBHOOKS_RESEND_SECRET')
    return verifySvix({
      secret: settings.resendSecret,
      headers: request.headers,
      body: request.body,
      toleranceSec: settings.tolerance / 1000,
    })
  },
  parse(body) {
    const e = parseJson('resend', body) as ResendEvent
    if (typeof e !== 'object' || e === null || typeof e.type !== 'string' || typeof e.data !== 'object') {
      throw badPayload('resend', 'type or data is missing')
    }
    const type = TYPES[e.type]
    if (!type) return []
    const data = e.data
    return (data.to ?? []).map((recipient): DeliveryEvent => ({
      type,
      provider: 'resend',
      messageId: data.email_id,
      recipient,
      timestamp: timeOf(e.created_at, 'iso'),
      ...(type === 'bounced'
        ? { bounce: { kind: data.bounce?.type === 'Permanent' ? 'hard' : 'soft', reason: data.bounce?.message } }
        : {}),
      ...(type === 'clicked' ? { url: data.click?.link } : {}),
      raw: e,
    }))
  },
}
