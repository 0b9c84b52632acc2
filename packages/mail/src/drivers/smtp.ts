import { randomUUID } from 'node:crypto'
import type { ConnectionOptions } from 'node:tls'
import { raceAbort, throwIfAborted } from '@beaver-kit/core'
import { MailError } from '../errors.ts'
import { smtpFailure } from '../failures.ts'
import { toNodemailer } from '../mime.ts'
import { recipientsOf } from '../message.ts'
import { defineMailDriver, plainCapabilities, type MailTransport } from '../transport.ts'
import { writeMime } from './smtp-compose.ts'
import { loadSmtpModules, SmtpPool, type MimeNode } from './smtp-pool.ts'

/** SMTP settings: BEAVER_MAIL_SMTP_* or `createMailer({ smtp: {...} })`. */
export interface SmtpTransportOptions {
  url?: string | undefined
  host?: string | undefined
  port?: number | undefined
  /** `starttls`: upgrade and require it; `tls`: TLS from the first byte; `none`: plain; unset: STARTTLS when the server offers it. */
  security?: 'starttls' | 'tls' | 'none' | undefined
  user?: string | undefined
  password?: string | undefined
  pool?: boolean | undefined
  maxConnections?: number | undefined
  maxMessages?: number | undefined
  connectionTimeout?: number | undefined
  greetingTimeout?: number | undefined
  socketTimeout?: number | undefined
  rejectUnauthorized?: boolean | undefined
  dkim?: { domain?: string | undefined; selector?: string | undefined; privateKey?: string | undefined } | undefined
  /** More TLS options (a `ca` for a private certificate authority); code only. */
  tls?: ConnectionOptions | undefined
}

/** The nodemailer transport options for these settings (exported for the benchmark's like-for-like pool). */
export function nodemailerOptions(o: SmtpTransportOptions): Record<string, unknown> {
  let fromUrl: URL | undefined
  if (o.url) fromUrl = new URL(o.url)
  const security = o.security ?? (fromUrl?.protocol === 'smtps:' ? 'tls' : undefined)
  const user = o.user ?? (fromUrl?.username ? decodeURIComponent(fromUrl.username) : undefined)
  const password = o.password ?? (fromUrl?.password ? decodeURIComponent(fromUrl.password) : undefined)
  const { domain, selector, privateKey } = o.dkim ?? {}
  const dkimParts = [domain, selector, privateKey].filter((v) => v !== undefined).length
  if (dkimParts > 0 && dkimParts < 3) {
    throw new MailError(
      'MAIL_OPTIONS_INVALID',
      'DKIM signing needs all of BEAVER_MAIL_SMTP_DKIM_DOMAIN, _SELECTOR and _PRIVATE_KEY; one or two are set.',
      {
        details: { field: 'smtp.dkim' },
      },
    )
  }
  return {
    pool: o.pool ?? true,
    maxConnections: o.maxConnections ?? 5,
    maxMessages: o.maxMessages ?? 100,
    host: o.host ?? fromUrl?.hostname ?? '127.0.0.1',
    port: o.port ?? (fromUrl?.port ? Number(fromUrl.port) : security === 'tls' ? 465 : 587),
    secure: security === 'tls',
    requireTLS: security === 'starttls',
    ignoreTLS: security === 'none',
    ...(user !== undefined ? { auth: { user, pass: password ?? '' } } : {}),
    connectionTimeout: o.connectionTimeout ?? 10_000,
    greetingTimeout: o.greetingTimeout ?? 10_000,
    socketTimeout: o.socketTimeout ?? 60_000,
    tls: { rejectUnauthorized: o.rejectUnauthorized ?? true, ...o.tls },
    ...(dkimParts === 3 ? { dkim: { domainName: domain, keySelector: selector, privateKey } } : {}),
    disableFileAccess: true,
    disableUrlAccess: true,
  }
}

// A Message-ID needs an ASCII domain; an internationalized one is left to nodemailer (punycode).
const ASCII_DOMAIN = /^[A-Za-z0-9.-]+$/

async function readAll(stream: AsyncIterable<Buffer | string>): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
  return Buffer.concat(chunks)
}

const built = (node: MimeNode): Promise<Buffer> =>
  new Promise((resolve, reject) => node.build((err, message) => (err ? reject(err) : resolve(message))))

/**
 * SMTP through nodemailer's SMTP client: pooled connections, STARTTLS or TLS, authentication,
 * DKIM signing. Each message is composed once by nodemailer's MailComposer into one buffer
 * (DKIM-signed when configured, Bcc kept out of the headers and in the envelope) and handed to
 * the kit's pool of nodemailer connections, which writes it in one piece: nodemailer's own
 * pool streams every MIME chunk to the socket separately, a system call each. Reply codes
 * become the kit's errors: 4xx (421, 450, 451, 452, 454) temporary and retried by the mailer,
 * 530/534/535 credentials, other 5xx a rejected message.
 */
export const smtpDriver = defineMailDriver<SmtpTransportOptions>({
  name: 'smtp',
  peers: ['nodemailer'],
  section: 'smtp',
  async create(options) {
    const {
      auth,
      dkim,
      pool,
      maxConnections,
      maxMessages,
      disableFileAccess: _file,
      disableUrlAccess: _url,
      ...connection
    } = nodemailerOptions(options)
    const modules = await loadSmtpModules('the smtp mail transport')
    const signer = dkim ? new modules.DKIM(dkim as Record<string, unknown>) : undefined
    const connections = new SmtpPool(modules, {
      connection,
      auth: auth as { user: string; pass: string } | undefined,
      maxConnections: maxConnections as number,
      // Unpooled: a connection per message, as nodemailer's plain transport does.
      maxMessages: pool === false ? 1 : (maxMessages as number),
    })
    const transport: MailTransport = {
      name: 'smtp',
      capabilities: plainCapabilities({ maxTags: Infinity }),
      async send(mail, sendOptions) {
        const { signal } = sendOptions
        try {
          // Checked here as well as by the mailer: a retry or a failover may come after the abort.
          throwIfAborted(signal)
          // The boundary and Message-ID from pooled random UUIDs: nodemailer draws fresh random
          // bytes from the system for each, several calls per message.
          const domain = mail.from.address.slice(mail.from.address.lastIndexOf('@') + 1)
          const node = new modules.MailComposer({
            ...toNodemailer(mail, true),
            baseBoundary: randomUUID().replaceAll('-', ''),
            ...(ASCII_DOMAIN.test(domain) ? { messageId: `<${randomUUID()}@${domain}>` } : {}),
          }).compile()
          let message = writeMime(node, modules.qp)
          if (message === undefined) {
            if (signer) node.processFunc((input) => signer.sign(input))
            message = await built(node)
          } else if (signer) {
            // The same bytes nodemailer's writer would hand its signer, signed as one piece.
            message = await readAll(signer.sign(message) as AsyncIterable<Buffer | string>)
          }
          const info = await raceAbort(connections.send(node.getEnvelope(), message, signal), { signal })
          return {
            messageId: node.messageId(),
            accepted: info.accepted ?? recipientsOf(mail),
            rejected: info.rejected ?? [],
            response: info.response,
          }
        } catch (err) {
          if (signal?.aborted) throw err
          throw smtpFailure('smtp', err)
        }
      },
      async verify(verifyOptions) {
        try {
          await raceAbort(connections.verify(), { signal: verifyOptions.signal })
        } catch (err) {
          if (verifyOptions.signal?.aborted) throw err
          throw smtpFailure('smtp', err)
        }
      },
      async close() {
        connections.close()
      },
    }
    return transport
  },
})
