import {
  toNodeHandler,
  type NodeAdapterOptions,
  type SuppressionList,
  type WebhookReply,
  type WebhookRequest,
} from '@beaver-kit/delivery'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { suppressionKey } from '../address.ts'
import { channels } from '../channels.ts'
import { MailError, isMailError } from '../errors.ts'
import { mailgunWebhook } from './mailgun.ts'
import { postmarkWebhook } from './postmark.ts'
import { resendWebhook } from './resend.ts'
import { sendgridWebhook } from './sendgrid.ts'
import { sesWebhook, type SesWebhookExtras } from './ses.ts'
import type { DeliveryEvent, ProviderWebhook, WebhookProvider, WebhookSettings } from './types.ts'

/** What handling one webhook request gives: the reply to send, the events it carried, the error if refused. */
export interface WebhookResult extends WebhookReply {
  readonly events: readonly DeliveryEvent[]
  /** MAIL_WEBHOOK_SIGNATURE (401) or MAIL_WEBHOOK_PAYLOAD (400) when the request was refused. */
  readonly error?: MailError | undefined
}

export type DeliveryListener = (event: DeliveryEvent) => void | Promise<void>

/** Verifies, normalizes and dispatches delivery webhooks for one mailer. */
export interface MailWebhooks {
  handle(provider: WebhookProvider, request: WebhookRequest): Promise<WebhookResult>
  listener(
    provider: WebhookProvider,
    options?: Omit<NodeAdapterOptions, 'limit'>,
  ): (req: IncomingMessage, res: ServerResponse) => void
  onDelivery(listener: DeliveryListener): () => void
}

const PROVIDERS = ['ses', 'sendgrid', 'mailgun', 'postmark', 'resend'] as const

/**
 * The webhook side of a mailer: each provider's signature check, its events normalized,
 * hard bounces and complaints added to the suppression list, `beaver:mail:delivery` published
 * and the listeners called. A listener that fails makes the reply a 500, so the provider
 * delivers the event again (listeners must be idempotent).
 */
export function createMailWebhooks(
  settings: WebhookSettings,
  suppressions: SuppressionList | undefined,
  extras: SesWebhookExtras,
): MailWebhooks {
  const listeners = new Set<DeliveryListener>()
  const providers: Record<WebhookProvider, ProviderWebhook> = {
    ses: sesWebhook(extras),
    sendgrid: sendgridWebhook,
    mailgun: mailgunWebhook,
    postmark: postmarkWebhook,
    resend: resendWebhook,
  }

  async function dispatch(event: DeliveryEvent): Promise<void> {
    if (suppressions && (event.type === 'complained' || (event.type === 'bounced' && event.bounce?.kind === 'hard'))) {
      await suppressions.add(suppressionKey(event.recipient), {
        reason: event.type === 'complained' ? 'complaint' : 'hard-bounce',
        source: event.provider,
      })
    }
    if (channels.delivery.hasSubscribers) channels.delivery.publish({ provider: event.provider, type: event.type })
    for (const listener of listeners) await listener(event)
  }

  async function handle(provider: WebhookProvider, request: WebhookRequest): Promise<WebhookResult> {
    if (!(PROVIDERS as readonly string[]).includes(provider)) {
      return { status: 404, body: 'unknown provider', events: [] }
    }
    if (request.body.length > settings.maxBody) {
      return { status: 413, body: `body larger than ${settings.maxBody} bytes`, events: [] }
    }
    const webhook = providers[provider]
    const verified = await webhook.verify(request, settings)
    if (!verified.ok) {
      const error = new MailError('MAIL_WEBHOOK_SIGNATURE', `A ${provider} webhook was refused: ${verified.reason}.`, {
        details: { provider, reason: verified.reason },
      })
      return { status: 401, body: 'signature verification failed', events: [], error }
    }
    let events: DeliveryEvent[]
    try {
      events = await webhook.parse(request.body, request, settings)
    } catch (err) {
      if (isMailError(err, 'MAIL_WEBHOOK_PAYLOAD'))
        return { status: 400, body: 'unreadable event', events: [], error: err }
      throw err
    }
    for (const event of events) await dispatch(event)
    return { status: 200, body: 'ok', events }
  }

  return {
    handle,
    listener: (provider, options = {}) =>
      toNodeHandler((request) => handle(provider, request), { ...options, limit: settings.maxBody }),
    onDelivery(listener) {
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
      }
    },
  }
}
