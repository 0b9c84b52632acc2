import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMemorySuppressionList } from '@beaver-kit/delivery'
import { memoryDriver } from '@beaver-kit/mail/memory'
import {
  createMailer,
  defineMailDriver,
  isMailError,
  mailDriverNames,
  plainCapabilities,
  registerMailDriver,
  transportError,
  type MailMessage,
} from '@beaver-kit/mail'

const ok: MailMessage = { from: 'App <app@example.com>', to: 'ada@example.com', subject: 'Hi', text: 'Hello' }
const memory = (extra: Parameters<typeof createMailer>[0] = {}) =>
  createMailer({ envPrefix: false, driver: 'memory', ...extra })

async function fieldOf(
  message: MailMessage,
  extra: Parameters<typeof createMailer>[0] = {},
): Promise<{ code: string; field: unknown; message: string }> {
  await using mailer = memory(extra)
  const error = await mailer.send(message).catch((e: unknown) => e)
  expect(isMailError(error)).toBe(true)
  expect(mailer.sent()).toHaveLength(0)
  const e = error as { code: string; details: { field?: unknown }; message: string }
  return { code: e.code, field: e.details.field, message: e.message }
}

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'beaver-mail-att-'))
})
afterAll(() => rm(dir, { recursive: true, force: true }))

describe('bad input names the field and sends nothing', () => {
  it.each([
    ['to', { ...ok, to: 'not an address' }],
    ['to[1]', { ...ok, to: ['ok@example.com', 'two@@example.com'] }],
    ['cc[0]', { ...ok, cc: ['a b@example.com'] }],
    ['from', { ...ok, from: 'nobody' }],
    ['to', { ...ok, to: undefined }],
    ['subject', { ...ok, subject: undefined }],
    ['subject', { ...ok, subject: '   ' }],
    ['subject', { ...ok, subject: 'Hi\r\nBcc: victim@example.com' }],
    ['text', { ...ok, text: undefined }],
    ['headers.Bcc', { ...ok, headers: { Bcc: 'x@example.com' } }],
    ['headers.X-Evil', { ...ok, headers: { 'X-Evil': 'a\r\nBcc: x@example.com' } }],
    ['headers.Bad Name', { ...ok, headers: { 'Bad Name': 'x' } }],
    ['tags[0]', { ...ok, tags: ['has space'] }],
    ['metadata.k', { ...ok, metadata: { k: 'line\nbreak' } }],
    ['idempotencyKey', { ...ok, idempotencyKey: 'ünïcode' }],
    ['attachments[0]', { ...ok, attachments: [{ filename: 'a.txt' }] }],
    ['attachments[0].path', { ...ok, attachments: [{ path: 'https://example.com/x.pdf' }] }],
    ['attachments[0].cid', { ...ok, attachments: [{ content: 'x', cid: 'has space' }] }],
    ['attachments[0].contentType', { ...ok, attachments: [{ content: 'x', contentType: 'nope' }] }],
    ['to.name', { ...ok, to: { name: 'A\nB', address: 'a@example.com' } }],
  ] as Array<[string, MailMessage]>)('%s', async (field, message) => {
    const got = await fieldOf(message)
    expect(got.code).toBe('MAIL_MESSAGE_INVALID')
    expect(got.field).toBe(field)
  })

  it('an attachment path that does not exist', async () => {
    const got = await fieldOf({ ...ok, attachments: [{ path: join(dir, 'missing.pdf') }] })
    expect(got.code).toBe('MAIL_ATTACHMENT_UNREADABLE')
    expect(got.field).toBe('attachments[0].path')
    expect(got.message).toContain('ENOENT')
  })

  it('a stream that fails', async () => {
    const broken = new Readable({
      read() {
        this.destroy(new Error('disk gone'))
      },
    })
    const got = await fieldOf({ ...ok, attachments: [{ filename: 'x.bin', content: broken }] })
    expect(got.code).toBe('MAIL_ATTACHMENT_UNREADABLE')
    expect(got.field).toBe('attachments[0].content')
  })

  it('a message larger than maxMessageSize, by body or attachment', async () => {
    expect((await fieldOf({ ...ok, text: 'x'.repeat(2000) }, { maxMessageSize: 1000 })).code).toBe('MAIL_TOO_LARGE')
    const file = join(dir, 'big.bin')
    await writeFile(file, Buffer.alloc(4000))
    expect((await fieldOf({ ...ok, attachments: [{ path: file }] }, { maxMessageSize: 1000 })).code).toBe(
      'MAIL_TOO_LARGE',
    )
    const stream = Readable.from([Buffer.alloc(800), Buffer.alloc(800)])
    expect((await fieldOf({ ...ok, attachments: [{ content: stream }] }, { maxMessageSize: 1000 })).code).toBe(
      'MAIL_TOO_LARGE',
    )
  })

  it('more recipients than maxRecipients', async () => {
    const got = await fieldOf({ ...ok, to: ['a@example.com', 'b@example.com', 'c@example.com'] }, { maxRecipients: 2 })
    expect(got.field).toBe('to')
    expect(got.message).toContain('BEAVER_MAIL_MAX_RECIPIENTS')
  })

  it('no sender anywhere names BEAVER_MAIL_FROM', async () => {
    const got = await fieldOf({ ...ok, from: undefined })
    expect(got.field).toBe('from')
    expect(got.message).toContain('BEAVER_MAIL_FROM')
  })
})

describe('the message model', () => {
  it('reads attachments from paths, streams, base64 and bytes, typing them by name', async () => {
    const file = join(dir, 'report.pdf')
    await writeFile(file, '%PDF-1.4')
    await using mailer = memory()
    await mailer.send({
      ...ok,
      attachments: [
        { path: file },
        { filename: 'data.csv', content: Readable.from(['a,b\n', '1,2\n']) },
        { filename: 'b.bin', content: Buffer.from('hi').toString('base64'), encoding: 'base64' },
        { content: new Uint8Array([1, 2, 3]) },
      ],
    })
    const [sent] = mailer.sent()
    expect(sent?.attachments.map((a) => [a.filename, a.contentType, a.content.toString('latin1')])).toEqual([
      ['report.pdf', 'application/pdf', '%PDF-1.4'],
      ['data.csv', 'text/csv', 'a,b\n1,2\n'],
      ['b.bin', 'application/octet-stream', 'hi'],
      ['attachment-4', 'application/octet-stream', '\u0001\u0002\u0003'],
    ])
  })

  it('uses BEAVER_MAIL_FROM and REPLY_TO as defaults, and parses quoted names', async () => {
    await using mailer = memory({ from: '"Beaver, Inc." <noreply@example.com>', replyTo: 'help@example.com' })
    await mailer.send({ to: 'Ada <ada@example.com>', subject: 's', text: 't' })
    const [sent] = mailer.sent()
    expect(sent?.from).toEqual({ name: 'Beaver, Inc.', address: 'noreply@example.com' })
    expect(sent?.replyTo.map((a) => a.address)).toEqual(['help@example.com'])
    expect(sent?.to[0]?.name).toBe('Ada')
  })

  it('expectSent finds a message or says what was sent', async () => {
    await using mailer = memory()
    await mailer.send({ ...ok, tags: ['welcome'], html: '<p>Hi Ada</p>' })
    expect(
      mailer.expectSent({
        to: 'ADA@example.com',
        subject: 'Hi',
        tag: 'welcome',
        html: /Ada/,
        text: 'Hell',
        from: 'app@example.com',
      }).subject,
    ).toBe('Hi')
    expect(() => mailer.expectSent({ subject: /Bye/ })).toThrow(
      /No sent message matches \{"subject":"\/Bye\/"\}; 1 sent: "Hi" to ada@example.com/,
    )
    mailer.clearSent()
    expect(mailer.sent()).toHaveLength(0)
  })

  it('the memory transport answers a repeated idempotency key with the first message', async () => {
    await using mailer = memory()
    const a = await mailer.send({ ...ok, idempotencyKey: 'k-1' })
    const b = await mailer.send({ ...ok, idempotencyKey: 'k-1' })
    expect(b.messageId).toBe(a.messageId)
    expect(mailer.sent()).toHaveLength(1)
  })

  it('the memory transport keeps the newest maxMessages, and still answers the kept idempotency keys', async () => {
    const transport = await memoryDriver.create({ maxMessages: 3 }, {} as never)
    await using mailer = memory({ transport })
    for (let i = 0; i < 8; i++) await mailer.send({ ...ok, subject: `n${i}`, idempotencyKey: `k-${i}` })
    expect(mailer.sent().map((m) => m.subject)).toEqual(['n5', 'n6', 'n7'])
    const kept = mailer.sent()[0]?.messageId
    expect((await mailer.send({ ...ok, subject: 'again', idempotencyKey: 'k-5' })).messageId).toBe(kept)
    expect(mailer.sent().map((m) => m.subject)).toEqual(['n5', 'n6', 'n7'])
  })

  it('sent() on a transport that keeps nothing says what is needed', async () => {
    await using mailer = createMailer({ envPrefix: false, driver: 'log', log: { write: () => {} } })
    await mailer.send(ok)
    expect(() => mailer.sent()).toThrow(expect.objectContaining({ code: 'MAIL_UNSUPPORTED' }))
    expect(() => mailer.clearSent()).toThrow(expect.objectContaining({ code: 'MAIL_UNSUPPORTED' }))
  })
})

describe('sendBatch', () => {
  it('reports each message: sent, failed with its error and recipients, never rejecting', async () => {
    await using mailer = memory()
    const result = await mailer.sendBatch(
      [ok, { ...ok, to: 'bad' }, { ...ok, to: ['c@example.com', 'd@example.com'] }],
      { concurrency: 2 },
    )
    expect(result.sent).toBe(2)
    expect(result.failed).toBe(1)
    expect(result.items.map((i) => i.status)).toEqual(['sent', 'failed', 'sent'])
    const failed = result.items[1]
    expect(failed?.status === 'failed' && failed.recipients).toEqual(['bad'])
    expect(result.accepted).toEqual(['ada@example.com', 'c@example.com', 'd@example.com'])
  })

  it('an abort stops starting messages and reports the rest skipped', async () => {
    await using mailer = memory()
    const controller = new AbortController()
    controller.abort()
    const result = await mailer.sendBatch([ok, ok], { signal: controller.signal })
    expect(result.skipped).toBe(2)
    expect(result.items.every((i) => i.status === 'skipped')).toBe(true)
  })
})

describe('suppression', () => {
  it('leaves suppressed recipients out and says who', async () => {
    const list = createMemorySuppressionList()
    await list.add('blocked@example.com', { reason: 'hard-bounce', source: 'sendgrid' })
    await using mailer = memory({ suppressionList: list })
    const result = await mailer.send({ ...ok, to: ['ada@example.com', 'Blocked@Example.com'] })
    expect(result.suppressed).toEqual(['Blocked@Example.com'])
    expect(mailer.sent()[0]?.to.map((a) => a.address)).toEqual(['ada@example.com'])
    expect(mailer.suppressions).toBe(list)
  })

  it('refuses a message whose every recipient is suppressed', async () => {
    await using mailer = memory()
    await mailer.suppressions?.add('ada@example.com', { reason: 'complaint' })
    const error = await mailer.send(ok).catch((e: unknown) => e)
    expect(isMailError(error, 'MAIL_SUPPRESSED')).toBe(true)
    expect(mailer.sent()).toHaveLength(0)
  })

  it('can be turned off', async () => {
    await using mailer = memory({ suppressionList: false })
    expect(mailer.suppressions).toBeUndefined()
    await using off = memory({ suppression: { enabled: false } })
    expect(off.suppressions).toBeUndefined()
  })
})

describe('transport choice', () => {
  it('defaults to log in development and refuses at send in production', async () => {
    await using dev = createMailer({ env: { NODE_ENV: 'development' } })
    expect(dev.driver).toBe('log')
    await using prod = createMailer({ env: { NODE_ENV: 'production' } })
    expect(prod.driver).toBe('none')
    const error = await prod.send(ok).catch((e: unknown) => e)
    expect(isMailError(error, 'MAIL_TRANSPORT_MISSING')).toBe(true)
    expect((error as Error).message).toContain('BEAVER_MAIL_DRIVER')
    await expect(prod.ready()).rejects.toMatchObject({ code: 'MAIL_TRANSPORT_MISSING' })
  })

  it('reads BEAVER_MAIL_DRIVER from the environment and an unknown name suggests one', async () => {
    await using mailer = createMailer({ env: { BEAVER_MAIL_DRIVER: 'smpt' } })
    const error = await mailer.send(ok).catch((e: unknown) => e)
    expect(isMailError(error, 'MAIL_DRIVER_UNKNOWN')).toBe(true)
    expect((error as Error).message).toContain('did you mean "smtp"')
  })

  it('a registered driver is chosen by name and built once', async () => {
    let built = 0
    const sent: string[] = []
    registerMailDriver(
      'capture-test',
      defineMailDriver({
        name: 'capture-test',
        peers: [],
        create: () => {
          built++
          return {
            name: 'capture-test',
            capabilities: plainCapabilities(),
            send: async (mail) => {
              sent.push(mail.subject)
              return { messageId: `id-${sent.length}` }
            },
            close: async () => {},
          }
        },
      }),
    )
    expect(mailDriverNames()).toContain('capture-test')
    await using mailer = createMailer({ envPrefix: false, driver: 'capture-test' })
    await mailer.send(ok)
    const second = await mailer.send(ok)
    expect(second).toMatchObject({
      messageId: 'id-2',
      transport: 'capture-test',
      accepted: ['ada@example.com'],
      rejected: [],
    })
    expect(built).toBe(1)
    expect(() => registerMailDriver('Bad Name', () => Promise.reject(new Error('x')))).toThrow(
      expect.objectContaining({ code: 'MAIL_DRIVER_NAME_INVALID' }),
    )
  })

  it('a given transport is used as is and left open', async () => {
    let closed = false
    const transport = {
      name: 'given',
      capabilities: plainCapabilities(),
      send: async () => ({ messageId: 'x' }),
      close: async () => {
        closed = true
      },
    }
    const mailer = createMailer({ envPrefix: false, transport })
    expect(mailer.driver).toBe('given')
    await mailer.send(ok)
    await mailer.ready()
    await mailer.close()
    expect(closed).toBe(false)
  })

  it('retries a transport that does not retry by itself, then gives up with its error', async () => {
    let calls = 0
    registerMailDriver('flaky-test', {
      name: 'flaky-test',
      peers: [],
      create: () => ({
        name: 'flaky-test',
        capabilities: plainCapabilities(),
        send: async () => {
          calls++
          throw transportError('flaky-test', 'MAIL_UNAVAILABLE', '421 busy', { retryAfterMs: 1 })
        },
        close: async () => {},
      }),
    })
    await using mailer = createMailer({
      envPrefix: false,
      driver: 'flaky-test',
      retry: { attempts: 3, baseDelay: 1, maxDelay: 2 },
    })
    const error = await mailer.send(ok).catch((e: unknown) => e)
    expect(isMailError(error, 'MAIL_UNAVAILABLE')).toBe(true)
    expect(calls).toBe(3)
  })
})

describe('lifecycle', () => {
  it('describes settings with secrets masked', () => {
    const mailer = createMailer({
      envPrefix: false,
      driver: 'smtp',
      smtp: { url: 'smtp://user:hunter2@mail.example.com:587', password: 'hunter2' },
    })
    const text = JSON.stringify(mailer.describe())
    expect(text).not.toContain('hunter2')
    expect(mailer.describe().state).toMatchObject({ driver: 'smtp', built: false, suppression: 'on' })
  })

  it('closes once, and refuses to send after', async () => {
    const mailer = memory()
    await mailer.send(ok)
    await mailer.close()
    await mailer.close()
    await expect(mailer.send(ok)).rejects.toMatchObject({ code: 'MAIL_CLOSED' })
  })

  it('an aborted signal stops a send before it starts', async () => {
    await using mailer = memory()
    const controller = new AbortController()
    controller.abort(new Error('stop'))
    await expect(mailer.send(ok, { signal: controller.signal })).rejects.toThrow('stop')
  })
})
