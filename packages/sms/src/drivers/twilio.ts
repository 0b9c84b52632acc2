import { defineSmsDriver, type SmsDriver } from '../driver.ts'
import { requireSetting, smsProviderApi, type HttpDriverExtras } from './http-provider.ts'

/** Twilio settings: BEAVER_SMS_TWILIO_* or `createSms({ twilio: {...} })`. */
export interface TwilioDriverOptions extends HttpDriverExtras {
  accountSid?: string | undefined
  authToken?: string | undefined
  messagingServiceSid?: string | undefined
  statusCallback?: string | undefined
  baseUrl?: string | undefined
}

// 21610: the recipient replied STOP to this sender (https://www.twilio.com/docs/api/errors/21610).
const OPTED_OUT = 21610

function describeTwilio(body: string): { text: string; code?: number; optedOut?: boolean } {
  try {
    const b = JSON.parse(body) as { code?: number; message?: string }
    return { text: `${b.code ?? ''} ${b.message ?? ''}`.trim(), code: b.code, optedOut: b.code === OPTED_OUT }
  } catch {
    return { text: body }
  }
}

/**
 * Twilio's Messages API (POST /2010-04-01/Accounts/{sid}/Messages.json, form-encoded, Basic
 * auth with the account SID and auth token) through the kit's HTTP client. Error 21610 (the
 * recipient replied STOP) is SMS_OPTED_OUT, and the number goes on the opt-out list.
 */
export const twilioDriver = defineSmsDriver<TwilioDriverOptions>({
  name: 'twilio',
  peers: ['@beaver-kit/http'],
  section: 'twilio',
  async create(options, context) {
    const sid = requireSetting(options.accountSid, 'BEAVER_SMS_TWILIO_ACCOUNT_SID', 'twilio')
    const token = requireSetting(options.authToken, 'BEAVER_SMS_TWILIO_AUTH_TOKEN', 'twilio')
    const api = await smsProviderApi(
      'twilio',
      options.baseUrl ?? 'https://api.twilio.com',
      { authorization: `Basic ${Buffer.from(`${sid}:${token}`).toString('base64')}`, accept: 'application/json' },
      context.config,
      options,
      describeTwilio,
    )
    const driver: SmsDriver = {
      name: 'twilio',
      capabilities: Object.freeze({ retries: true, idempotencyKeys: false }),
      async send(message, sendOptions) {
        const form = new URLSearchParams({ To: message.to, Body: message.body })
        if (options.messagingServiceSid && message.from === undefined)
          form.set('MessagingServiceSid', options.messagingServiceSid)
        else
          form.set(
            'From',
            requireSetting(
              message.from,
              'from (or BEAVER_SMS_FROM, or BEAVER_SMS_TWILIO_MESSAGING_SERVICE_SID)',
              'twilio',
            ),
          )
        if (options.statusCallback) form.set('StatusCallback', options.statusCallback)
        const { body } = await api.post(`/2010-04-01/Accounts/${encodeURIComponent(sid)}/Messages.json`, {
          body: form,
          signal: sendOptions.signal,
        })
        const b = body as { sid?: string; status?: string }
        return { messageId: String(b.sid ?? ''), status: b.status }
      },
      close: () => api.close(),
    }
    return driver
  },
})
