import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { describeMailTransport } from '@beaver-kit/testkit/mail'
import { startMailgunFake, type MailgunFake } from '@beaver-kit/testkit/fakes/mailgun'
import { startPostmarkFake, type PostmarkFake } from '@beaver-kit/testkit/fakes/postmark'
import { startResendFake, type ResendFake } from '@beaver-kit/testkit/fakes/resend'
import { startSendgridFake, type SendgridFake } from '@beaver-kit/testkit/fakes/sendgrid'
import { createMailer, isMailError, type MailerOptions } from '@beaver-kit/mail'

let sendgrid: SendgridFake
let mailgun: MailgunFake
let postmark: PostmarkFake
let resend: ResendFake
beforeAll(async () => {
  ;[sendgrid, mailgun, postmark, resend] = await Promise.all([
    startSendgridFake(),
    startMailgunFake(),
    startPostmarkFake(),
    startResendFake(),
  ])
})
afterAll(() => Promise.all([sendgrid.stop(), mailgun.stop(), postmark.stop(), resend.stop()]))

const base: MailerOptions = { envPrefix: false, retry: { baseDelay: 1, maxDelay: 5 } }
const sendgridMailer = (apiKey = sendgrid.apiKey) =>
  createMailer({ ...base, driver: 'sendgrid', sendgrid: { apiKey, baseUrl: sendgrid.url } })
const mailgunMailer = (apiKey = mailgun.apiKey) =>
  createMailer({ ...base, driver: 'mailgun', mailgun: { apiKey, domain: mailgun.domain, baseUrl: mailgun.url } })
const postmarkMailer = (serverToken = postmark.token) =>
  createMailer({ ...base, driver: 'postmark', postmark: { serverToken, baseUrl: postmark.url } })
const resendMailer = (apiKey = resend.apiKey) =>
  createMailer({ ...base, driver: 'resend', resend: { apiKey, baseUrl: resend.url } })

describeMailTransport('sendgrid (local v3 Mail Send API)', () => sendgridMailer(), {
  received: async () => sendgrid.received(),
  reset: () => sendgrid.clear(),
  failNextTemporarily: () => sendgrid.rateLimitNext(),
  rejectNext: () =>
    sendgrid.script({
      status: 400,
      body: { errors: [{ message: 'Invalid from email address', field: 'from', help: null }] },
    }),
  withBadCredentials: () => sendgridMailer('SG.wrong'),
})

describeMailTransport('mailgun (local messages API)', () => mailgunMailer(), {
  received: async () => mailgun.received(),
  reset: () => mailgun.clear(),
  failNextTemporarily: () => mailgun.script({ status: 503, body: 'Service Unavailable' }),
  rejectNext: () =>
    mailgun.script({
      status: 400,
      body: { message: "'to' parameter is not a valid address. please check documentation" },
    }),
  withBadCredentials: () => mailgunMailer('key-wrong'),
})

describeMailTransport('postmark (local email API)', () => postmarkMailer(), {
  received: async () => postmark.received(),
  reset: () => postmark.clear(),
  failNextTemporarily: () => postmark.script({ status: 429, body: { ErrorCode: 429, Message: 'Rate limit exceeded' } }),
  rejectNext: () => postmark.script({ status: 422, body: { ErrorCode: 300, Message: 'Invalid email request' } }),
  withBadCredentials: () => postmarkMailer('wrong-token'),
})

describeMailTransport('resend (local emails API)', () => resendMailer(), {
  received: async () => resend.received(),
  reset: () => resend.clear(),
  failNextTemporarily: () => resend.rateLimitNext(),
  rejectNext: () =>
    resend.script({ status: 422, body: { statusCode: 422, name: 'validation_error', message: 'Invalid `to` field.' } }),
  withBadCredentials: () => resendMailer('re_wrong'),
})

describe('provider specifics', () => {
  it('refuses more tags than the provider takes, naming the field', async () => {
    postmark.clear()
    await using mailer = postmarkMailer()
    const error = await mailer
      .send({ from: 'a@example.com', to: 'b@example.com', subject: 's', text: 't', tags: ['one', 'two'] })
      .catch((e: unknown) => e)
    expect(isMailError(error, 'MAIL_MESSAGE_INVALID')).toBe(true)
    expect((error as { details: { field: string } }).details.field).toBe('tags')
    expect(postmark.requests).toHaveLength(0)
  })

  it('reports an inactive Postmark recipient as a rejection, not a retry', async () => {
    postmark.clear()
    postmark.inactive.add('gone@example.com')
    await using mailer = postmarkMailer()
    const error = await mailer
      .send({ from: 'a@example.com', to: 'gone@example.com', subject: 's', text: 't' })
      .catch((e: unknown) => e)
    expect(isMailError(error, 'MAIL_REJECTED')).toBe(true)
    expect((error as Error).message).toContain('406')
    expect(postmark.requests).toHaveLength(1)
  })

  it('sends the idempotency key to Resend, which answers a replay with the first id', async () => {
    resend.clear()
    await using mailer = resendMailer()
    const message = {
      from: 'a@example.com',
      to: 'b@example.com',
      subject: 's',
      text: 't',
      idempotencyKey: 'welcome/user-1',
    }
    const first = await mailer.send(message)
    const again = await mailer.send(message)
    expect(again.messageId).toBe(first.messageId)
    expect(resend.received()).toHaveLength(1)
    expect(resend.requests.every((r) => r.headers['idempotency-key'] === 'welcome/user-1')).toBe(true)
  })

  it('uses the EU base for Mailgun region eu and the US base by default', async () => {
    const { mailgunDriver } = await import('@beaver-kit/mail/mailgun')
    expect(mailgunDriver.name).toBe('mailgun')
    // The base URL is an option; region decides it when none is given (checked without network).
    await using eu = createMailer({
      ...base,
      driver: 'mailgun',
      mailgun: { apiKey: 'k', domain: 'd.example.com', region: 'eu' },
    })
    expect(eu.describe().settings.find((s) => s.name === 'MAIL_MAILGUN_REGION')?.value).toBe('eu')
  })

  it('names the missing API key variable', async () => {
    await using mailer = createMailer({ ...base, driver: 'sendgrid' })
    const error = await mailer
      .send({ from: 'a@example.com', to: 'b@example.com', subject: 's', text: 't' })
      .catch((e: unknown) => e)
    expect(isMailError(error, 'MAIL_OPTIONS_INVALID')).toBe(true)
    expect((error as Error).message).toContain('BEAVER_MAIL_SENDGRID_API_KEY')
  })
})
