import { BeaverError, errorGuard, type BeaverErrorOptions } from '@beaver-kit/core'

/** Every code an {@link SmsError} can carry; stable, so callers may switch on them. */
export type SmsErrorCode =
  /** A message field is missing or malformed; `details.field` names it (`to`, `body`, `from`). */
  | 'SMS_MESSAGE_INVALID'
  /** The recipient replied STOP (or the provider reports them unsubscribed); nothing was sent. */
  | 'SMS_OPTED_OUT'
  /** Production without BEAVER_SMS_DRIVER: messages are refused rather than dropped. */
  | 'SMS_DRIVER_MISSING'
  /** The provider refused the message for good (an invalid number, a blocked destination). */
  | 'SMS_REJECTED'
  /** The provider refused the credentials. */
  | 'SMS_AUTH'
  /** A temporary failure (throttling, 5xx, network) that outlasted the retries. */
  | 'SMS_UNAVAILABLE'
  /** Every driver of a failover set failed; `cause` is an AggregateError. */
  | 'SMS_ALL_DRIVERS_FAILED'
  /** A webhook's signature did not verify. */
  | 'SMS_WEBHOOK_SIGNATURE'
  /** A verified webhook body is not the provider's format. */
  | 'SMS_WEBHOOK_PAYLOAD'
  /** Options are invalid or incomplete (a missing API key, an empty failover list). */
  | 'SMS_OPTIONS_INVALID'
  /** The operation needs a capability this driver lacks (sent() outside the memory driver). */
  | 'SMS_UNSUPPORTED'
  /** `expectSent()` found no message matching. */
  | 'SMS_EXPECTATION_FAILED'
  /** Slack refused a notification (invalid_payload, channel_not_found...) or kept refusing after the retries. */
  | 'SMS_SLACK_FAILED'
  /** Queued sending failed to enqueue, or the queue package is missing. */
  | 'SMS_QUEUE'
  | 'SMS_DRIVER_UNKNOWN'
  | 'SMS_DRIVER_NAME_INVALID'
  | 'SMS_CLOSED'

/** The one error class of @beaver-kit/sms (the Slack notifier's errors included). */
export class SmsError extends BeaverError<SmsErrorCode> {}

/** True for an SmsError (by brand, so it works across duplicate installs), optionally of the given codes. */
export const isSmsError = errorGuard<SmsErrorCode, SmsError>('SMS_')

/** SMS_MESSAGE_INVALID naming the field. */
export function invalidField(field: string, problem: string, options: BeaverErrorOptions = {}): SmsError {
  return new SmsError('SMS_MESSAGE_INVALID', `${field}: ${problem}`, {
    ...options,
    details: { ...options.details, field },
  })
}
