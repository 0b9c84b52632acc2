import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { describeMailTransport } from '@beaver-kit/testkit/mail'
import { startSesLocal, type SesLocal } from '@beaver-kit/testkit/fakes/ses'
import { startSmtpSink } from '@beaver-kit/testkit/smtp-sink'
import { createMailer, isMailError } from '@beaver-kit/mail'

let ses: SesLocal
beforeAll(async () => {
  ses = await startSesLocal()
})
afterAll(() => ses.stop())

const sesMailer = (accessKeyId = ses.credentials.accessKeyId) =>
  createMailer({
    envPrefix: false,
    driver: 'ses',
    retry: { attempts: 3 },
    ses: { region: ses.region, endpoint: ses.url, accessKeyId, secretAccessKey: ses.credentials.secretAccessKey },
  })

describeMailTransport('ses (SES v2 API on aws-ses-v2-local)', () => sesMailer(), {
  received: () => ses.received(),
  reset: () => ses.clear(),
  failNextTemporarily: () =>
    ses.script(ses.sesError(429, 'TooManyRequestsException', 'Maximum sending rate exceeded.')),
  rejectNext: () => ses.script(ses.sesError(400, 'MessageRejected', 'Email address is not verified.')),
  withBadCredentials: () => sesMailer('AKIDWRONG'),
})

describe('ses specifics', () => {
  it('refuses metadata SES tags cannot carry, naming the field', async () => {
    ses.clear()
    await using mailer = sesMailer()
    const error = await mailer
      .send({ from: 'a@example.com', to: 'b@example.com', subject: 's', text: 't', metadata: { note: 'has spaces' } })
      .catch((e: unknown) => e)
    expect(isMailError(error, 'MAIL_MESSAGE_INVALID')).toBe(true)
    expect((error as { details: { field: string } }).details.field).toBe('metadata.note')
    expect(ses.requests).toHaveLength(0)
  })

  it('answers ready() through GetAccount, and MAIL_AUTH for a foreign key', async () => {
    await using good = sesMailer()
    await good.ready()
    await using bad = sesMailer('AKIDWRONG')
    await expect(bad.ready()).rejects.toMatchObject({ code: 'MAIL_AUTH' })
  })

  it('reports throttling that outlasts the SDK retries as MAIL_UNAVAILABLE', async () => {
    ses.clear()
    const throttled = ses.sesError(429, 'TooManyRequestsException', 'Maximum sending rate exceeded.')
    ses.script(throttled, throttled, throttled)
    await using mailer = sesMailer()
    const error = await mailer
      .send({ from: 'a@example.com', to: 'b@example.com', subject: 's', text: 't' })
      .catch((e: unknown) => e)
    expect(isMailError(error, 'MAIL_UNAVAILABLE')).toBe(true)
    expect((error as Error).message).toContain('TooManyRequestsException')
    expect(ses.requests).toHaveLength(3)
  })
})

describe('ses with smtp as failover', () => {
  it('sends through SMTP while SES throttles, and skips SES while its breaker is open', async () => {
    const sink = await startSmtpSink()
    const moves: unknown[] = []
    const listen = (m: unknown) => moves.push(m)
    subscribe('beaver:mail:failover', listen)
    try {
      ses.clear()
      const throttled = ses.sesError(429, 'TooManyRequestsException', 'Maximum sending rate exceeded.')
      // One attempt per member, so each send meets one scripted answer.
      ses.script(throttled, throttled)
      await using mailer = createMailer({
        envPrefix: false,
        driver: 'failover',
        failover: { transports: ['ses', 'smtp'] },
        breaker: { failures: 2, cooldown: 60_000 },
        retry: { attempts: 1 },
        ses: {
          region: ses.region,
          endpoint: ses.url,
          accessKeyId: ses.credentials.accessKeyId,
          secretAccessKey: ses.credentials.secretAccessKey,
        },
        smtp: { url: sink.url, security: 'none' },
      })
      const message = { from: 'app@example.com', to: 'ada@example.com', subject: 'Hi', text: 'x' }
      const first = await mailer.send(message)
      const second = await mailer.send(message)
      expect([first.transport, second.transport]).toEqual(['smtp', 'smtp'])
      expect(moves).toEqual([
        { from: 'ses', to: 'smtp', code: 'MAIL_UNAVAILABLE' },
        { from: 'ses', to: 'smtp', code: 'MAIL_UNAVAILABLE' },
      ])
      // Two failures in a row opened SES's breaker: SMTP goes first, SES is not asked.
      const third = await mailer.send(message)
      expect(third.transport).toBe('smtp')
      expect(await ses.received()).toHaveLength(0)
      expect(sink.messages).toHaveLength(3)
      expect(moves).toHaveLength(2)
    } finally {
      unsubscribe('beaver:mail:failover', listen)
      await sink.stop()
    }
  })
})
