import type { MailConfig } from './config.ts'
import type { OutgoingMail } from './message.ts'

/** What a transport does natively; the mailer fills the gaps. */
export interface MailTransportCapabilities {
  /**
   * The transport retries temporary failures itself (the HTTP providers through
   * `@beaver-kit/http`, SES through the AWS SDK); the mailer wraps the others in its retry.
   */
  readonly retries: boolean
  /** The provider dedupes a resend carrying the same idempotency key (Resend). */
  readonly idempotencyKeys: boolean
  /** Most tags a message may carry (Postmark 1, Mailgun 3, SendGrid 10...); tags beyond are refused, never dropped. */
  readonly maxTags: number
}

/** What a transport says about one accepted message. */
export interface TransportReceipt {
  /** The provider's id for the message (SMTP: the Message-ID; APIs: their id), used to match delivery events. */
  readonly messageId: string
  /** Recipients the server accepted (SMTP reports them; APIs accept all or fail). */
  readonly accepted?: readonly string[] | undefined
  /** Recipients the server refused while accepting the message for the others. */
  readonly rejected?: readonly string[] | undefined
  /** The server's last reply line (`250 2.0.0 OK queued`), for logs. */
  readonly response?: string | undefined
  /** The member that sent it, when the transport is a failover or round-robin set. */
  readonly transport?: string | undefined
}

export interface TransportSendOptions {
  readonly signal?: AbortSignal | undefined
}

/** A built mail driver: sends a checked message to one provider or server. */
export interface MailTransport {
  readonly name: string
  readonly capabilities: MailTransportCapabilities
  send(mail: OutgoingMail, options: TransportSendOptions): Promise<TransportReceipt>
  /** Checks the connection and credentials (SMTP: connect, EHLO, AUTH); used by `ready()`. */
  verify?(options: TransportSendOptions): Promise<void>
  /** Closes connections; idempotent. */
  close(): Promise<void>
}

/** What a driver definition's `create` receives besides its options. */
export interface MailDriverContext {
  /** The mailer's resolved settings (every driver section included). */
  readonly config: MailConfig
  /** Builds another transport by name, for composites (failover, round-robin); `setting` names where the name came from. */
  loadTransport(name: string, setting: string): Promise<MailTransport>
}

/** The sections drivers read their settings from. */
export type MailDriverSection =
  'smtp' | 'ses' | 'sendgrid' | 'mailgun' | 'postmark' | 'resend' | 'file' | 'log' | 'failover' | 'roundRobin'

/**
 * A driver definition: the registry reads `name` and `peers` without building anything;
 * `create` runs on first use and may load an optional peer. `section` names the settings it
 * gets (`smtp` → `BEAVER_MAIL_SMTP_*` and `createMailer({ smtp: {...} })`).
 */
export interface MailDriverDefinition<O = Record<string, unknown>> {
  readonly name: string
  readonly peers: readonly string[]
  readonly section?: MailDriverSection | undefined
  create(options: O, context: MailDriverContext): MailTransport | Promise<MailTransport>
}

/**
 * Declares a mail driver (typed options, inferred).
 * @example export const myDriver = defineMailDriver({ name: 'my', peers: [], create: () => ({ ... }) })
 */
export function defineMailDriver<O>(definition: MailDriverDefinition<O>): MailDriverDefinition<O> {
  return Object.freeze(definition)
}

/** The capabilities of a transport that does nothing special: the mailer retries, no idempotency, 10 tags. */
export function plainCapabilities(differences: Partial<MailTransportCapabilities> = {}): MailTransportCapabilities {
  return Object.freeze({ retries: false, idempotencyKeys: false, maxTags: 10, ...differences })
}
