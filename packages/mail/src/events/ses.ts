import {
  confirmSnsSubscription,
  parseSnsMessage,
  verifySnsRequest,
  type SnsMessage,
  type SnsVerifyOptions,
} from '@beaver-kit/delivery'
import { badPayload, timeOf, type DeliveryEvent, type DeliveryEventType, type ProviderWebhook } from './types.ts'

interface SesEvent {
  eventType?: string
  notificationType?: string
  mail?: { messageId?: string; destination?: string[]; timestamp?: string }
  bounce?: {
    bounceType?: string
    bouncedRecipients?: Array<{ emailAddress: string; diagnosticCode?: string }>
    timestamp?: string
  }
  complaint?: { complainedRecipients?: Array<{ emailAddress: string }>; timestamp?: string }
  delivery?: { recipients?: string[]; timestamp?: string }
  open?: { timestamp?: string }
  click?: { link?: string; timestamp?: string }
  deliveryDelay?: { delayedRecipients?: Array<{ emailAddress: string }>; timestamp?: string }
}

/** SNS options only code can give: the certificate check of a local SNS stand-in in tests. */
export type SesWebhookExtras = Pick<SnsVerifyOptions, 'trustCertificateUrl' | 'fetchCertificate'>

/**
 * SES events arrive as Amazon SNS notifications: the SNS signature is verified (certificate
 * from an sns.<region>.amazonaws.com URL, the topic on the allowed list), a subscription
 * confirmation is confirmed, and the notification's message is an SES event (configuration-set
 * event publishing, or the older identity notifications).
 */
export function sesWebhook(extras: SesWebhookExtras): ProviderWebhook {
  return {
    verify: (request, settings) =>
      verifySnsRequest(request.body, {
        ...extras,
        topicArns: settings.sesTopicArns?.length ? settings.sesTopicArns : undefined,
      }),
    async parse(body, _request, settings) {
      const message = parseSnsMessage(body) as SnsMessage
      if (message.Type === 'SubscriptionConfirmation') {
        if (settings.sesConfirmSubscriptions) {
          await confirmSnsSubscription(message, extras.trustCertificateUrl).catch((err: unknown) => {
            throw badPayload('ses', `the subscription could not be confirmed: ${(err as Error).message}`, err)
          })
        }
        return []
      }
      if (message.Type !== 'Notification') return []
      let event: SesEvent
      try {
        event = JSON.parse(message.Message) as SesEvent
      } catch (err) {
        throw badPayload('ses', 'the SNS message is not an SES event', err)
      }
      return sesEvents(event)
    },
  }
}

/** The normalized events of one SES event (one per recipient). */
export function sesEvents(e: SesEvent): DeliveryEvent[] {
  const kind = e.eventType ?? e.notificationType
  const messageId = e.mail?.messageId
  const all = e.mail?.destination ?? []
  const make = (
    type: DeliveryEventType,
    recipients: readonly string[],
    at: string | undefined,
    extra: Partial<DeliveryEvent> = {},
  ): DeliveryEvent[] =>
    recipients.map((recipient) => ({
      type,
      provider: 'ses',
      messageId,
      recipient,
      timestamp: timeOf(at ?? e.mail?.timestamp, 'iso'),
      raw: e,
      ...extra,
    }))
  switch (kind) {
    case 'Delivery':
      return make('delivered', e.delivery?.recipients ?? all, e.delivery?.timestamp)
    case 'Bounce': {
      const b = e.bounce ?? {}
      // Permanent: the address does not exist; Transient and Undetermined may pass later.
      const hard = b.bounceType === 'Permanent'
      return (b.bouncedRecipients ?? []).flatMap((r) =>
        make('bounced', [r.emailAddress], b.timestamp, {
          bounce: { kind: hard ? 'hard' : 'soft', reason: r.diagnosticCode },
        }),
      )
    }
    case 'Complaint':
      return make(
        'complained',
        (e.complaint?.complainedRecipients ?? []).map((r) => r.emailAddress),
        e.complaint?.timestamp,
      )
    case 'Open':
      return make('opened', all, e.open?.timestamp)
    case 'Click':
      return make('clicked', all, e.click?.timestamp, { url: e.click?.link })
    case 'DeliveryDelay':
      return make(
        'deferred',
        (e.deliveryDelay?.delayedRecipients ?? []).map((r) => r.emailAddress),
        e.deliveryDelay?.timestamp,
      )
    default:
      return []
  }
}
