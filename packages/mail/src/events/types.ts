import type { Verification, WebhookRequest } from '@beaver-kit/delivery'
import { MailError } from '../errors.ts'

/** The delivery outcomes every provider's events are normalized to. */
export type DeliveryEventType = 'delivered' | 'bounced' | 'complained' | 'opened' | 'clicked' | 'deferred'

/** The providers whose webhooks the mailer verifies and reads. */
export type WebhookProvider = 'ses' | 'sendgrid' | 'mailgun' | 'postmark' | 'resend'

/** One verified delivery event, the same shape whatever the provider; `raw` is the provider's own event. */
export interface DeliveryEvent {
  readonly type: DeliveryEventType
  readonly provider: WebhookProvider
  /** The id `send()` answered for the message, when the provider's event names it. */
  readonly messageId: string | undefined
  /** One recipient per event (a provider event naming several becomes several events). */
  readonly recipient: string
  readonly timestamp: Date
  /** For `bounced`: `hard` (the address does not exist: suppressed) or `soft`. */
  readonly bounce?: { readonly kind: 'hard' | 'soft'; readonly reason: string | undefined } | undefined
  /** For `clicked`: the link. */
  readonly url?: string | undefined
  readonly raw: unknown
}

/** The webhook settings the providers' checks read (BEAVER_MAIL_WEBHOOKS_*). */
export interface WebhookSettings {
  readonly sesTopicArns: readonly string[] | undefined
  readonly sesConfirmSubscriptions: boolean
  readonly sendgridPublicKey: string | undefined
  readonly mailgunSigningKey: string | undefined
  readonly postmarkUser: string | undefined
  readonly postmarkPassword: string | undefined
  readonly resendSecret: string | undefined
  readonly tolerance: number
  readonly maxBody: number
}

/** One provider's webhook: its signature check and its event format. */
export interface ProviderWebhook {
  verify(request: WebhookRequest, settings: WebhookSettings): Verification | Promise<Verification>
  /** The normalized events of a verified body (events of other kinds are left out). */
  parse(body: Buffer, request: WebhookRequest, settings: WebhookSettings): DeliveryEvent[] | Promise<DeliveryEvent[]>
}

/** MAIL_WEBHOOK_PAYLOAD for a body that is not the provider's format. */
export function badPayload(provider: WebhookProvider, problem: string, cause?: unknown): MailError {
  return new MailError('MAIL_WEBHOOK_PAYLOAD', `The ${provider} webhook body is not a ${provider} event: ${problem}.`, {
    cause,
    details: { provider },
  })
}

/** Parses a JSON body, or throws MAIL_WEBHOOK_PAYLOAD. */
export function parseJson(provider: WebhookProvider, body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'))
  } catch (err) {
    throw badPayload(provider, 'not JSON', err)
  }
}

/** A Date from seconds, milliseconds or ISO text; now when absent or unreadable. */
export function timeOf(value: unknown, unit: 'seconds' | 'iso'): Date {
  const date = unit === 'seconds' ? new Date(Number(value) * 1000) : new Date(String(value))
  return Number.isNaN(date.getTime()) ? new Date() : date
}

/** A missing webhook secret: the webhook is refused until it is configured. */
export function notConfigured(variable: string): Verification {
  return { ok: false, reason: `${variable} is not set, so no request can be verified` }
}
