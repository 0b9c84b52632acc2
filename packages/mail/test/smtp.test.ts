import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { describeMailTransport } from '@beaver-kit/testkit/mail'
import { parseRawMail } from '@beaver-kit/testkit/mail-parse'
import { startSmtpSink, type SmtpSink } from '@beaver-kit/testkit/smtp-sink'
import { createMailer, isMailError } from '@beaver-kit/mail'

let sink: SmtpSink
beforeAll(async () => {
  sink = await startSmtpSink({ security: 'starttls', auth: { user: 'beaver', password: 's3cret' } })
})
afterAll(() => sink.stop())

const smtpMailer = (password = 's3cret') =>
  createMailer({
    envPrefix: false,
    driver: 'smtp',
    retry: { baseDelay: 1, maxDelay: 5 },
    smtp: {
      host: '127.0.0.1',
      port: sink.port,
      security: 'starttls',
      user: 'beaver',
      password,
      tls: { ca: sink.certificate, servername: 'localhost' },
    },
  })

describeMailTransport('smtp (smtp-server sink, STARTTLS, AUTH)', () => smtpMailer(), {
  received: () => Promise.all(sink.messages.map((m) => parseRawMail(m.raw, m.to))),
  reset: () => sink.clear(),
  failNextTemporarily: () => sink.script({ stage: 'data', code: 451, message: 'Local error, try again' }),
  rejectNext: () => sink.script({ stage: 'rcpt', code: 550, message: 'No such user' }),
  withBadCredentials: () => smtpMailer('wrong'),
})

describe('smtp specifics', () => {
  it('sends over an encrypted, authenticated connection', async () => {
    sink.clear()
    await using mailer = smtpMailer()
    await mailer.send({ from: 'app@example.com', to: 'ada@example.com', subject: 'TLS', text: 'x' })
    expect(sink.messages[0]?.secure).toBe(true)
    expect(sink.messages[0]?.user).toBe('beaver')
  })

  it('reports 421 after the retries as MAIL_UNAVAILABLE with the reply', async () => {
    sink.clear()
    sink.script({ stage: 'mail', code: 421, message: 'Too many connections', times: 3 })
    await using mailer = smtpMailer()
    const error = await mailer
      .send({ from: 'app@example.com', to: 'ada@example.com', subject: 'x', text: 'x' })
      .catch((e: unknown) => e)
    expect(isMailError(error, 'MAIL_UNAVAILABLE')).toBe(true)
    expect((error as Error).message).toContain('421')
    expect(sink.messages).toHaveLength(0)
  })
})
