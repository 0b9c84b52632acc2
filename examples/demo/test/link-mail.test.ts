import { afterEach, describe, expect, it } from 'vitest'
import { createCache } from '@beaver-kit/cache'
import { createDatabase } from '@beaver-kit/database'
import { createUrlSigner, generateKeyRingEntry } from '@beaver-kit/krypto'
import { createLogger } from '@beaver-kit/logger'
import { createMailer, type Mailer } from '@beaver-kit/mail'
import { eventually } from '@beaver-kit/testkit'
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

async function start(): Promise<App> {
  mailer = createMailer({
    envPrefix: false,
    driver: 'memory',
    templates: { inline: linkMailTemplates },
    webhooks: { resendSecret: secret },
  })
  app = await startApp({
    config: { port: 0, fetchTitles: false },
    env: {},
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
