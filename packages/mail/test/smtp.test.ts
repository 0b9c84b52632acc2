import diagnostics from 'node:diagnostics_channel'
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

  it('retries 421 and 454 throttling replies with backoff, and the message arrives once', async () => {
    sink.clear()
    sink.script({ stage: 'mail', code: 421, message: 'Too many messages, slow down' })
    sink.script({ stage: 'mail', code: 454, message: 'Throttling failure: Maximum sending rate exceeded' })
    const retries: Array<{ attempt: number; delayMs: number; code: string }> = []
    const listener = (m: unknown) => retries.push(m as (typeof retries)[number])
    diagnostics.subscribe('beaver:mail:retry', listener)
    try {
      await using mailer = smtpMailer()
      const sent = await mailer.send({ from: 'app@example.com', to: 'ada@example.com', subject: 'Slow', text: 'x' })
      expect(sent.accepted).toEqual(['ada@example.com'])
    } finally {
      diagnostics.unsubscribe('beaver:mail:retry', listener)
    }
    expect(sink.messages).toHaveLength(1)
    expect(retries.map((r) => r.attempt)).toEqual([1, 2])
    expect(retries.every((r) => r.code === 'MAIL_UNAVAILABLE' && r.delayMs <= 5)).toBe(true)
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

describe('smtp: DKIM, TLS and the pool', () => {
  it('signs with DKIM so a verifier passes it, folded List-Unsubscribe included (nodemailer#1654)', async () => {
    const { generateKeyPairSync } = await import('node:crypto')
    const { dkimVerify } = await import('mailauth')
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    const record = `v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`
    sink.clear()
    await using mailer = createMailer({
      envPrefix: false,
      driver: 'smtp',
      smtp: {
        url: sink.url.replace('smtp://', 'smtp://'),
        security: 'starttls',
        tls: { ca: sink.certificate, servername: 'localhost' },
        dkim: { domain: 'example.com', selector: 'beaver', privateKey: pem },
      },
    })
    await mailer.send({
      from: 'app@example.com',
      to: 'ada@example.com',
      subject: 'Signed',
      html: '<p>Signed body</p>',
      headers: {
        'List-Unsubscribe': `<https://example.com/unsubscribe/${'x'.repeat(120)}>, <mailto:unsubscribe+${'y'.repeat(40)}@example.com>`,
        'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
      },
    })
    const raw = sink.messages[0]?.raw as Buffer
    expect(raw.toString()).toMatch(/^DKIM-Signature: /m)
    const result = await dkimVerify(raw, {
      resolver: async (name: string, type: string) => {
        if (name === 'beaver._domainkey.example.com' && type === 'TXT') return [[record]]
        throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' })
      },
    })
    expect(result.results.map((r) => r.status.result)).toEqual(['pass'])
  })

  it('refuses DKIM settings that are only half given', async () => {
    await using mailer = createMailer({
      envPrefix: false,
      driver: 'smtp',
      smtp: { url: sink.url, dkim: { domain: 'example.com' } },
    })
    await expect(mailer.ready()).rejects.toMatchObject({
      code: 'MAIL_OPTIONS_INVALID',
      details: { field: 'smtp.dkim' },
    })
  })

  it('refuses an untrusted certificate unless told otherwise', async () => {
    await using strict = createMailer({
      envPrefix: false,
      driver: 'smtp',
      retry: { attempts: 1 },
      smtp: { url: sink.url, security: 'starttls' },
    })
    await expect(strict.ready()).rejects.toMatchObject({ code: 'MAIL_UNAVAILABLE' })
    await using lax = createMailer({
      envPrefix: false,
      driver: 'smtp',
      smtp: { url: sink.url, security: 'starttls', rejectUnauthorized: false },
    })
    await lax.ready()
  })

  it('reports refused credentials from ready()', async () => {
    await using mailer = smtpMailer('wrong')
    await expect(mailer.ready()).rejects.toMatchObject({ code: 'MAIL_AUTH' })
  })

  it('keeps at most maxConnections open while sending a burst', async () => {
    const plain = await startSmtpSink()
    try {
      const before = plain.connections()
      await using mailer = createMailer({
        envPrefix: false,
        driver: 'smtp',
        smtp: { url: plain.url, security: 'none', maxConnections: 3 },
      })
      const batch = await mailer.sendBatch(
        Array.from({ length: 30 }, (_, i) => ({
          from: 'a@example.com',
          to: `u${i}@example.com`,
          subject: `m${i}`,
          text: 'x',
        })),
        { concurrency: 10 },
      )
      expect(batch.sent).toBe(30)
      expect(plain.connections() - before).toBeLessThanOrEqual(3)
      expect(plain.messages).toHaveLength(30)
      expect(plain.messages.every((m) => !m.secure)).toBe(true)
    } finally {
      await plain.stop()
    }
  })

  it('says which recipients the server refused while taking the message for the others', async () => {
    sink.clear()
    sink.script({ stage: 'rcpt', code: 550, message: 'No such user', recipient: 'gone@example.com' })
    await using mailer = smtpMailer()
    const result = await mailer.send({
      from: 'app@example.com',
      to: ['ada@example.com', 'gone@example.com'],
      subject: 'x',
      text: 'x',
    })
    expect(result.accepted).toEqual(['ada@example.com'])
    expect(result.rejected).toEqual(['gone@example.com'])
  })
})
