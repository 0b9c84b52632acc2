import { BeaverError, errorGuard } from '@beaver-kit/core'

/** Every code a SmsError can carry; stable, so callers may switch on them. */
export type SmsErrorCode = 'SMS_DRIVER_UNKNOWN' | 'SMS_DRIVER_NAME_INVALID' | 'SMS_CLOSED'

/** The one error class of @beaver-kit/sms. */
export class SmsError extends BeaverError<SmsErrorCode> {}

/** True for a SmsError (by brand, so it works across duplicate installs), optionally of the given codes. */
export const isSmsError = errorGuard<SmsErrorCode, SmsError>('SMS_')
