import { afterEach, describe, expect, it, vi } from 'vitest'
import { createCache } from '@beaver-kit/cache'
import { createDatabase } from '@beaver-kit/database'
import { createUrlSigner, generateKeyRingEntry } from '@beaver-kit/krypto'
import { createLogger } from '@beaver-kit/logger'
import { createMailer, type Mailer } from '@beaver-kit/mail'
import { eventually } from '@beaver-kit/testkit'
import { parseRawMail } from '@beaver-kit/testkit/mail-parse'
import { startSmtpSink } from '@beaver-kit/testkit/smtp-sink'
import { svixSecret, svixSigned } from '@beaver-kit/testkit/fakes/webhook-signers'
import { startApp, type App } from '../src/app.ts'
import { linkMailTemplates } from '../src/link-mail.ts'

const secret = svixSecret()
let app: App | undefined
let mailer: Mailer | undefined
afterEach(async () => {
  await app?.close()
  await mailer?.close()
  app = undefined
})

/** The demo with its own mailer, configured by `env` alone (no mailer passed in). */
async function startWithEnv(env: NodeJS.ProcessEnv): Promise<App> {
  app = await startApp({
    config: { port: 0, fetchTitles: false },
    env,
    deps: {
      db: createDatabase({ driver: 'sqlite', file: ':memory:', envPrefix: false }),
      cache: createCache({ driver: 'memory', envPrefix: false }),
      logger: createLogger({ envPrefix: false, outputs: [], sinks: [{ write: () => {}, format: 'json' }] }),
      signer: createUrlSigner({ envPrefix: false, keys: generateKeyRingEntry('test') }),
    },
  })
  return app
}

async function createLink(url: string, email: string): Promise<{ code: string; shortUrl: string }> {
  const res = await fetch(`${url}/links`, {
    method: 'POST',
    body: JSON.stringify({ url: 'https://example.com/a', email }),
  })
  expect(res.status).toBe(201)
  return (await res.json()) as { code: string; shortUrl: string }
}

async function start(): Promise<App> {
  mailer = createMailer({
    envPrefix: false,
    driver: 'memory',
    templates: { inline: linkMailTemplates },
    webhooks: { resendSecret: secret },
  })
  app = await startApp({
    config: { port: 0, fetchTitles: false },
    env: { BEAVER_STORAGE_DRIVER: 'memory' },
    deps: {
      db: createDatabase({ driver: 'sqlite', file: ':memory:', envPrefix: false }),
      cache: createCache({ driver: 'memory', envPrefix: false }),
      logger: createLogger({ envPrefix: false, outputs: [], sinks: [{ write: () => {}, format: 'json' }] }),
      signer: createUrlSigner({ envPrefix: false, keys: generateKeyRingEntry('test') }),
      mailer,
    },
  })
  return app
}

describe('the link-created mail', () => {
  it('mails the new link to the address given, and records its delivery events', async () => {
    const { url } = await start()
    const created = (await (
      await fetch(`${url}/links`, {
        method: 'POST',
        body: JSON.stringify({ url: 'https://example.com/a', email: 'ada@example.com' }),
      })
    ).json()) as { code: string; shortUrl: string }
    await app?.idle()
    const mail = mailer?.expectSent({ to: 'ada@example.com', subject: `Your short link ${created.shortUrl} is ready` })
    expect(mail?.text).toContain(created.shortUrl)
    expect(mail?.html).toContain('delete this link')
    expect(mail?.tags).toEqual(['link-created'])

    // The provider reports delivery through its webhook; the demo records it against the link.
    const event = svixSigned(secret, {
      type: 'email.delivered',
      created_at: new Date().toISOString(),
      data: { email_id: mail?.messageId, to: ['ada@example.com'] },
    })
    const hook = await fetch(`${url}/webhooks/mail/resend`, {
      method: 'POST',
      headers: event.headers,
      body: new Uint8Array(event.body),
    })
    expect(hook.status).toBe(200)
    await eventually(async () => {
      const { events } = (await (await fetch(`${url}/links/${created.code}/mail`)).json()) as {
        events: Array<{ type: string; recipient: string }>
      }
      expect(events).toMatchObject([{ type: 'delivered', recipient: 'ada@example.com', provider: 'resend' }])
    })
  })

  it('refuses a bad address, sends nothing without one, and refuses unsigned webhooks', async () => {
    const { url } = await start()
    const bad = await fetch(`${url}/links`, {
      method: 'POST',
      body: JSON.stringify({ url: 'https://example.com/a', email: 'not-an-address' }),
    })
    expect(bad.status).toBe(400)
    const plain = await fetch(`${url}/links`, {
      method: 'POST',
      body: JSON.stringify({ url: 'https://example.com/b' }),
    })
    expect(plain.status).toBe(201)
    await app?.idle()
    expect(mailer?.sent()).toHaveLength(0)
    const unsigned = await fetch(`${url}/webhooks/mail/resend`, { method: 'POST', body: '{}' })
    expect(unsigned.status).toBe(401)
    expect((await fetch(`${url}/webhooks/mail/unknown`, { method: 'POST', body: '{}' })).status).toBe(404)
  })
})

describe('the link-created mail with no mailer given', () => {
  it('prints it through the log transport when nothing is configured', async () => {
    const printed: string[] = []
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed.push(String(chunk))
      return true
    })
    try {
      const { url } = await startWithEnv({})
      const created = await createLink(url, 'ada@example.com')
      await app?.idle()
      const mail = printed.join('')
      expect(mail).toContain(`Your short link ${created.shortUrl} is ready`)
      expect(mail).toContain('ada@example.com')
      expect(mail).toContain(created.shortUrl)
    } finally {
      spy.mockRestore()
    }
  })

  it('sends it over SMTP by environment alone', async () => {
    const sink = await startSmtpSink()
    try {
      const { url } = await startWithEnv({
        BEAVER_MAIL_DRIVER: 'smtp',
        BEAVER_MAIL_SMTP_URL: `smtp://127.0.0.1:${sink.port}`,
        BEAVER_MAIL_SMTP_SECURITY: 'none',
        BEAVER_MAIL_FROM: 'Links <links@example.com>',
      })
      const created = await createLink(url, 'grace@example.com')
      await app?.idle()
      expect(sink.messages).toHaveLength(1)
      const [raw] = sink.messages
      const got = await parseRawMail(raw?.raw as Buffer, raw?.to)
      expect(got.subject).toBe(`Your short link ${created.shortUrl} is ready`)
      expect(got.to).toEqual(['grace@example.com'])
      expect(got.from).toBe('links@example.com')
      expect(got.text).toContain(created.shortUrl)
      expect(got.headers['x-tags']).toBe('link-created')
    } finally {
      // The mailer's pooled connections close with the app; the sink waits for them.
      await app?.close()
      app = undefined
      await sink.stop()
    }
  })
})
