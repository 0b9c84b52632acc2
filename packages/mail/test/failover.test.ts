import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSendgridFake, type SendgridFake } from '@beaver-kit/testkit/fakes/sendgrid'
import { startPostmarkFake, type PostmarkFake } from '@beaver-kit/testkit/fakes/postmark'
import { startSmtpSink, type SmtpSink } from '@beaver-kit/testkit/smtp-sink'
import { createMailer, isMailError, plainCapabilities, transportError, type MailTransport } from '@beaver-kit/mail'
import { createFailoverTransport } from '@beaver-kit/mail/failover'

let sink: SmtpSink
let sendgrid: SendgridFake
let postmark: PostmarkFake
beforeAll(async () => {
  ;[sink, sendgrid, postmark] = await Promise.all([startSmtpSink(), startSendgridFake(), startPostmarkFake()])
})
afterAll(() => Promise.all([sink.stop(), sendgrid.stop(), postmark.stop()]))

const msg = { from: 'app@example.com', to: 'ada@example.com', subject: 'Hi', text: 'x' }
const down = { status: 503, body: { errors: [{ message: 'Service Unavailable' }] } }

const failoverMailer = (driver: 'failover' | 'round-robin') =>
  createMailer({
    env: {
      BEAVER_MAIL_DRIVER: driver,
      BEAVER_MAIL_FAILOVER_TRANSPORTS: 'sendgrid,smtp',
      BEAVER_MAIL_ROUND_ROBIN_TRANSPORTS: 'postmark,sendgrid',
      BEAVER_MAIL_SENDGRID_API_KEY: sendgrid.apiKey,
      BEAVER_MAIL_SENDGRID_BASE_URL: sendgrid.url,
      BEAVER_MAIL_POSTMARK_SERVER_TOKEN: postmark.token,
      BEAVER_MAIL_POSTMARK_BASE_URL: postmark.url,
      BEAVER_MAIL_SMTP_URL: sink.url,
      BEAVER_MAIL_SMTP_SECURITY: 'none',
      BEAVER_MAIL_RETRY_ATTEMPTS: '1',
      BEAVER_MAIL_BREAKER_FAILURES: '2',
    },
  })

const reset = () => {
  sink.clear()
  sendgrid.clear()
  postmark.clear()
}

describe('failover', () => {
  it('sends through the first transport while it works, and the next when it is down', async () => {
    reset()
    await using mailer = failoverMailer('failover')
    expect((await mailer.send(msg)).transport).toBe('sendgrid')
    sendgrid.script(down)
    const events: unknown[] = []
    const listen = (m: unknown) => events.push(m)
    subscribe('beaver:mail:failover', listen)
    try {
      expect((await mailer.send(msg)).transport).toBe('smtp')
    } finally {
      unsubscribe('beaver:mail:failover', listen)
    }
    expect(events).toEqual([{ from: 'sendgrid', to: 'smtp', code: 'MAIL_UNAVAILABLE' }])
    expect(sendgrid.received()).toHaveLength(1)
    expect(sink.messages).toHaveLength(1)
  })

  it('puts a transport that keeps failing last in line until its cooldown ends', async () => {
    reset()
    await using mailer = failoverMailer('failover')
    const breaker: unknown[] = []
    const listen = (m: unknown) => breaker.push(m)
    subscribe('beaver:mail:breaker', listen)
    try {
      sendgrid.script(down, down)
      await mailer.send(msg)
      await mailer.send(msg)
      const before = sendgrid.requests.length
      await mailer.send(msg)
      await mailer.send(msg)
      // Open: SMTP went first, SendGrid was not called at all.
      expect(sendgrid.requests.length).toBe(before)
    } finally {
      unsubscribe('beaver:mail:breaker', listen)
    }
    expect(breaker).toEqual([{ transport: 'sendgrid', state: 'open' }])
    expect(sink.messages).toHaveLength(4)
  })

  it('does not send a rejected message elsewhere', async () => {
    reset()
    await using mailer = failoverMailer('failover')
    sendgrid.script({
      status: 400,
      body: { errors: [{ message: 'Invalid to email', field: 'personalizations.0.to' }] },
    })
    await expect(mailer.send(msg)).rejects.toMatchObject({ code: 'MAIL_REJECTED' })
    expect(sink.messages).toHaveLength(0)
  })

  it('fails with every transport error when all are down', async () => {
    await using mailer = createMailer({
      envPrefix: false,
      driver: 'failover',
      retry: { attempts: 1 },
      failover: { transports: ['sendgrid', 'postmark'] },
      sendgrid: { apiKey: sendgrid.apiKey, baseUrl: sendgrid.url },
      postmark: { serverToken: 'wrong', baseUrl: postmark.url },
    })
    sendgrid.script(down)
    const error = await mailer.send(msg).catch((e: unknown) => e)
    expect(isMailError(error, 'MAIL_ALL_TRANSPORTS_FAILED')).toBe(true)
    expect((error as Error).message).toMatch(/sendgrid: .*503.*postmark: .*credentials/s)
    expect((error as Error).cause).toBeInstanceOf(AggregateError)
  })

  it('rotates the first choice with round-robin', async () => {
    reset()
    await using mailer = failoverMailer('round-robin')
    const used = []
    for (let i = 0; i < 4; i++) used.push((await mailer.send(msg)).transport)
    expect(used).toEqual(['postmark', 'sendgrid', 'postmark', 'sendgrid'])
  })

  it('names the empty list and a set that contains itself', async () => {
    await using empty = createMailer({ envPrefix: false, driver: 'failover' })
    await expect(empty.send(msg)).rejects.toMatchObject({
      code: 'MAIL_OPTIONS_INVALID',
      details: { field: 'BEAVER_MAIL_FAILOVER_TRANSPORTS' },
    })
    await using loop = createMailer({ envPrefix: false, driver: 'failover', failover: { transports: ['failover'] } })
    await expect(loop.send(msg)).rejects.toMatchObject({ code: 'MAIL_OPTIONS_INVALID' })
    await using unknown = createMailer({
      envPrefix: false,
      driver: 'failover',
      failover: { transports: ['memory', 'sendgird'] },
    })
    await expect(unknown.send(msg)).rejects.toMatchObject({
      code: 'MAIL_DRIVER_UNKNOWN',
      details: { setting: 'BEAVER_MAIL_FAILOVER_TRANSPORTS' },
    })
  })

  it('takes built transports from code, is ready when one member is, and closes them', async () => {
    const closed: string[] = []
    const member = (name: string, fail: boolean): MailTransport => ({
      name,
      capabilities: plainCapabilities({ maxTags: name === 'a' ? 1 : 5 }),
      send: async () => {
        if (fail) throw transportError(name, 'MAIL_UNAVAILABLE', 'down')
        return { messageId: `${name}-1` }
      },
      verify: async () => {
        if (fail) throw transportError(name, 'MAIL_UNAVAILABLE', 'down')
      },
      close: async () => void closed.push(name),
    })
    const set = createFailoverTransport([member('a', true), member('b', false)], { failures: 1, cooldownMs: 60_000 })
    expect(set.capabilities.maxTags).toBe(1)
    const mailer = createMailer({ envPrefix: false, transport: set })
    await mailer.ready()
    expect(await mailer.send(msg)).toMatchObject({ messageId: 'b-1', transport: 'b' })
    expect(set.state().map((s) => s.state)).toEqual(['open', 'closed'])
    await set.close()
    expect(closed.sort()).toEqual(['a', 'b'])
    expect(() => createFailoverTransport([])).toThrow(expect.objectContaining({ code: 'MAIL_OPTIONS_INVALID' }))
  })
})
