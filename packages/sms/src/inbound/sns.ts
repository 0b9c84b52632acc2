import {
  confirmSnsSubscription,
  parseSnsMessage,
  verifySnsRequest,
  type SnsMessage,
  type SnsVerifyOptions,
} from '@beaver-kit/delivery'
import { SmsError } from '../errors.ts'
import { keywordOf, type SmsProviderWebhook } from './types.ts'

/** SNS options only code can give: the certificate check of a local SNS stand-in in tests. */
export type SnsWebhookExtras = Pick<SnsVerifyOptions, 'trustCertificateUrl' | 'fetchCertificate'>

interface TwoWaySms {
  originationNumber?: string
  destinationNumber?: string
  messageBody?: string
  inboundMessageId?: string
}

/**
 * Two-way SMS through Amazon SNS (End User Messaging delivers inbound messages to an SNS topic
 * subscribed by HTTPS): the SNS signature is verified, subscriptions are confirmed, and each
 * notification is one inbound message.
 */
export function snsWebhook(extras: SnsWebhookExtras): SmsProviderWebhook {
  return {
    verify: (request, settings) =>
      verifySnsRequest(request.body, {
        ...extras,
        topicArns: settings.snsTopicArns?.length ? settings.snsTopicArns : undefined,
      }),
    async parse(request) {
      const message = parseSnsMessage(request.body) as SnsMessage
      if (message.Type === 'SubscriptionConfirmation') {
        await confirmSnsSubscription(message, extras.trustCertificateUrl).catch((err: unknown) => {
          throw new SmsError(
            'SMS_WEBHOOK_PAYLOAD',
            `The SNS subscription could not be confirmed: ${(err as Error).message}.`,
            { cause: err, details: { provider: 'sns' } },
          )
        })
        return {}
      }
      if (message.Type !== 'Notification') return {}
      let sms: TwoWaySms
      try {
        sms = JSON.parse(message.Message) as TwoWaySms
      } catch (err) {
        throw new SmsError('SMS_WEBHOOK_PAYLOAD', 'The SNS message is not an inbound SMS.', {
          cause: err,
          details: { provider: 'sns' },
        })
      }
      if (typeof sms.originationNumber !== 'string' || typeof sms.messageBody !== 'string') {
        throw new SmsError('SMS_WEBHOOK_PAYLOAD', 'The SNS message lacks originationNumber or messageBody.', {
          details: { provider: 'sns' },
        })
      }
      return {
        inbound: {
          provider: 'sns',
          from: sms.originationNumber,
          to: sms.destinationNumber ?? '',
          body: sms.messageBody,
          keyword: keywordOf(sms.messageBody),
          messageId: sms.inboundMessageId,
          raw: sms,
        },
      }
    },
  }
}
