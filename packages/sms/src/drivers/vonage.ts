import { defineSmsDriver, type SmsDriver } from '../driver.ts'
import { driverError } from '../failures.ts'
import { requireSetting, smsProviderApi, type HttpDriverExtras } from './http-provider.ts'

/** Vonage settings: BEAVER_SMS_VONAGE_* or `createSms({ vonage: {...} })`. */
export interface VonageDriverOptions extends HttpDriverExtras {
  apiKey?: string | undefined
  apiSecret?: string | undefined
  baseUrl?: string | undefined
}

interface VonageMessage {
  status?: string
  'message-id'?: string
  'error-text'?: string
}

// https://developer.vonage.com/en/messaging/sms/guides/troubleshooting-sms: 1 throttled,
// 5 internal error (temporary); 4 invalid credentials; the rest concern the message.
const TEMPORARY = new Set(['1', '5'])
const AUTH = new Set(['4', '8'])
const GSM7 = /^[\n\r\x20-\x7e£¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà€]*$/

/**
 * Vonage's SMS API (POST /sms/json with api_key and api_secret) through the kit's HTTP client.
 * Vonage answers 200 even for a refused message, with a status per message part: 1 and 5 are
 * temporary, 4 and 8 credentials, others a rejection.
 */
export const vonageDriver = defineSmsDriver<VonageDriverOptions>({
  name: 'vonage',
  peers: ['@beaver-kit/http'],
  section: 'vonage',
  async create(options, context) {
    const key = requireSetting(options.apiKey, 'BEAVER_SMS_VONAGE_API_KEY', 'vonage')
    const secret = requireSetting(options.apiSecret, 'BEAVER_SMS_VONAGE_API_SECRET', 'vonage')
    const api = await smsProviderApi(
      'vonage',
      options.baseUrl ?? 'https://rest.nexmo.com',
      { accept: 'application/json' },
      context.config,
      options,
      (body) => ({
        text: body,
      }),
    )
    const driver: SmsDriver = {
      name: 'vonage',
      capabilities: Object.freeze({ retries: false, idempotencyKeys: false }),
      async send(message, sendOptions) {
        const from = requireSetting(message.from, 'from (or BEAVER_SMS_FROM)', 'vonage')
        const { body } = await api.post('/sms/json', {
          json: {
            api_key: key,
            api_secret: secret,
            // Vonage takes numbers without the +.
            to: message.to.slice(1),
            from: from.startsWith('+') ? from.slice(1) : from,
            text: message.body,
            ...(GSM7.test(message.body) ? {} : { type: 'unicode' }),
          },
          signal: sendOptions.signal,
        })
        const parts = ((body as { messages?: VonageMessage[] } | undefined)?.messages ?? []) as VonageMessage[]
        const failed = parts.find((p) => p.status !== '0')
        if (failed || parts.length === 0) {
          const status = failed?.status ?? 'none'
          const text = `status ${status}: ${failed?.['error-text'] ?? 'no message parts in the answer'}`
          throw driverError(
            'vonage',
            TEMPORARY.has(status) ? 'SMS_UNAVAILABLE' : AUTH.has(status) ? 'SMS_AUTH' : 'SMS_REJECTED',
            text,
            {
              providerCode: status,
            },
          )
        }
        return { messageId: String(parts[0]?.['message-id'] ?? ''), status: 'accepted' }
      },
      close: () => api.close(),
    }
    return driver
  },
})
