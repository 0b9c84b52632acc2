import { importPeer } from '@beaver-kit/core'
import type { Address } from './address.ts'
import type { OutgoingMail } from './message.ts'

// The parts of nodemailer the kit uses, stated here so that any nodemailer from 6.9 on fits
// (its bundled types changed across majors; its runtime API did not).
export interface NodemailerAddress {
  name: string
  address: string
}
export interface NodemailerMessage {
  from: NodemailerAddress
  to: NodemailerAddress[]
  cc: NodemailerAddress[]
  bcc: NodemailerAddress[]
  replyTo: NodemailerAddress[]
  subject: string
  text?: string
  html?: string
  attachments: Array<{
    filename: string
    content: Buffer
    contentType: string
    cid?: string
    contentDisposition: 'attachment' | 'inline'
  }>
  headers: Record<string, string>
  messageId?: string
  disableFileAccess: true
  disableUrlAccess: true
}
export interface NodemailerInfo {
  messageId: string
  accepted?: Array<string | NodemailerAddress>
  rejected?: Array<string | NodemailerAddress>
  response?: string
  message?: Buffer
}
export interface NodemailerTransporter {
  sendMail(message: NodemailerMessage): Promise<NodemailerInfo>
  verify(): Promise<true>
  close(): void
  isIdle?(): boolean
  on?(event: 'idle', listener: () => void): void
}
export interface Nodemailer {
  createTransport(options: Record<string, unknown>): NodemailerTransporter
}

/** Loads nodemailer (an optional peer), naming what needs it when it is missing. */
export async function loadNodemailer(neededBy: string): Promise<Nodemailer> {
  const mod = await importPeer('nodemailer', () => import('nodemailer') as Promise<unknown>, neededBy)
  const m = mod as { default?: Nodemailer } & Nodemailer
  return typeof m.createTransport === 'function' ? m : (m.default as Nodemailer)
}

const addr = (a: Address): NodemailerAddress => ({ name: a.name ?? '', address: a.address })

/**
 * A checked message as nodemailer takes it. File and URL access stay off: attachments were
 * already read by the kit, and a message must never make the mailer fetch a URL.
 * `withAnnotations` writes tags and metadata as `X-Tags`/`X-Metadata` headers for SMTP, where
 * they survive into bounce reports (a DSN quotes the original headers).
 */
export function toNodemailer(mail: OutgoingMail, withAnnotations: boolean): NodemailerMessage {
  const headers: Record<string, string> = { ...mail.headers }
  if (withAnnotations && mail.tags.length) headers['X-Tags'] = mail.tags.join(', ')
  if (withAnnotations && Object.keys(mail.metadata).length) headers['X-Metadata'] = metadataHeader(mail.metadata)
  return {
    from: addr(mail.from),
    to: mail.to.map(addr),
    cc: mail.cc.map(addr),
    bcc: mail.bcc.map(addr),
    replyTo: mail.replyTo.map(addr),
    subject: mail.subject,
    ...(mail.text !== undefined ? { text: mail.text } : {}),
    ...(mail.html !== undefined ? { html: mail.html } : {}),
    attachments: mail.attachments.map((a) => ({
      filename: a.filename,
      content: a.content,
      contentType: a.contentType,
      contentDisposition: a.disposition,
      ...(a.cid !== undefined ? { cid: a.cid } : {}),
    })),
    headers,
    disableFileAccess: true,
    disableUrlAccess: true,
  }
}

/**
 * Metadata as one header line, `key=value; key=value` with values percent-encoded: plain
 * ASCII, so nodemailer never has to MIME-encode it and any reader can split it.
 */
export function metadataHeader(metadata: Readonly<Record<string, string>>): string {
  return Object.entries(metadata)
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
    .join('; ')
}

let composer: Promise<NodemailerTransporter> | undefined

/**
 * A raw RFC 5322 message (CRLF line ends, Bcc left out) for the file transport and SES raw
 * sending, built by nodemailer's stream transport (one, shared).
 */
export async function buildMime(
  mail: OutgoingMail,
  neededBy: string,
  withAnnotations: boolean,
): Promise<{ raw: Buffer; messageId: string }> {
  composer ??= loadNodemailer(neededBy).then(
    (nodemailer) => nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' }),
    (err: unknown) => {
      composer = undefined
      throw err
    },
  )
  // The stream transport keeps a Bcc header (it is meant for sendmail); a raw message for SES
  // or a file must not show who was blind-copied, so the Bcc list stays out of it.
  const info = await (await composer).sendMail({ ...toNodemailer(mail, withAnnotations), bcc: [] })
  return { raw: info.message as Buffer, messageId: info.messageId }
}
