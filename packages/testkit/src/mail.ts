// The mail transport conformance suite: every @beaver-kit/mail transport runs all of it
// against its real or local server (the SMTP sink, aws-ses-v2-local, the provider API
// stand-ins), reading back what the server received. The mailer is typed structurally so the
// testkit does not depend on the mail package.
import { beforeEach, expect, it } from 'vitest'
import { isBeaverError } from '@beaver-kit/core'
import { defineConformanceSuite } from './conformance.ts'

/** A message as a server received it, the same shape whatever the provider. */
export interface ReceivedMail {
  readonly from: string
  readonly to: readonly string[]
  readonly cc: readonly string[]
  readonly bcc: readonly string[]
  readonly replyTo: readonly string[]
  readonly subject: string
  readonly text: string | undefined
  readonly html: string | undefined
  /** Headers the message carried, lower-case names (for APIs: the custom headers sent). */
  readonly headers: Readonly<Record<string, string>>
  readonly attachments: ReadonlyArray<{
    filename: string
    contentType: string
    content: Buffer
    cid: string | undefined
  }>
  readonly tags: readonly string[]
  readonly metadata: Readonly<Record<string, string>>
}

interface SendResultLike {
  messageId: string
  transport: string
  accepted: readonly string[]
}

/** What the suite needs of a mailer (the public API of `@beaver-kit/mail`'s Mailer). */
export interface ConformanceMailer {
  send(message: Record<string, unknown>): Promise<SendResultLike>
  sendBatch(
    messages: ReadonlyArray<Record<string, unknown>>,
  ): Promise<{ sent: number; failed: number; items: ReadonlyArray<{ status: string }> }>
  close(): Promise<void>
}

export interface MailConformanceOptions {
  /** What the server received since the last reset, oldest first. */
  received(): Promise<readonly ReceivedMail[]>
  /** Forgets what the server received and any scripted failure; runs before each test. */
  reset(): void | Promise<void>
  /** Makes the next send fail temporarily (421/454 reply, 429, throttling). Absent: that case is skipped. */
  failNextTemporarily?: (() => void) | undefined
  /** Makes the next send be refused for good (550 reply, a 4xx API error). Absent: skipped. */
  rejectNext?: (() => void) | undefined
  /** A mailer whose credentials the server refuses. Absent: skipped. */
  withBadCredentials?: (() => ConformanceMailer) | undefined
  /** Why a case that needs a hook is skipped for this transport. */
  skipReason?: string | undefined
  /** False where the backend keeps no envelope (a .eml file): Bcc recipients cannot be read back, only their absence from the headers. */
  reportsBcc?: boolean | undefined
}

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
)

const one = async (o: MailConformanceOptions): Promise<ReceivedMail> => {
  const all = await o.received()
  expect(all).toHaveLength(1)
  return all[0] as ReceivedMail
}

/**
 * Runs every transport case against a mailer built by `factory`.
 * @example describeMailTransport('smtp', () => createMailer({ driver: 'smtp', smtp: { url: sink.url } }), { received, reset })
 */
export const describeMailTransport = defineConformanceSuite<ConformanceMailer, MailConformanceOptions>(
  'mail',
  (ctx) => {
    const o = ctx.options
    const from = 'Beaver App <app@example.com>'
    beforeEach(async () => {
      await o.reset()
    })

    it('sends a text and HTML message and answers the provider message id', async () => {
      const result = await ctx.subject().send({
        from,
        to: 'ada@example.com',
        subject: 'Welcome aboard',
        text: 'Hello Ada',
        html: '<p>Hello <b>Ada</b></p>',
      })
      expect(result.messageId).toMatch(/\S/)
      expect(result.accepted).toContain('ada@example.com')
      const got = await one(o)
      expect(got.from).toBe('app@example.com')
      expect(got.to).toEqual(['ada@example.com'])
      expect(got.subject).toBe('Welcome aboard')
      expect(got.text?.trim()).toBe('Hello Ada')
      expect(got.html).toContain('<b>Ada</b>')
    })

    it('carries cc, bcc and reply-to, and never shows bcc in the headers', async () => {
      await ctx.subject().send({
        from,
        to: ['ada@example.com', 'Grace Hopper <grace@example.com>'],
        cc: 'linus@example.com',
        bcc: 'hidden@example.com',
        replyTo: 'support@example.com',
        subject: 'Team',
        text: 'Hi team',
      })
      const got = await one(o)
      expect([...got.to].sort()).toEqual(['ada@example.com', 'grace@example.com'])
      expect(got.cc).toEqual(['linus@example.com'])
      if (o.reportsBcc !== false) expect(got.bcc).toEqual(['hidden@example.com'])
      expect(got.replyTo).toEqual(['support@example.com'])
      expect(got.headers.bcc).toBeUndefined()
    })

    it('carries attachments byte for byte and inline images by content id', async () => {
      const bytes = Buffer.from([0, 1, 2, 250, 251, 252, 10, 13])
      await ctx.subject().send({
        from,
        to: 'ada@example.com',
        subject: 'Your invoice',
        html: '<p>Logo: <img src="cid:logo"></p>',
        text: 'See the attachments',
        attachments: [
          { filename: 'invoice.bin', content: bytes, contentType: 'application/octet-stream' },
          { filename: 'notes.txt', content: 'plain notes ✓' },
          { filename: 'logo.png', content: PNG, cid: 'logo' },
        ],
      })
      const got = await one(o)
      const byName = new Map(got.attachments.map((a) => [a.filename, a]))
      expect(got.attachments).toHaveLength(3)
      expect(byName.get('invoice.bin')?.content.equals(bytes)).toBe(true)
      expect(byName.get('notes.txt')?.content.toString('utf8')).toBe('plain notes ✓')
      expect(byName.get('notes.txt')?.contentType).toMatch(/^text\/plain/)
      // Found by content id: some providers (Mailgun) name an inline part after its id.
      const inline = got.attachments.find((a) => a.cid === 'logo')
      expect(inline?.content.equals(PNG)).toBe(true)
      expect(inline?.contentType).toBe('image/png')
    })

    it('carries custom headers and non-ASCII subjects and names', async () => {
      await ctx.subject().send({
        from: { name: 'Zoë Café', address: 'app@example.com' },
        to: 'ada@example.com',
        subject: 'Grüße 👋 aus Köln',
        text: 'Ünïcödé body',
        headers: {
          'X-Entity-Ref-ID': 'ref-123',
          'List-Unsubscribe': '<https://example.com/unsubscribe?u=1234567890abcdef>, <mailto:unsubscribe@example.com>',
        },
      })
      const got = await one(o)
      expect(got.subject).toBe('Grüße 👋 aus Köln')
      expect(got.text?.trim()).toBe('Ünïcödé body')
      expect(got.headers['x-entity-ref-id']).toBe('ref-123')
      expect(got.headers['list-unsubscribe']).toContain('mailto:unsubscribe@example.com')
    })

    it('hands tags and metadata to the provider', async () => {
      await ctx.subject().send({
        from,
        to: 'ada@example.com',
        subject: 'Tagged',
        text: 'x',
        tags: ['welcome'],
        metadata: { userId: 'u-42' },
      })
      const got = await one(o)
      expect(got.tags).toEqual(['welcome'])
      expect(got.metadata).toEqual({ userId: 'u-42' })
    })

    it('sends a batch, each message once', async () => {
      const batch = await ctx.subject().sendBatch(
        Array.from({ length: 5 }, (_, i) => ({
          from,
          to: `user${i}@example.com`,
          subject: `Batch ${i}`,
          text: `n${i}`,
        })),
      )
      expect(batch.sent).toBe(5)
      expect(batch.failed).toBe(0)
      const got = await o.received()
      expect(got.map((m) => m.to[0]).sort()).toEqual(Array.from({ length: 5 }, (_, i) => `user${i}@example.com`))
    })

    it('refuses an invalid message naming the field, before sending anything', async () => {
      const error = await ctx
        .subject()
        .send({ from, to: 'not-an-address', subject: 'x', text: 'x' })
        .catch((e: unknown) => e)
      expect(isBeaverError(error, 'MAIL_MESSAGE_INVALID')).toBe(true)
      expect((error as { details: { field: string } }).details.field).toBe('to')
      expect(await o.received()).toHaveLength(0)
    })

    it('retries a temporary failure and sends the message once', async (t) => {
      if (!o.failNextTemporarily) return t.skip(o.skipReason ?? 'the server cannot script a temporary failure')
      o.failNextTemporarily()
      const result = await ctx.subject().send({ from, to: 'ada@example.com', subject: 'Retried', text: 'x' })
      expect(result.messageId).toMatch(/\S/)
      const got = await o.received()
      expect(got.map((m) => m.subject)).toEqual(['Retried'])
    })

    it('does not retry a message the server refuses for good', async (t) => {
      if (!o.rejectNext) return t.skip(o.skipReason ?? 'the server cannot script a permanent rejection')
      o.rejectNext()
      const error = await ctx
        .subject()
        .send({ from, to: 'ada@example.com', subject: 'Refused', text: 'x' })
        .catch((e: unknown) => e)
      expect(isBeaverError(error, 'MAIL_REJECTED')).toBe(true)
      // Sent once, refused once: the message is sent normally afterwards.
      await ctx.subject().send({ from, to: 'ada@example.com', subject: 'After', text: 'x' })
      expect((await o.received()).map((m) => m.subject)).toEqual(['After'])
    })

    it('reports refused credentials as MAIL_AUTH', async (t) => {
      if (!o.withBadCredentials) return t.skip(o.skipReason ?? 'the server does not check credentials')
      const bad = o.withBadCredentials()
      try {
        const error = await bad.send({ from, to: 'ada@example.com', subject: 'x', text: 'x' }).catch((e: unknown) => e)
        expect(isBeaverError(error, 'MAIL_AUTH')).toBe(true)
      } finally {
        await bad.close()
      }
      expect(await o.received()).toHaveLength(0)
    })
  },
)
