import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { eventually, startFaultProxy, type FaultProxy } from '@beaver-kit/testkit'
import { startSmtpSink, type SmtpSink } from '@beaver-kit/testkit/smtp-sink'
import { createMailer, isMailError, type MailMessage } from '@beaver-kit/mail'
import { loadSmtpModules, SmtpPool } from '../src/drivers/smtp-pool.ts'

// The smtp transport's own pool of nodemailer connections, against a plain sink, through a
// fault proxy where the test needs the network to fail. One attempt per message: a retry
// would hide a pool that hands out a dead connection.
let sink: SmtpSink
let proxy: FaultProxy
beforeAll(async () => {
  sink = await startSmtpSink()
  proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: sink.port } })
})
afterAll(async () => {
  await proxy.close()
  await sink.stop()
})
beforeEach(() => {
  proxy.heal()
  sink.clear()
})

const subjects = (): string[] => sink.messages.map((m) => /^Subject: (.*)$/m.exec(m.raw.toString('latin1'))?.[1] ?? '')
const message = (subject: string): MailMessage => ({
  from: 'app@example.com',
  to: 'ada@example.com',
  subject,
  text: 'x',
})
const pooled = (smtp: { maxConnections?: number; maxMessages?: number; pool?: boolean } = {}) =>
  createMailer({
    envPrefix: false,
    driver: 'smtp',
    retry: { attempts: 1 },
    smtp: { host: '127.0.0.1', port: proxy.port, security: 'none', maxConnections: 1, ...smtp },
  })

describe('smtp pool', () => {
  it('replaces a connection the server closed while idle, so the next message goes out at once', async () => {
    await using mailer = pooled()
    await mailer.send(message('first'))
    const opened = proxy.connections
    proxy.closeAll()
    await eventually(() => expect(proxy.openConnections).toBe(0))
    await mailer.send(message('second'))
    expect(subjects()).toEqual(['first', 'second'])
    expect(proxy.connections).toBe(opened + 1)
  })

  it('fails the message on a connection reset mid-send as MAIL_UNAVAILABLE, and sends the next on a new one', async () => {
    await using mailer = pooled()
    await mailer.send(message('first'))
    proxy.pause()
    const sentBefore = proxy.bytesFromClients
    const lost = mailer.send(message('lost')).catch((e: unknown) => e)
    await eventually(() => expect(proxy.bytesFromClients).toBeGreaterThan(sentBefore))
    proxy.resetAll()
    const error = await lost
    expect(isMailError(error, 'MAIL_UNAVAILABLE')).toBe(true)
    proxy.resume()
    await mailer.send(message('after'))
    expect(subjects()).toEqual(['first', 'after'])
  })

  it('answers the Message-ID the message carries, with a new id and a new boundary per message', async () => {
    await using mailer = pooled()
    const a = await mailer.send({ ...message('a'), html: '<b>a</b>' })
    const b = await mailer.send({ ...message('b'), html: '<b>b</b>' })
    const [first, second] = sink.messages.map((m) => m.raw.toString('latin1'))
    expect(first).toContain(`\r\nMessage-ID: ${a.messageId}\r\n`)
    expect(second).toContain(`\r\nMessage-ID: ${b.messageId}\r\n`)
    expect(a.messageId).toMatch(/^<[^@<>]+@example\.com>$/)
    expect(a.messageId).not.toBe(b.messageId)
    const boundary = (raw: string | undefined) => /boundary="([^"]+)"/.exec(raw ?? '')?.[1]
    expect(boundary(first)).toBeDefined()
    expect(boundary(first)).not.toBe(boundary(second))
  })

  it('renews a connection after maxMessages, and opens one per message when pooling is off', async () => {
    const before = proxy.connections
    {
      await using mailer = pooled({ maxMessages: 2 })
      for (let i = 0; i < 5; i++) await mailer.send(message(`m${i}`))
    }
    expect(proxy.connections - before).toBe(3)
    {
      await using unpooled = pooled({ pool: false })
      for (let i = 0; i < 3; i++) await unpooled.send(message(`u${i}`))
    }
    expect(proxy.connections - before).toBe(6)
    expect(sink.messages).toHaveLength(8)
  })

  it('takes a message aborted while it waits for a connection out of the queue: it is never sent', async () => {
    await using mailer = pooled()
    await mailer.send(message('warm'))
    proxy.pause()
    const first = mailer.send(message('first'))
    const controller = new AbortController()
    const waiting = mailer.send(message('aborted'), { signal: controller.signal }).catch((e: unknown) => e)
    controller.abort()
    expect((await waiting) as Error).toMatchObject({ code: 'CORE_ABORTED' })
    proxy.resume()
    await first
    await mailer.send(message('last'))
    expect(subjects()).toEqual(['warm', 'first', 'last'])
  })

  it('rejects a message aborted while it waits in the queue, and never sends it', async () => {
    const pool = new SmtpPool(await loadSmtpModules('this test'), {
      connection: { host: '127.0.0.1', port: proxy.port, ignoreTLS: true },
      auth: undefined,
      maxConnections: 1,
      maxMessages: 100,
    })
    const envelope = { from: 'app@example.com', to: ['ada@example.com'] }
    const raw = (subject: string) => Buffer.from(`Subject: ${subject}\r\n\r\nx\r\n`)
    try {
      await pool.send(envelope, raw('warm'))
      proxy.pause()
      const first = pool.send(envelope, raw('first'))
      const controller = new AbortController()
      const waiting = pool.send(envelope, raw('aborted'), controller.signal).catch((e: unknown) => e)
      controller.abort(new Error('changed my mind'))
      expect(((await waiting) as Error).message).toBe('changed my mind')
      proxy.resume()
      await first
      await pool.send(envelope, raw('last'))
      expect(subjects()).toEqual(['warm', 'first', 'last'])
      expect(pool.open).toBe(1)
    } finally {
      pool.close()
    }
  })
})
