import { importPeer } from '@beaver-kit/core'
import { awsClientConfig, classifyAwsFailure } from '@beaver-kit/delivery'
import { formatAddress } from '../address.ts'
import { invalidField, type MailError } from '../errors.ts'
import { transportError } from '../failures.ts'
import { recipientsOf, type OutgoingMail } from '../message.ts'
import { buildMime } from '../mime.ts'
import { defineMailDriver, plainCapabilities, type MailTransport } from '../transport.ts'

/** SES settings: BEAVER_MAIL_SES_* or `createMailer({ ses: {...} })`. */
export interface SesTransportOptions {
  region?: string | undefined
  endpoint?: string | undefined
  accessKeyId?: string | undefined
  secretAccessKey?: string | undefined
  configurationSet?: string | undefined
  /** An SESv2Client of your own (reused, never closed by the kit). */
  client?: SesClient | undefined
}

/** What the transport needs of `@aws-sdk/client-sesv2`'s SESv2Client. */
export interface SesClient {
  send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown>
  destroy(): void
}

const SES_TAG = /^[A-Za-z0-9_-]{1,256}$/
/** SES's message tags: a tag is a name whose value is "true"; metadata values must fit SES's tag alphabet. */
export function sesTags(mail: OutgoingMail): Array<{ Name: string; Value: string }> {
  const tags = mail.tags.map((Name) => ({ Name, Value: 'true' }))
  for (const [Name, Value] of Object.entries(mail.metadata)) {
    if (!SES_TAG.test(Value)) {
      throw invalidField(
        `metadata.${Name}`,
        'SES carries metadata as message tags, whose values are 1-256 letters, digits, _ and -',
      )
    }
    tags.push({ Name, Value })
  }
  return tags
}

/** Classifies an AWS SDK failure: credentials, throttling/5xx/network (temporary), or a rejected message. */
export function sesFailure(err: unknown): MailError {
  const f = classifyAwsFailure(err)
  const status = f.status ?? f.name
  if (f.kind === 'auth')
    return transportError('ses', 'MAIL_AUTH', `${f.message}; check the AWS credentials and region.`, {
      cause: err,
      status,
    })
  if (f.kind === 'temporary') return transportError('ses', 'MAIL_UNAVAILABLE', f.message, { cause: err, status })
  return transportError('ses', 'MAIL_REJECTED', f.message, { cause: err, status: f.status })
}

/**
 * Amazon SES through the v2 API (`@aws-sdk/client-sesv2`, nodemailer#1430): the message is
 * built by nodemailer as raw MIME (headers, attachments and inline images exactly as SMTP
 * would carry them), tags become SES message tags, and the configuration set publishes
 * delivery events to SNS. Throttling is retried by the SDK with the mailer's attempt count.
 */
export const sesDriver = defineMailDriver<SesTransportOptions>({
  name: 'ses',
  peers: ['@aws-sdk/client-sesv2', 'nodemailer'],
  section: 'ses',
  async create(options, context) {
    const sdk = await importPeer(
      '@aws-sdk/client-sesv2',
      () => import('@aws-sdk/client-sesv2'),
      'the ses mail transport',
    )
    const own = options.client === undefined
    const client: SesClient =
      options.client ?? new sdk.SESv2Client(awsClientConfig(options, context.config.retry.attempts))
    const transport: MailTransport = {
      name: 'ses',
      capabilities: plainCapabilities({ retries: true, maxTags: 50 }),
      async send(mail, sendOptions) {
        const tags = sesTags(mail)
        const { raw } = await buildMime(mail, 'the ses mail transport', false)
        try {
          const result = (await client.send(
            new sdk.SendEmailCommand({
              FromEmailAddress: formatAddress(mail.from),
              Destination: {
                ToAddresses: mail.to.map(formatAddress),
                CcAddresses: mail.cc.map(formatAddress),
                BccAddresses: mail.bcc.map(formatAddress),
              },
              Content: { Raw: { Data: raw } },
              ...(tags.length ? { EmailTags: tags } : {}),
              ...(options.configurationSet ? { ConfigurationSetName: options.configurationSet } : {}),
            }),
            { abortSignal: sendOptions.signal },
          )) as { MessageId?: string }
          return { messageId: result.MessageId ?? '', accepted: recipientsOf(mail) }
        } catch (err) {
          if (sendOptions.signal?.aborted) throw err
          throw sesFailure(err)
        }
      },
      async verify(verifyOptions) {
        try {
          await client.send(new sdk.GetAccountCommand({}), { abortSignal: verifyOptions.signal })
        } catch (err) {
          if (verifyOptions.signal?.aborted) throw err
          throw sesFailure(err)
        }
      },
      async close() {
        if (own) client.destroy()
      },
    }
    return transport
  },
})
