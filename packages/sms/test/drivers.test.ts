import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { describeSmsDriver } from '@beaver-kit/testkit/sms'
import { startSnsFake, type SnsFake } from '@beaver-kit/testkit/fakes/sns'
import { startTwilioFake, type TwilioFake } from '@beaver-kit/testkit/fakes/twilio'
import { startVonageFake, type VonageFake } from '@beaver-kit/testkit/fakes/vonage'
import { createSms, isSmsError, type Sms, type SmsOptions } from '@beaver-kit/sms'

let twilio: TwilioFake
let sns: SnsFake
let vonage: VonageFake
beforeAll(async () => {
  ;[twilio, sns, vonage] = await Promise.all([startTwilioFake(), startSnsFake(), startVonageFake()])
})
afterAll(() => Promise.all([twilio.stop(), sns.stop(), vonage.stop()]))

const base: SmsOptions = { envPrefix: false, retry: { baseDelay: 1, maxDelay: 5 } }
const twilioSms = (authToken = twilio.authToken) =>
  createSms({ ...base, driver: 'twilio', twilio: { accountSid: twilio.accountSid, authToken, baseUrl: twilio.url } })
const snsSms = (accessKeyId = sns.credentials.accessKeyId) =>
  createSms({
    ...base,
    driver: 'sns',
    sns: { region: sns.region, endpoint: sns.url, accessKeyId, secretAccessKey: sns.credentials.secretAccessKey },
  })
const vonageSms = (apiSecret = vonage.apiSecret) =>
  createSms({ ...base, driver: 'vonage', vonage: { apiKey: vonage.apiKey, apiSecret, baseUrl: vonage.url } })

describeSmsDriver('twilio (local Messages API)', () => twilioSms(), {
  received: () => twilio.received(),
  reset: () => twilio.clear(),
  failNextTemporarily: () => twilio.script(twilio.error(429, 20429, 'Too Many Requests')),
  rejectNext: () => twilio.script(twilio.error(400, 21614, "'To' number is not a valid mobile number")),
  withBadCredentials: () => twilioSms('wrong-token'),
})

describeSmsDriver('sns (local Query API)', () => snsSms(), {
  received: () => sns.received(),
  reset: () => sns.clear(),
  failNextTemporarily: () => sns.script(sns.snsError(400, 'Throttling', 'Rate exceeded')),
  rejectNext: () => sns.script(sns.snsError(400, 'InvalidParameter', 'Invalid parameter: PhoneNumber')),
  withBadCredentials: () => snsSms('AKIDWRONG'),
})

describeSmsDriver('vonage (local SMS API)', () => vonageSms(), {
  received: () => vonage.received(),
  reset: () => vonage.clear(),
  failNextTemporarily: () =>
    vonage.script(vonage.refusal('1', 'Throughput Rate Exceeded - please wait [ 30 ] and retry')),
  rejectNext: () => vonage.script(vonage.refusal('6', 'Invalid Message')),
  withBadCredentials: () => vonageSms('wrong'),
})

let memory: Sms | undefined
describeSmsDriver('memory', () => (memory = createSms({ envPrefix: false, driver: 'memory' })), {
  received: () => (memory?.sent() ?? []).map((m) => ({ to: m.to, from: m.from, body: m.body })),
  reset: () => undefined,
  skipReason: 'the memory driver never fails and checks no credentials',
})

describe('driver specifics', () => {
  it('twilio sends from a Messaging Service when no sender is given, with the status callback', async () => {
    twilio.clear()
    await using sms = createSms({
      ...base,
      driver: 'twilio',
      twilio: {
        accountSid: twilio.accountSid,
        authToken: twilio.authToken,
        baseUrl: twilio.url,
        messagingServiceSid: 'MG123',
        statusCallback: 'https://app.example.com/sms/status',
      },
    })
    const result = await sms.send({ to: '+14155550100', body: 'hi' })
    expect(result.messageId).toMatch(/^SM[0-9a-f]{32}$/)
    expect(result.status).toBe('queued')
    const form = new URLSearchParams(twilio.requests[0]?.body.toString())
    expect(form.get('MessagingServiceSid')).toBe('MG123')
    expect(form.get('StatusCallback')).toBe('https://app.example.com/sms/status')
    expect(form.get('From')).toBeNull()
  })

  it('twilio 21610 is SMS_OPTED_OUT and puts the number on the opt-out list', async () => {
    twilio.clear()
    twilio.optedOut.add('+14155550199')
    await using sms = twilioSms()
    const error = await sms.send({ to: '+14155550199', from: '+15005550006', body: 'x' }).catch((e: unknown) => e)
    expect(isSmsError(error, 'SMS_OPTED_OUT')).toBe(true)
    expect(await sms.suppressions?.get('+14155550199')).toMatchObject({ reason: 'opt-out', source: 'twilio' })
    // Next time the facade refuses before calling Twilio.
    const before = twilio.requests.length
    await expect(sms.send({ to: '+14155550199', from: '+15005550006', body: 'x' })).rejects.toMatchObject({
      code: 'SMS_OPTED_OUT',
    })
    expect(twilio.requests.length).toBe(before)
  })

  it('twilio needs a sender: a clear error names the settings', async () => {
    await using sms = twilioSms()
    await expect(sms.send({ to: '+14155550100', body: 'x' })).rejects.toMatchObject({ code: 'SMS_OPTIONS_INVALID' })
  })

  it('sns sends the SMS type, sender id and origination number as message attributes; ready() asks GetSMSAttributes', async () => {
    sns.clear()
    await using sms = createSms({
      ...base,
      driver: 'sns',
      sns: {
        region: sns.region,
        endpoint: sns.url,
        accessKeyId: sns.credentials.accessKeyId,
        secretAccessKey: 'x',
        smsType: 'Promotional',
        senderId: 'BEAVER',
      },
    })
    await sms.ready()
    await sms.send({ to: '+14155550100', from: '+15005550006', body: 'x' })
    expect(sns.attributes[0]).toEqual({
      'AWS.SNS.SMS.SMSType': 'Promotional',
      'AWS.SNS.SMS.SenderID': 'BEAVER',
      'AWS.MM.SMS.OriginationNumber': '+15005550006',
    })
    await using bad = snsSms('AKIDWRONG')
    await expect(bad.ready()).rejects.toMatchObject({ code: 'SMS_AUTH' })
  })

  it('vonage sends unicode text as type unicode and numbers without +', async () => {
    vonage.clear()
    await using sms = vonageSms()
    await sms.send({ to: '+447700900000', from: 'Beaver', body: 'ваш код 42' })
    const sent = JSON.parse(vonage.requests[0]?.body.toString() ?? '{}') as Record<string, string>
    expect(sent).toMatchObject({ to: '447700900000', from: 'Beaver', type: 'unicode' })
    vonage.script({ status: 200, body: { 'message-count': '0', messages: [] } })
    await expect(sms.send({ to: '+447700900000', from: 'Beaver', body: 'x' })).rejects.toMatchObject({
      code: 'SMS_REJECTED',
    })
  })

  it('names missing credentials', async () => {
    await using sms = createSms({ ...base, driver: 'vonage' })
    await expect(sms.send({ to: '+14155550100', from: '+15005550006', body: 'x' })).rejects.toThrow(
      'BEAVER_SMS_VONAGE_API_KEY',
    )
  })
})
