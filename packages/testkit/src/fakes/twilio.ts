// Twilio's Messages API, as documented at https://www.twilio.com/docs/messaging/api/message-resource:
// POST /2010-04-01/Accounts/{AccountSid}/Messages.json, form-encoded To, From or
// MessagingServiceSid, Body, StatusCallback, HTTP Basic auth with the Account SID and auth
// token; 201 with the message resource (sid SM…, status queued); errors as
// `{ code, message, more_info, status }`: 401 code 20003, 400 21211 (invalid To), 21602
// (no Body), 21603 (no From), 21610 (the recipient replied STOP), 429 code 20429.
import { randomBytes } from 'node:crypto'
import type { ReceivedSms } from '../sms.ts'
import { formBody, header, startHttpFake, type HttpFake } from './http-fake.ts'

export interface TwilioFake extends HttpFake {
  readonly accountSid: string
  readonly authToken: string
  received(): ReceivedSms[]
  /** Numbers that replied STOP at Twilio (answered with 21610). */
  readonly optedOut: Set<string>
  error(status: number, code: number, message: string): { status: number; body: object }
}

export async function startTwilioFake(
  accountSid = `AC${'0'.repeat(32)}`,
  authToken = 'twilio-auth-token',
): Promise<TwilioFake> {
  const accepted: ReceivedSms[] = []
  const optedOut = new Set<string>()
  const error = (status: number, code: number, message: string) => ({
    status,
    body: { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status },
  })
  const expected = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`
  const fake = await startHttpFake(async (req) => {
    const m = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/.exec(req.path)
    if (!m || req.method !== 'POST') return error(404, 20404, 'The requested resource was not found')
    if (header(req, 'authorization') !== expected || m[1] !== accountSid) return error(401, 20003, 'Authenticate')
    const form = await formBody(req)
    const to = String(form.get('To') ?? '')
    const from = form.get('From')
    const body = form.get('Body')
    if (!/^\+[1-9]\d{1,14}$/.test(to)) return error(400, 21211, `Invalid 'To' Phone Number: ${to}`)
    if (!body) return error(400, 21602, 'Message body is required.')
    if (!from && !form.get('MessagingServiceSid')) return error(400, 21603, "A 'From' phone number is required.")
    if (optedOut.has(to)) return error(400, 21610, 'Attempt to send to unsubscribed recipient')
    const sid = `SM${randomBytes(16).toString('hex')}`
    accepted.push({ to, from: typeof from === 'string' ? from : undefined, body: String(body) })
    return {
      status: 201,
      body: {
        sid,
        account_sid: accountSid,
        to,
        from,
        messaging_service_sid: form.get('MessagingServiceSid'),
        body,
        status: 'queued',
        num_segments: '1',
        direction: 'outbound-api',
        api_version: '2010-04-01',
        date_created: new Date().toUTCString(),
        error_code: null,
        error_message: null,
        uri: `/2010-04-01/Accounts/${accountSid}/Messages/${sid}.json`,
      },
    }
  })
  return {
    ...fake,
    accountSid,
    authToken,
    optedOut,
    error,
    received: () => accepted.slice(),
    clear() {
      fake.clear()
      accepted.length = 0
      optedOut.clear()
    },
  }
}
