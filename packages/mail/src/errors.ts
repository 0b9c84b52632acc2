import { BeaverError, errorGuard, type BeaverErrorOptions } from '@beaver-kit/core'

/** Every code a {@link MailError} can carry; stable, so callers may switch on them. */
export type MailErrorCode =
  /** A message field is missing or malformed; `details.field` names it (`to[1]`, `subject`, `headers.X-Foo`). */
  | 'MAIL_MESSAGE_INVALID'
  /** An attachment's file or stream could not be read; `details.field` names the attachment. */
  | 'MAIL_ATTACHMENT_UNREADABLE'
  /** The message (with attachments) is larger than `maxMessageSize`. */
  | 'MAIL_TOO_LARGE'
  /** No template of that name in the directory, the inline set or the template cache. */
  | 'MAIL_TEMPLATE_NOT_FOUND'
  /** A template failed to compile or render (a missing variable in strict mode); `details.field` names it. */
  | 'MAIL_TEMPLATE_RENDER'
  /** Production without BEAVER_MAIL_DRIVER: mail is refused rather than dropped. */
  | 'MAIL_TRANSPORT_MISSING'
  /** The provider refused the message for good (5xx SMTP reply, 4xx API error other than throttling). */
  | 'MAIL_REJECTED'
  /** The provider refused the credentials. */
  | 'MAIL_AUTH'
  /** A temporary failure (421/454 reply, throttling, network) that outlasted the retries. */
  | 'MAIL_UNAVAILABLE'
  /** Every recipient of the message is on the suppression list. */
  | 'MAIL_SUPPRESSED'
  /** Every transport of a failover or round-robin set failed; `cause` is an AggregateError. */
  | 'MAIL_ALL_TRANSPORTS_FAILED'
  /** A webhook's signature, token or timestamp did not verify. */
  | 'MAIL_WEBHOOK_SIGNATURE'
  /** A webhook body could not be read as the provider's event format. */
  | 'MAIL_WEBHOOK_PAYLOAD'
  /** Options given to createMailer (or a transport) are invalid or incomplete. */
  | 'MAIL_OPTIONS_INVALID'
  /** The operation needs a capability this transport lacks (sent() on a non-memory transport). */
  | 'MAIL_UNSUPPORTED'
  /** `expectSent()` found no message matching. */
  | 'MAIL_EXPECTATION_FAILED'
  /** Queued sending failed to enqueue, or the queue package is missing. */
  | 'MAIL_QUEUE'
  | 'MAIL_DRIVER_UNKNOWN'
  | 'MAIL_DRIVER_NAME_INVALID'
  | 'MAIL_CLOSED'

/** The one error class of @beaver-kit/mail. `details.field` names the offending field where there is one. */
export class MailError extends BeaverError<MailErrorCode> {}

/** True for a MailError (by brand, so it works across duplicate installs), optionally of the given codes. */
export const isMailError = errorGuard<MailErrorCode, MailError>('MAIL_')

/** MAIL_MESSAGE_INVALID naming the field, what was found and what is accepted. */
export function invalidField(field: string, problem: string, options: BeaverErrorOptions = {}): MailError {
  return new MailError('MAIL_MESSAGE_INVALID', `${field}: ${problem}`, {
    ...options,
    details: { ...options.details, field },
  })
}
