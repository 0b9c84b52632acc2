// The demo's mail: a "link created" message to the address a POST /links names, through the
// default mailer (the log transport when nothing is set; SMTP or a provider by BEAVER_MAIL_*
// alone), and the provider's delivery events recorded against the message. Kept in its own
// module so app.ts only hands it the link and the webhook requests.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { sql, type Database } from '@beaver-kit/database'
import { createMailer, type DeliveryEvent, type Mailer, type WebhookProvider } from '@beaver-kit/mail'
import type { InstanceDescription } from '@beaver-kit/config'
import type { Logger } from '@beaver-kit/logger'

const PROVIDERS = new Set<string>(['ses', 'sendgrid', 'mailgun', 'postmark', 'resend'])
const DEFAULT_FROM = 'Beaver Links <links@beaver-links.local>'
const MAX_WEBHOOK_BODY = 1024 * 1024

/** What the link-created mail shows. */
export interface CreatedLink {
  code: string
  url: string
  shortUrl: string
  deleteUrl: string
}

/** One recorded delivery event of a link's mail. */
export interface LinkMailEvent {
  type: string
  recipient: string
  provider: string
  at: string
}

export interface LinkMail {
  /** The mailer it sends with (the accounts' mails go through it too). */
  readonly mailer: Mailer
  /** Sends the "link created" mail in the background; resolves when it is sent (or failed and was logged). */
  linkCreated(link: CreatedLink, to: string): Promise<void>
  /** The delivery events recorded for a link's mail, oldest first. */
  events(code: string): Promise<LinkMailEvent[]>
  /** Handles POST /webhooks/mail/:provider; false when the path is not one of these. */
  route(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean>
  /** Stops recording events, and closes the mailer when this module made it. */
  close(): Promise<void>
  /** The mailer's settings and state, for the start-up log. */
  describe(): InstanceDescription
}

const templates = {
  'link-created': {
    subject: 'Your short link {{shortUrl}} is ready',
    html: '<p>Your link to <a href="{{url}}">{{url}}</a> is ready:</p><p><a href="{{shortUrl}}"><b>{{shortUrl}}</b></a></p><p>Delete it within the hour: <a href="{{deleteUrl}}">delete this link</a>.</p>',
    text: 'Your link to {{url}} is ready: {{shortUrl}}\n\nDelete it within the hour: {{deleteUrl}}',
  },
}

/** The inline templates the demo's mailer needs (pass them as `templates.inline` to a mailer of your own). */
export const linkMailTemplates = templates

export interface LinkMailOptions {
  db: Database
  log: Logger
  /** A mailer with `linkMailTemplates` (tests); default: one configured by BEAVER_MAIL_*, closed with this module. */
  mailer?: Mailer | undefined
  env?: NodeJS.ProcessEnv | undefined
}

/**
 * Wires a mailer into Beaver Links: sends, records `message id ↔ link` and every verified
 * delivery event (two tables created on first use, on SQLite, PostgreSQL or MySQL alike).
 */
export function createLinkMail(options: LinkMailOptions): LinkMail {
  const { db, log, env = process.env } = options
  const mailer =
    options.mailer ?? createMailer({ ...(options.env ? { env: options.env } : {}), templates: { inline: templates } })
  let tables: Promise<unknown> | undefined
  const ready = (): Promise<unknown> =>
    (tables ??= db
      .execute(
        sql`CREATE TABLE IF NOT EXISTS beaver_links_mail (message_id VARCHAR(255) NOT NULL PRIMARY KEY, code VARCHAR(32) NOT NULL, recipient VARCHAR(320) NOT NULL, sent_at BIGINT NOT NULL)`,
      )
      .then(() =>
        db.execute(
          sql`CREATE TABLE IF NOT EXISTS beaver_links_mail_events (message_id VARCHAR(255) NOT NULL, type VARCHAR(16) NOT NULL, recipient VARCHAR(320) NOT NULL, provider VARCHAR(16) NOT NULL, at BIGINT NOT NULL)`,
        ),
      )
      .catch((err: unknown) => {
        tables = undefined
        throw err
      }))

  const stop = mailer.onDelivery(async (event: DeliveryEvent) => {
    await ready()
    await db.execute(
      sql`INSERT INTO beaver_links_mail_events (message_id, type, recipient, provider, at) VALUES (${event.messageId ?? ''}, ${event.type}, ${event.recipient}, ${event.provider}, ${event.timestamp.getTime()})`,
    )
    log.info({ type: event.type, provider: event.provider, messageId: event.messageId }, 'mail delivery event')
  })

  return {
    mailer,
    async linkCreated(link, to) {
      try {
        const sent = await mailer.send({
          // BEAVER_MAIL_FROM wins when set; otherwise the demo's own sender.
          from: env.BEAVER_MAIL_FROM ? undefined : DEFAULT_FROM,
          to,
          template: 'link-created',
          data: { ...link },
          tags: ['link-created'],
          idempotencyKey: `link-created/${link.code}`,
        })
        await ready()
        await db.execute(
          sql`INSERT INTO beaver_links_mail (message_id, code, recipient, sent_at) VALUES (${sent.messageId}, ${link.code}, ${to}, ${Date.now()})`,
        )
        log.info({ code: link.code, messageId: sent.messageId, transport: sent.transport }, 'link mail sent')
      } catch (err) {
        log.warn({ err, code: link.code }, 'could not send the link mail')
      }
    },
    async events(code) {
      await ready()
      const rows = await db.many<{ type: string; recipient: string; provider: string; at: number | string | bigint }>(
        sql`SELECT e.type, e.recipient, e.provider, e.at FROM beaver_links_mail_events e JOIN beaver_links_mail m ON m.message_id = e.message_id WHERE m.code = ${code} ORDER BY e.at`,
      )
      return rows.map((r) => ({
        type: r.type,
        recipient: r.recipient,
        provider: r.provider,
        at: new Date(Number(r.at)).toISOString(),
      }))
    },
    async route(req, res, path) {
      const m = /^\/webhooks\/mail\/([a-z]+)$/.exec(path)
      if (!m || req.method !== 'POST') return false
      const provider = m[1] as string
      if (!PROVIDERS.has(provider)) return false
      const chunks: Buffer[] = []
      let size = 0
      for await (const chunk of req) {
        size += (chunk as Buffer).length
        if (size > MAX_WEBHOOK_BODY) {
          res.writeHead(413).end()
          return true
        }
        chunks.push(chunk as Buffer)
      }
      const reply = await mailer.webhooks.handle(provider as WebhookProvider, {
        method: 'POST',
        url: req.url ?? path,
        headers: req.headers,
        body: Buffer.concat(chunks),
      })
      if (reply.error) log.warn({ provider, code: reply.error.code }, reply.error.message)
      res.writeHead(reply.status, { 'content-type': 'text/plain; charset=utf-8', ...reply.headers })
      res.end(reply.body ?? '')
      return true
    },
    async close() {
      stop()
      if (!options.mailer) await mailer.close()
    },
    describe: () => mailer.describe(),
  }
}
