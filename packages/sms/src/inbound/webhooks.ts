import type { IncomingMessage, ServerResponse } from 'node:http'
import {
  toNodeHandler,
  type NodeAdapterOptions,
  type SuppressionList,
  type WebhookReply,
  type WebhookRequest,
} from '@beaver-kit/delivery'
import { channels } from '../channels.ts'
import { SmsError, isSmsError } from '../errors.ts'
import { snsWebhook, type SnsWebhookExtras } from './sns.ts'
import { twilioWebhook, twiml } from './twilio.ts'
import type { InboundSms, SmsProviderWebhook, SmsStatusEvent, SmsWebhookProvider, SmsWebhookSettings } from './types.ts'
import { vonageWebhook } from './vonage.ts'

/** What handling one webhook request gives: the reply, what it carried, and the error if refused. */
export interface SmsWebhookResult extends WebhookReply {
  readonly inbound?: InboundSms | undefined
  readonly statusEvent?: SmsStatusEvent | undefined
  /** The text answered to a STOP/START/HELP message, when replies are on. */
  readonly replied?: string | undefined
  readonly error?: SmsError | undefined
}

export type InboundListener = (message: InboundSms) => void | Promise<void>
export type StatusListener = (event: SmsStatusEvent) => void | Promise<void>

export interface SmsWebhooks {
  handle(provider: SmsWebhookProvider, request: WebhookRequest): Promise<SmsWebhookResult>
  listener(
    provider: SmsWebhookProvider,
    options?: Omit<NodeAdapterOptions, 'limit' | 'publicUrl'>,
  ): (req: IncomingMessage, res: ServerResponse) => void
  onInbound(listener: InboundListener): () => void
  onStatus(listener: StatusListener): () => void
}

export interface KeywordReplies {
  readonly enabled: boolean
  readonly help: string
  readonly stop: string
  readonly start: string
  /** Sends a reply through the facade's driver (SNS, Vonage: their webhooks cannot answer with a message). */
  send(to: string, from: string, body: string): Promise<void>
}

const PROVIDERS = ['twilio', 'vonage', 'sns'] as const
// A Twilio error code meaning the recipient opted out at the carrier or Twilio level.
const OPTED_OUT_CODES = new Set(['21610'])

/**
 * The webhook side of the SMS facade: inbound messages and delivery-status callbacks, each
 * provider verified its own way. STOP/START words update the opt-out list; STOP, START and
 * HELP are answered (TwiML for Twilio, a message through the driver for the others). A
 * listener that throws makes the reply a 500, so the provider delivers again.
 */
export function createSmsWebhooks(
  settings: SmsWebhookSettings,
  suppressions: SuppressionList | undefined,
  replies: KeywordReplies,
  extras: SnsWebhookExtras,
): SmsWebhooks {
  const inboundListeners = new Set<InboundListener>()
  const statusListeners = new Set<StatusListener>()
  const providers: Record<SmsWebhookProvider, SmsProviderWebhook> = {
    twilio: twilioWebhook,
    vonage: vonageWebhook,
    sns: snsWebhook(extras),
  }

  async function onInbound(m: InboundSms): Promise<string | undefined> {
    if (suppressions && m.keyword === 'stop') await suppressions.add(m.from, { reason: 'opt-out', source: m.provider })
    if (suppressions && m.keyword === 'start') await suppressions.remove(m.from)
    if (m.keyword === 'stop' || m.keyword === 'start') {
      if (channels.optOut.hasSubscribers) channels.optOut.publish({ provider: m.provider, action: m.keyword })
    }
    if (channels.inbound.hasSubscribers) channels.inbound.publish({ provider: m.provider, keyword: m.keyword })
    for (const listener of inboundListeners) await listener(m)
    return replies.enabled && m.keyword ? replies[m.keyword] : undefined
  }

  async function onStatus(e: SmsStatusEvent): Promise<void> {
    if (
      suppressions &&
      e.to &&
      e.errorCode !== undefined &&
      OPTED_OUT_CODES.has(e.errorCode) &&
      e.provider === 'twilio'
    ) {
      await suppressions.add(e.to, { reason: 'opt-out', source: e.provider })
    }
    if (channels.status.hasSubscribers) channels.status.publish({ provider: e.provider, type: e.type })
    for (const listener of statusListeners) await listener(e)
  }

  async function handle(provider: SmsWebhookProvider, request: WebhookRequest): Promise<SmsWebhookResult> {
    if (!(PROVIDERS as readonly string[]).includes(provider)) return { status: 404, body: 'unknown provider' }
    if (request.body.length > settings.maxBody)
      return { status: 413, body: `body larger than ${settings.maxBody} bytes` }
    const webhook = providers[provider]
    const verified = await webhook.verify(request, settings)
    if (!verified.ok) {
      const error = new SmsError('SMS_WEBHOOK_SIGNATURE', `A ${provider} webhook was refused: ${verified.reason}.`, {
        details: { provider, reason: verified.reason },
      })
      return { status: 401, body: 'signature verification failed', error }
    }
    let content
    try {
      content = await webhook.parse(request, settings)
    } catch (err) {
      if (isSmsError(err, 'SMS_WEBHOOK_PAYLOAD')) return { status: 400, body: 'unreadable webhook', error: err }
      throw err
    }
    if (content.status) await onStatus(content.status)
    let replied: string | undefined
    if (content.inbound) {
      replied = await onInbound(content.inbound)
      // Twilio takes the reply in the answer itself; the others need a message sent back.
      if (replied !== undefined && provider !== 'twilio')
        await replies.send(content.inbound.from, content.inbound.to, replied)
    }
    const carried = { inbound: content.inbound, statusEvent: content.status, replied }
    if (provider === 'twilio')
      return { status: 200, headers: { 'content-type': 'text/xml' }, body: twiml(replied), ...carried }
    return { status: 200, body: 'ok', ...carried }
  }

  return {
    handle,
    listener: (provider, options = {}) =>
      toNodeHandler((request) => handle(provider, request), {
        ...options,
        limit: settings.maxBody,
        ...(settings.publicUrl ? { publicUrl: settings.publicUrl } : {}),
      }),
    onInbound(listener) {
      inboundListeners.add(listener)
      return () => void inboundListeners.delete(listener)
    },
    onStatus(listener) {
      statusListeners.add(listener)
      return () => void statusListeners.delete(listener)
    },
  }
}
