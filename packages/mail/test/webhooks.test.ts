import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  mailgunSigned,
  sendgridKeys,
  startSnsPublisher,
  svixSecret,
  svixSigned,
  type SignedRequest,
  type SnsPublisher,
} from '@beaver-kit/testkit/fakes/webhook-signers'
import { createMailer, type DeliveryEvent, type Mailer, type WebhookProvider } from '@beaver-kit/mail'

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:ses-events'
const sendgrid = sendgridKeys()
const resendSecret = svixSecret()
let sns: SnsPublisher
beforeAll(async () => {
  sns = await startSnsPublisher()
})
afterAll(() => sns.stop())

const webhookMailer = (extra: Parameters<typeof createMailer>[0] = {}): Mailer =>
  createMailer({
    envPrefix: false,
    driver: 'memory',
    webhooks: {
      sesTopicArns: [TOPIC],
      sendgridPublicKey: sendgrid.publicKey,
      mailgunSigningKey: 'mg-signing-key',
      postmarkUser: 'hook',
      postmarkPassword: 'p4ss',
      resendSecret,
      trustCertificateUrl: (u) => sns.trust(u),
    },
    ...extra,
  })

const post = (mailer: Mailer, provider: WebhookProvider, r: SignedRequest) =>
  mailer.webhooks.handle(provider, {
    method: 'POST',
    url: 'https://app.example.com/hooks',
    headers: r.headers,
    body: r.body,
  })

const summary = (events: readonly DeliveryEvent[]) =>
  events.map((e) => [e.type, e.recipient, e.messageId, e.bounce?.kind ?? e.url])

describe('ses through sns', () => {
  it('verifies the SNS signature and normalizes SES events, suppressing a permanent bounce', async () => {
    await using mailer = webhookMailer()
    const seen: DeliveryEvent[] = []
    mailer.onDelivery((e) => void seen.push(e))
    const bounce = {
      eventType: 'Bounce',
      mail: { messageId: 'ses-1', destination: ['gone@example.com'], timestamp: '2026-01-01T00:00:00.000Z' },
      bounce: {
        bounceType: 'Permanent',
        bouncedRecipients: [{ emailAddress: 'Gone@Example.com', diagnosticCode: 'smtp; 550 5.1.1 user unknown' }],
        timestamp: '2026-01-01T00:00:01.000Z',
      },
    }
    const result = await post(mailer, 'ses', sns.notification(TOPIC, bounce))
    expect(result.status).toBe(200)
    expect(summary(result.events)).toEqual([['bounced', 'Gone@Example.com', 'ses-1', 'hard']])
    expect(result.events[0]?.bounce?.reason).toContain('550')
    expect(seen).toHaveLength(1)
    expect(await mailer.suppressions?.get('gone@example.com')).toMatchObject({ reason: 'hard-bounce', source: 'ses' })

    const more = [
      {
        eventType: 'Delivery',
        mail: { messageId: 'ses-2', destination: ['a@example.com'] },
        delivery: { recipients: ['a@example.com'] },
      },
      {
        notificationType: 'Complaint',
        mail: { messageId: 'ses-3', destination: ['b@example.com'] },
        complaint: { complainedRecipients: [{ emailAddress: 'b@example.com' }] },
      },
      { eventType: 'Open', mail: { messageId: 'ses-4', destination: ['c@example.com', 'd@example.com'] }, open: {} },
      {
        eventType: 'Click',
        mail: { messageId: 'ses-5', destination: ['c@example.com'] },
        click: { link: 'https://example.com/x' },
      },
      {
        eventType: 'DeliveryDelay',
        mail: { messageId: 'ses-6', destination: ['e@example.com'] },
        deliveryDelay: { delayedRecipients: [{ emailAddress: 'e@example.com' }] },
      },
      {
        eventType: 'Bounce',
        mail: { messageId: 'ses-7' },
        bounce: { bounceType: 'Transient', bouncedRecipients: [{ emailAddress: 'full@example.com' }] },
      },
      { eventType: 'Send', mail: { messageId: 'ses-8', destination: ['f@example.com'] } },
    ]
    const events = []
    for (const m of more)
      events.push(...(await post(mailer, 'ses', sns.notification(TOPIC, m, { version: '1' }))).events)
    expect(summary(events)).toEqual([
      ['delivered', 'a@example.com', 'ses-2', undefined],
      ['complained', 'b@example.com', 'ses-3', undefined],
      ['opened', 'c@example.com', 'ses-4', undefined],
      ['opened', 'd@example.com', 'ses-4', undefined],
      ['clicked', 'c@example.com', 'ses-5', 'https://example.com/x'],
      ['deferred', 'e@example.com', 'ses-6', undefined],
      ['bounced', 'full@example.com', 'ses-7', 'soft'],
    ])
    expect(await mailer.suppressions?.get('b@example.com')).toMatchObject({ reason: 'complaint' })
    expect(await mailer.suppressions?.get('full@example.com')).toBeUndefined()
  })

  it('confirms a signed subscription, and refuses tampered, foreign-topic, stale and untrusted messages', async () => {
    await using mailer = webhookMailer()
    expect((await post(mailer, 'ses', sns.subscription(TOPIC))).status).toBe(200)
    expect(sns.confirmations).toHaveLength(1)

    const good = sns.notification(TOPIC, {
      eventType: 'Delivery',
      mail: { messageId: 'x', destination: ['a@example.com'] },
    })
    const tampered = { ...good, body: Buffer.from(good.body.toString().replace('a@example.com', 'z@example.com')) }
    const foreign = sns.notification('arn:aws:sns:us-east-1:999999999999:other', { eventType: 'Delivery' })
    const stale = sns.notification(TOPIC, { eventType: 'Delivery' }, { timestamp: new Date(Date.now() - 2 * 3600_000) })
    for (const [request, reason] of [
      [tampered, 'does not match'],
      [foreign, 'not one of the expected topics'],
      [stale, 'too old'],
    ] as const) {
      const result = await post(mailer, 'ses', request)
      expect(result.status).toBe(401)
      expect(result.error?.message).toContain(reason)
    }
    await using strict = createMailer({ envPrefix: false, driver: 'memory' })
    const untrusted = await post(strict, 'ses', good)
    expect(untrusted.status).toBe(401)
    expect(untrusted.error?.code).toBe('MAIL_WEBHOOK_SIGNATURE')
    expect(untrusted.error?.message).toContain('not an Amazon SNS certificate URL')
  })
})

describe('sendgrid', () => {
  it('verifies the ECDSA signature and reads the event array', async () => {
    await using mailer = webhookMailer()
    const now = Math.floor(Date.now() / 1000)
    const events = [
      { email: 'a@example.com', event: 'processed', sg_message_id: 'abc.filter1', timestamp: now },
      { email: 'a@example.com', event: 'delivered', sg_message_id: 'abc.filter1', timestamp: now },
      {
        email: 'b@example.com',
        event: 'bounce',
        type: 'bounce',
        reason: '550 no such user',
        sg_message_id: 'abc.filter2',
        timestamp: now,
      },
      { email: 'c@example.com', event: 'bounce', type: 'blocked', sg_message_id: 'abc.f', timestamp: now },
      { email: 'd@example.com', event: 'dropped', reason: 'Bounced Address', sg_message_id: 'abc.f', timestamp: now },
      { email: 'e@example.com', event: 'deferred', sg_message_id: 'abc.f', timestamp: now },
      { email: 'f@example.com', event: 'spamreport', sg_message_id: 'abc.f', timestamp: now },
      { email: 'g@example.com', event: 'open', sg_message_id: 'abc.f', timestamp: now },
      { email: 'g@example.com', event: 'click', url: 'https://example.com/y', sg_message_id: 'abc.f', timestamp: now },
    ]
    const result = await post(mailer, 'sendgrid', sendgrid.sign(JSON.stringify(events)))
    expect(result.status).toBe(200)
    expect(summary(result.events)).toEqual([
      ['delivered', 'a@example.com', 'abc', undefined],
      ['bounced', 'b@example.com', 'abc', 'hard'],
      ['bounced', 'c@example.com', 'abc', 'soft'],
      ['bounced', 'd@example.com', 'abc', 'hard'],
      ['deferred', 'e@example.com', 'abc', undefined],
      ['complained', 'f@example.com', 'abc', undefined],
      ['opened', 'g@example.com', 'abc', undefined],
      ['clicked', 'g@example.com', 'abc', 'https://example.com/y'],
    ])
    const suppressed = await mailer.suppressions?.check([
      'b@example.com',
      'c@example.com',
      'd@example.com',
      'f@example.com',
    ])
    expect([...(suppressed ?? [])].sort()).toEqual(['b@example.com', 'd@example.com', 'f@example.com'])
  })

  it('refuses a wrong signature, an old timestamp, a missing key and a body that is not an array', async () => {
    await using mailer = webhookMailer()
    const signed = sendgrid.sign('[]')
    expect((await post(mailer, 'sendgrid', { ...signed, body: Buffer.from('[{}]') })).status).toBe(401)
    expect(
      (await post(mailer, 'sendgrid', sendgrid.sign('[]', Math.floor(Date.now() / 1000) - 3600))).error?.message,
    ).toContain('timestamp')
    expect((await post(mailer, 'sendgrid', { headers: {}, body: Buffer.from('[]') })).status).toBe(401)
    expect((await post(mailer, 'sendgrid', sendgrid.sign('{"not":"array"}'))).status).toBe(400)
    await using unconfigured = createMailer({ envPrefix: false, driver: 'memory' })
    const result = await post(unconfigured, 'sendgrid', signed)
    expect(result.error?.message).toContain('BEAVER_MAIL_WEBHOOKS_SENDGRID_PUBLIC_KEY')
  })
})

describe('mailgun', () => {
  it('verifies the HMAC, refuses a replayed token, and maps failed by severity', async () => {
    await using mailer = webhookMailer()
    const failed = mailgunSigned('mg-signing-key', {
      event: 'failed',
      severity: 'permanent',
      recipient: 'gone@example.com',
      timestamp: Date.now() / 1000,
      message: { headers: { 'message-id': '20260101.abc@mg.example.com' } },
      'delivery-status': { description: 'No such mailbox' },
    })
    const result = await post(mailer, 'mailgun', failed)
    expect(summary(result.events)).toEqual([['bounced', 'gone@example.com', '<20260101.abc@mg.example.com>', 'hard']])
    expect((await post(mailer, 'mailgun', failed)).error?.message).toContain('replay')
    const kinds = ['delivered', 'complained', 'opened', 'clicked', 'accepted']
    const events = []
    for (const event of kinds)
      events.push(
        ...(
          await post(
            mailer,
            'mailgun',
            mailgunSigned('mg-signing-key', { event, recipient: 'a@example.com', url: 'https://u.example' }),
          )
        ).events,
      )
    expect(events.map((e) => e.type)).toEqual(['delivered', 'complained', 'opened', 'clicked'])
    const temporary = await post(
      mailer,
      'mailgun',
      mailgunSigned('mg-signing-key', { event: 'failed', severity: 'temporary', recipient: 'a@example.com' }),
    )
    expect(temporary.events.map((e) => e.type)).toEqual(['deferred'])
    expect((await post(mailer, 'mailgun', mailgunSigned('wrong-key', { event: 'delivered' }))).status).toBe(401)
    expect(
      (await post(mailer, 'mailgun', mailgunSigned('mg-signing-key', {}, Math.floor(Date.now() / 1000) - 3600))).status,
    ).toBe(401)
    expect((await post(mailer, 'mailgun', { headers: {}, body: Buffer.from('not json') })).status).toBe(401)
  })
})

describe('postmark', () => {
  const auth = { authorization: `Basic ${Buffer.from('hook:p4ss').toString('base64')}` }
  const postmark = (record: object) => ({ headers: auth, body: Buffer.from(JSON.stringify(record)) })

  it('checks the Basic auth (Postmark signs nothing) and normalizes each record type', async () => {
    await using mailer = webhookMailer()
    const records = [
      { RecordType: 'Delivery', MessageID: 'pm-1', Recipient: 'a@example.com', DeliveredAt: '2026-01-01T00:00:00Z' },
      {
        RecordType: 'Bounce',
        MessageID: 'pm-2',
        Email: 'b@example.com',
        Type: 'HardBounce',
        Description: 'The server was unable to deliver',
      },
      { RecordType: 'Bounce', MessageID: 'pm-3', Email: 'c@example.com', Type: 'SoftBounce' },
      { RecordType: 'Bounce', MessageID: 'pm-4', Email: 'd@example.com', Type: 'Transient' },
      { RecordType: 'SpamComplaint', MessageID: 'pm-5', Email: 'e@example.com' },
      { RecordType: 'Open', MessageID: 'pm-6', Recipient: 'f@example.com' },
      { RecordType: 'Click', MessageID: 'pm-7', Recipient: 'f@example.com', OriginalLink: 'https://example.com/z' },
      { RecordType: 'SubscriptionChange', MessageID: 'pm-8', Recipient: 'f@example.com' },
    ]
    const events = []
    for (const r of records) events.push(...(await post(mailer, 'postmark', postmark(r))).events)
    expect(summary(events)).toEqual([
      ['delivered', 'a@example.com', 'pm-1', undefined],
      ['bounced', 'b@example.com', 'pm-2', 'hard'],
      ['bounced', 'c@example.com', 'pm-3', 'soft'],
      ['deferred', 'd@example.com', 'pm-4', undefined],
      ['complained', 'e@example.com', 'pm-5', undefined],
      ['opened', 'f@example.com', 'pm-6', undefined],
      ['clicked', 'f@example.com', 'pm-7', 'https://example.com/z'],
    ])
    expect(
      (await post(mailer, 'postmark', { headers: { authorization: 'Basic eDp5' }, body: Buffer.from('{}') })).status,
    ).toBe(401)
    expect((await post(mailer, 'postmark', postmark({ no: 'type' }))).status).toBe(400)
  })
})

describe('resend', () => {
  it('verifies the Svix signature and maps email.* events', async () => {
    await using mailer = webhookMailer()
    const bounced = {
      type: 'email.bounced',
      created_at: '2026-01-01T00:00:00.000Z',
      data: {
        email_id: 're-1',
        to: ['gone@example.com'],
        bounce: { type: 'Permanent', message: 'mailbox does not exist' },
      },
    }
    const result = await post(mailer, 'resend', svixSigned(resendSecret, bounced))
    expect(summary(result.events)).toEqual([['bounced', 'gone@example.com', 're-1', 'hard']])
    const types = [
      'email.delivered',
      'email.delivery_delayed',
      'email.complained',
      'email.opened',
      'email.clicked',
      'email.sent',
    ]
    const events = []
    for (const type of types) {
      events.push(
        ...(
          await post(
            mailer,
            'resend',
            svixSigned(resendSecret, {
              type,
              data: { email_id: 're-2', to: ['a@example.com'], click: { link: 'https://l.example' } },
            }),
          )
        ).events,
      )
    }
    expect(events.map((e) => e.type)).toEqual(['delivered', 'deferred', 'complained', 'opened', 'clicked'])
    expect((await post(mailer, 'resend', svixSigned(svixSecret(), bounced))).status).toBe(401)
    expect(
      (await post(mailer, 'resend', svixSigned(resendSecret, bounced, Math.floor(Date.now() / 1000) - 3600))).status,
    ).toBe(401)
    expect((await post(mailer, 'resend', svixSigned(resendSecret, { nope: true }))).status).toBe(400)
  })
})

describe('the node:http listener', () => {
  let server: Server
  let url: string
  let mailer: Mailer
  let failing = false
  beforeAll(async () => {
    mailer = webhookMailer({ webhooks: { resendSecret, maxBody: 2048 } })
    mailer.onDelivery(() => {
      if (failing) throw new Error('database down')
    })
    server = createServer(mailer.webhooks.listener('resend'))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/resend`
  })
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()))
    await mailer.close()
  })

  const send = (r: SignedRequest) => fetch(url, { method: 'POST', headers: r.headers, body: new Uint8Array(r.body) })

  it('answers 200, 401, 413, and 500 when a listener fails so the provider retries', async () => {
    const event = { type: 'email.delivered', data: { email_id: 'x', to: ['a@example.com'] } }
    expect((await send(svixSigned(resendSecret, event))).status).toBe(200)
    expect((await send(svixSigned(svixSecret(), event))).status).toBe(401)
    expect((await send(svixSigned(resendSecret, { ...event, pad: 'x'.repeat(4096) }))).status).toBe(413)
    failing = true
    expect((await send(svixSigned(resendSecret, event))).status).toBe(500)
    failing = false
  })

  it('handle() refuses an unknown provider and an oversized body', async () => {
    expect(
      (
        await mailer.webhooks.handle('nope' as WebhookProvider, {
          method: 'POST',
          url: '/',
          headers: {},
          body: Buffer.alloc(0),
        })
      ).status,
    ).toBe(404)
    expect(
      (await mailer.webhooks.handle('resend', { method: 'POST', url: '/', headers: {}, body: Buffer.alloc(4096) }))
        .status,
    ).toBe(413)
  })
})
