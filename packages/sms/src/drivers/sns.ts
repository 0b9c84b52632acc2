import { importPeer } from '@beaver-kit/core'
import { awsClientConfig, classifyAwsFailure } from '@beaver-kit/delivery'
import { defineSmsDriver, type SmsDriver } from '../driver.ts'
import type { SmsError } from '../errors.ts'
import { driverError } from '../failures.ts'

/** SNS settings: BEAVER_SMS_SNS_* or `createSms({ sns: {...} })`. */
export interface SnsDriverOptions {
  region?: string | undefined
  endpoint?: string | undefined
  accessKeyId?: string | undefined
  secretAccessKey?: string | undefined
  smsType?: 'Transactional' | 'Promotional' | undefined
  senderId?: string | undefined
  /** An SNSClient of your own (reused, never closed by the kit). */
  client?: SnsClient | undefined
}

/** What the driver needs of `@aws-sdk/client-sns`'s SNSClient. */
export interface SnsClient {
  send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown>
  destroy(): void
}

/** Classifies an AWS SDK failure of Publish; `OptedOut` means the number opted out at the carrier. */
export function snsFailure(err: unknown): SmsError {
  const f = classifyAwsFailure(err)
  const status = f.status ?? f.name
  if (f.name === 'OptedOut') return driverError('sns', 'SMS_OPTED_OUT', f.message, { cause: err, status: f.status })
  if (f.kind === 'auth')
    return driverError('sns', 'SMS_AUTH', `${f.message}; check the AWS credentials and region.`, { cause: err, status })
  if (f.kind === 'temporary') return driverError('sns', 'SMS_UNAVAILABLE', f.message, { cause: err, status })
  return driverError('sns', 'SMS_REJECTED', f.message, { cause: err, status: f.status, providerCode: f.name })
}

/**
 * Amazon SNS direct SMS (Publish with PhoneNumber, `@aws-sdk/client-sns`), with the SMS type
 * and sender id as message attributes. Throttling is retried by the SDK with the facade's
 * attempt count. SNS reports delivery status only to CloudWatch Logs, not to a webhook.
 */
export const snsDriver = defineSmsDriver<SnsDriverOptions>({
  name: 'sns',
  peers: ['@aws-sdk/client-sns'],
  section: 'sns',
  async create(options, context) {
    const sdk = await importPeer('@aws-sdk/client-sns', () => import('@aws-sdk/client-sns'), 'the sns SMS driver')
    const own = options.client === undefined
    const client: SnsClient =
      options.client ?? new sdk.SNSClient(awsClientConfig(options, context.config.retry.attempts))
    const attributes = (from: string | undefined): Record<string, { DataType: string; StringValue: string }> => {
      const sender = options.senderId ?? (from !== undefined && !from.startsWith('+') ? from : undefined)
      return {
        'AWS.SNS.SMS.SMSType': { DataType: 'String', StringValue: options.smsType ?? 'Transactional' },
        ...(sender ? { 'AWS.SNS.SMS.SenderID': { DataType: 'String', StringValue: sender } } : {}),
        ...(from?.startsWith('+') ? { 'AWS.MM.SMS.OriginationNumber': { DataType: 'String', StringValue: from } } : {}),
      }
    }
    const driver: SmsDriver = {
      name: 'sns',
      capabilities: Object.freeze({ retries: true, idempotencyKeys: false }),
      async send(message, sendOptions) {
        try {
          const result = (await client.send(
            new sdk.PublishCommand({
              PhoneNumber: message.to,
              Message: message.body,
              MessageAttributes: attributes(message.from),
            }),
            { abortSignal: sendOptions.signal },
          )) as { MessageId?: string }
          return { messageId: result.MessageId ?? '', status: 'accepted' }
        } catch (err) {
          if (sendOptions.signal?.aborted) throw err
          throw snsFailure(err)
        }
      },
      async verify(verifyOptions) {
        try {
          await client.send(new sdk.GetSMSAttributesCommand({}), { abortSignal: verifyOptions.signal })
        } catch (err) {
          if (verifyOptions.signal?.aborted) throw err
          throw snsFailure(err)
        }
      },
      async close() {
        if (own) client.destroy()
      },
    }
    return driver
  },
})
