import type { Verification, WebhookRequest } from '@beaver-kit/delivery'

/** The providers whose inbound and status webhooks the SMS facade verifies and reads. */
export type SmsWebhookProvider = 'twilio' | 'vonage' | 'sns'

/** The opt-in keywords a message can be (CTIA): the whole body, any case. */
export type SmsKeyword = 'stop' | 'start' | 'help'

/** A verified inbound message. */
export interface InboundSms {
  readonly provider: SmsWebhookProvider
  /** The sender, E.164. */
  readonly from: string
  /** Your number it was sent to. */
  readonly to: string
  readonly body: string
  /** Set when the body is a STOP/START/HELP word. */
  readonly keyword: SmsKeyword | undefined
  readonly messageId: string | undefined
  readonly raw: unknown
}

/** A verified delivery-status callback, normalized. */
export interface SmsStatusEvent {
  readonly type: 'sent' | 'delivered' | 'failed'
  readonly provider: SmsWebhookProvider
  readonly messageId: string
  /** The recipient, E.164, when the provider names it. */
  readonly to: string | undefined
  /** The provider's error code of a failure (Twilio 30003, Vonage err-code). */
  readonly errorCode: string | undefined
  readonly raw: unknown
}

/** What one webhook carried. */
export type SmsWebhookContent = { readonly inbound?: InboundSms; readonly status?: SmsStatusEvent }

export interface SmsWebhookSettings {
  readonly twilioAuthToken: string | undefined
  readonly vonageSignatureSecret: string | undefined
  readonly vonageSignatureMethod: 'md5hash' | 'md5' | 'sha1' | 'sha256' | 'sha512'
  readonly snsTopicArns: readonly string[] | undefined
  readonly publicUrl: string | undefined
  readonly tolerance: number
  readonly maxBody: number
}

/** One provider's webhook: its signature check and what its requests carry. */
export interface SmsProviderWebhook {
  verify(request: WebhookRequest, settings: SmsWebhookSettings): Verification | Promise<Verification>
  /** Undefined content: a request of another kind (an SNS confirmation) answered with 200. */
  parse(request: WebhookRequest, settings: SmsWebhookSettings): SmsWebhookContent | Promise<SmsWebhookContent>
}

const STOP = new Set(['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT', 'OPTOUT', 'REVOKE'])
const START = new Set(['START', 'YES', 'UNSTOP', 'OPTIN'])
const HELP = new Set(['HELP', 'INFO'])

/** The keyword a body is: the whole message, trimmed, any case, trailing punctuation ignored. */
export function keywordOf(body: string): SmsKeyword | undefined {
  const word = body
    .trim()
    .replace(/[.!]+$/, '')
    .toUpperCase()
  if (STOP.has(word)) return 'stop'
  if (START.has(word)) return 'start'
  if (HELP.has(word)) return 'help'
  return undefined
}

/** The parameters of a form body (or the query of a GET). */
export function paramsOf(request: WebhookRequest): Record<string, string> {
  const out: Record<string, string> = {}
  const type = String(request.headers['content-type'] ?? '')
  if (type.includes('application/json')) {
    try {
      for (const [k, v] of Object.entries(JSON.parse(request.body.toString('utf8')) as Record<string, unknown>))
        out[k] = String(v)
    } catch {
      return out
    }
    return out
  }
  const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : ''
  for (const source of [query, request.body.toString('utf8')]) {
    for (const [k, v] of new URLSearchParams(source)) out[k] = v
  }
  return out
}
