import { createHash, createHmac } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSnsPublisher, twilioSignature, type SnsPublisher } from '@beaver-kit/testkit/fakes/webhook-signers'
import { createSms, keywordOf, type Sms, type SmsWebhookProvider } from '@beaver-kit/sms'

const TOKEN = 'twilio-token'
const VONAGE_SECRET = 'vonage-signature-secret'
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:inbound-sms'
let sns: SnsPublisher
beforeAll(async () => {
  sns = await startSnsPublisher()
})
afterAll(() => sns.stop())

const smsWith = (extra: Parameters<typeof createSms>[0] = {}): Sms =>
  createSms({
    envPrefix: false,
    driver: 'memory',
    from: '+15005550006',
    twilio: { authToken: TOKEN },
    vonage: { signatureSecret: VONAGE_SECRET, signatureMethod: 'sha256' },
    webhooks: { snsTopicArns: [TOPIC], trustCertificateUrl: (u) => sns.trust(u) },
    ...extra,
  })

const URL_ = 'https://app.example.com/sms/twilio'
function twilioRequest(params: Record<string, string>, token = TOKEN) {
  return {
    method: 'POST',
    url: URL_,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': twilioSignature(token, URL_, params),
    },
    body: Buffer.from(new URLSearchParams(params).toString()),
  }
}

// Vonage's documented signing, written here independently of the package.
function vonageRequest(
  params: Record<string, string>,
  method: 'sha256' | 'md5hash' = 'sha256',
  secret = VONAGE_SECRET,
) {
  const withTime = { ...params, timestamp: String(Math.floor(Date.now() / 1000)) }
  let base = ''
  for (const key of Object.keys(withTime).sort())
    base += `&${key}=${withTime[key as keyof typeof withTime].replaceAll('&', '_').replaceAll('=', '_')}`
  const sig =
    method === 'md5hash'
      ? createHash('md5')
          .update(base + secret)
          .digest('hex')
      : createHmac('sha256', secret).update(base).digest('hex').toUpperCase()
  return {
    method: 'GET',
    url: `https://app.example.com/sms/vonage?${new URLSearchParams({ ...withTime, sig })}`,
    headers: {},
    body: Buffer.alloc(0),
  }
}

const handle = (
  sms: Sms,
  provider: SmsWebhookProvider,
  request: { method: string; url: string; headers: Record<string, string>; body: Buffer },
) => sms.webhooks.handle(provider, request)

describe('keywords', () => {
  it('reads STOP, START and HELP words whole, in any case', () => {
    expect(['STOP', 'stop', ' Unsubscribe ', 'cancel', 'END', 'quit', 'StopAll', 'stop.'].map(keywordOf)).toEqual(
      Array(8).fill('stop'),
    )
    expect(['START', 'yes', 'Unstop'].map(keywordOf)).toEqual(['start', 'start', 'start'])
    expect(['HELP', 'info'].map(keywordOf)).toEqual(['help', 'help'])
    expect(['please stop', 'stopping', 'hello', ''].map(keywordOf)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ])
  })
})

describe('twilio webhooks', () => {
  it('STOP opts out with a TwiML confirmation, START opts back in, HELP answers, others reach listeners', async () => {
    await using sms = smsWith()
    const seen: string[] = []
    sms.onInbound((m) => void seen.push(`${m.from}:${m.keyword ?? m.body}`))
    const stop = await handle(
      sms,
      'twilio',
      twilioRequest({ From: '+14155550100', To: '+15005550006', Body: 'STOP', MessageSid: 'SM1' }),
    )
    expect(stop.status).toBe(200)
    expect(stop.headers?.['content-type']).toBe('text/xml')
    expect(stop.body).toContain('<Message>You are unsubscribed')
    expect(await sms.suppressions?.get('+14155550100')).toMatchObject({ reason: 'opt-out', source: 'twilio' })
    await expect(sms.send({ to: '+14155550100', body: 'promo' })).rejects.toMatchObject({ code: 'SMS_OPTED_OUT' })

    const help = await handle(sms, 'twilio', twilioRequest({ From: '+14155550100', To: '+15005550006', Body: 'help' }))
    expect(help.body).toContain('Reply STOP to unsubscribe')
    const start = await handle(
      sms,
      'twilio',
      twilioRequest({ From: '+14155550100', To: '+15005550006', Body: 'Start' }),
    )
    expect(start.replied).toContain('resubscribed')
    expect(await sms.suppressions?.get('+14155550100')).toBeUndefined()
    const plain = await handle(
      sms,
      'twilio',
      twilioRequest({ From: '+14155550100', To: '+15005550006', Body: 'Is my order <ready> & shipped?' }),
    )
    expect(plain.body).toBe('<?xml version="1.0" encoding="UTF-8"?><Response></Response>')
    expect(seen).toEqual([
      '+14155550100:stop',
      '+14155550100:help',
      '+14155550100:start',
      '+14155550100:Is my order <ready> & shipped?',
    ])
    // The memory driver sent nothing: Twilio answers through TwiML.
    expect(sms.sent()).toHaveLength(0)
  })

  it('normalizes status callbacks and refuses a bad signature or a changed URL', async () => {
    await using sms = smsWith()
    const events: string[] = []
    sms.onStatus((e) => void events.push(`${e.type}:${e.messageId}:${e.errorCode ?? ''}`))
    for (const status of ['queued', 'sent', 'delivered', 'undelivered', 'failed']) {
      const r = await handle(
        sms,
        'twilio',
        twilioRequest({
          MessageSid: 'SM9',
          MessageStatus: status,
          To: '+14155550100',
          ...(status === 'undelivered' ? { ErrorCode: '30003' } : {}),
        }),
      )
      expect(r.status).toBe(200)
    }
    expect(events).toEqual(['sent:SM9:', 'delivered:SM9:', 'failed:SM9:30003', 'failed:SM9:'])
    const bad = await handle(sms, 'twilio', twilioRequest({ From: '+1', Body: 'x' }, 'other-token'))
    expect(bad.status).toBe(401)
    expect(bad.error?.code).toBe('SMS_WEBHOOK_SIGNATURE')
    const moved = { ...twilioRequest({ From: '+1', Body: 'x' }), url: 'https://attacker.example.com/sms/twilio' }
    expect((await handle(sms, 'twilio', moved)).status).toBe(401)
    expect((await handle(sms, 'twilio', { ...twilioRequest({}), headers: {} })).status).toBe(401)
    expect((await handle(sms, 'twilio', twilioRequest({ Nothing: 'here' }))).status).toBe(400)
  })

  it('verifies against the public URL behind a proxy, through the node listener', async () => {
    await using sms = smsWith({ webhooks: { publicUrl: 'https://app.example.com' } })
    const server: Server = createServer(sms.webhooks.listener('twilio'))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const local = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sms/twilio`
      const request = twilioRequest({ From: '+14155550100', To: '+15005550006', Body: 'HELP' })
      const response = await fetch(local, {
        method: 'POST',
        headers: request.headers,
        body: new Uint8Array(request.body),
      })
      expect(response.status).toBe(200)
      expect(await response.text()).toContain('<Message>')
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })

  it('a status of 21610 opts the number out', async () => {
    await using sms = smsWith()
    await handle(
      sms,
      'twilio',
      twilioRequest({ MessageSid: 'SM1', MessageStatus: 'failed', To: '+14155550111', ErrorCode: '21610' }),
    )
    expect(await sms.suppressions?.get('+14155550111')).toMatchObject({ reason: 'opt-out' })
  })
})

describe('vonage webhooks', () => {
  it('verifies sig, handles STOP by sending the confirmation through the driver, and reads delivery receipts', async () => {
    await using sms = smsWith()
    const stop = await handle(
      sms,
      'vonage',
      vonageRequest({ msisdn: '447700900001', to: '447700900000', text: 'STOP', messageId: 'v1', type: 'text' }),
    )
    expect(stop.status).toBe(200)
    expect(stop.inbound).toMatchObject({ from: '+447700900001', to: '+447700900000', keyword: 'stop' })
    expect(await sms.suppressions?.get('+447700900001')).toMatchObject({ source: 'vonage' })
    // The one message allowed to a number that just opted out: the confirmation.
    expect(sms.expectSent({ to: '+447700900001', body: /unsubscribed/ }).from).toBe('+447700900000')
    const dlr = await handle(
      sms,
      'vonage',
      vonageRequest(
        { msisdn: '447700900001', to: 'Beaver', messageId: 'v2', status: 'failed', 'err-code': '6' },
        'sha256',
      ),
    )
    expect(dlr.statusEvent).toMatchObject({ type: 'failed', messageId: 'v2', to: '+447700900001', errorCode: '6' })
    const delivered = await handle(
      sms,
      'vonage',
      vonageRequest({ msisdn: '447700900001', messageId: 'v3', status: 'delivered', 'err-code': '0' }),
    )
    expect(delivered.statusEvent).toMatchObject({ type: 'delivered', errorCode: undefined })
    expect((await handle(sms, 'vonage', vonageRequest({ msisdn: '4477', text: 'x' }, 'sha256', 'wrong'))).status).toBe(
      401,
    )
    expect((await handle(sms, 'vonage', vonageRequest({ nothing: 'x' }))).status).toBe(400)
  })

  it('supports the md5hash method, refuses old timestamps and unsigned requests', async () => {
    await using sms = smsWith({ vonage: { signatureSecret: VONAGE_SECRET, signatureMethod: 'md5hash' } })
    expect((await handle(sms, 'vonage', vonageRequest({ msisdn: '447700900001', text: 'hi' }, 'md5hash'))).status).toBe(
      200,
    )
    const old = vonageRequest({ msisdn: '447700900001', text: 'hi' }, 'md5hash')
    const url = new URL(old.url)
    url.searchParams.set('timestamp', String(Math.floor(Date.now() / 1000) - 3600))
    expect((await handle(sms, 'vonage', { ...old, url: url.href })).status).toBe(401)
    expect(
      (
        await handle(sms, 'vonage', {
          method: 'GET',
          url: 'https://x/?msisdn=1&text=hi',
          headers: {},
          body: Buffer.alloc(0),
        })
      ).status,
    ).toBe(401)
  })
})

describe('sns two-way webhooks', () => {
  it('verifies the SNS signature, confirms the subscription, and handles inbound keywords', async () => {
    await using sms = smsWith()
    expect((await handle(sms, 'sns', sns.subscription(TOPIC) as never)).status).toBe(200)
    expect(sns.confirmations).toHaveLength(1)
    const inbound = {
      originationNumber: '+14155550123',
      destinationNumber: '+15005550006',
      messageKeyword: 'KEYWORD_1',
      messageBody: 'stop',
      inboundMessageId: 'in-1',
    }
    const result = await handle(sms, 'sns', { method: 'POST', url: '/sms/sns', ...sns.notification(TOPIC, inbound) })
    expect(result.inbound).toMatchObject({ provider: 'sns', from: '+14155550123', keyword: 'stop', messageId: 'in-1' })
    expect(sms.expectSent({ to: '+14155550123' }).body).toContain('unsubscribed')
    const foreign = await handle(sms, 'sns', {
      method: 'POST',
      url: '/',
      ...sns.notification('arn:aws:sns:us-east-1:1:other', inbound),
    })
    expect(foreign.status).toBe(401)
    const junk = await handle(sms, 'sns', {
      method: 'POST',
      url: '/',
      ...sns.notification(TOPIC, { something: 'else' }),
    })
    expect(junk.status).toBe(400)
  })

  it('replies can be turned off; an unknown provider and a large body are refused', async () => {
    await using sms = smsWith({ inbound: { replies: false } })
    const r = await handle(sms, 'twilio', twilioRequest({ From: '+14155550100', To: '+15005550006', Body: 'HELP' }))
    expect(r.replied).toBeUndefined()
    expect(r.body).toBe('<?xml version="1.0" encoding="UTF-8"?><Response></Response>')
    expect((await handle(sms, 'nope' as SmsWebhookProvider, twilioRequest({}))).status).toBe(404)
    expect((await handle(sms, 'twilio', { ...twilioRequest({}), body: Buffer.alloc(70_000) })).status).toBe(413)
    await using unconfigured = createSms({ envPrefix: false, driver: 'memory' })
    expect((await handle(unconfigured, 'twilio', twilioRequest({ Body: 'x' }))).error?.message).toContain(
      'BEAVER_SMS_TWILIO_AUTH_TOKEN',
    )
    expect((await handle(unconfigured, 'vonage', vonageRequest({ text: 'x' }))).error?.message).toContain(
      'BEAVER_SMS_VONAGE_SIGNATURE_SECRET',
    )
  })
})
