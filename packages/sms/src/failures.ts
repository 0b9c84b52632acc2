import { classifyApiFailure } from '@beaver-kit/delivery'
import { SmsError, isSmsError, type SmsErrorCode } from './errors.ts'

type ProviderCode = Extract<SmsErrorCode, 'SMS_UNAVAILABLE' | 'SMS_AUTH' | 'SMS_REJECTED' | 'SMS_OPTED_OUT'>

/**
 * How drivers report a provider's answer: SMS_UNAVAILABLE is temporary (retried, and a reason
 * to fail over), SMS_AUTH fails over but is not retried, SMS_REJECTED and SMS_OPTED_OUT concern
 * the message itself and go nowhere else.
 */
export function driverError(
  driver: string,
  code: ProviderCode,
  message: string,
  extra: {
    cause?: unknown
    status?: number | string | undefined
    providerCode?: string | number | undefined
    retryAfterMs?: number | undefined
  } = {},
): SmsError {
  const { cause, ...details } = extra
  return new SmsError(code, `${driver}: ${message}`, {
    cause,
    details: { driver, transient: code === 'SMS_UNAVAILABLE', ...details },
  })
}

export const isTransient = (error: unknown): boolean => isSmsError(error, 'SMS_UNAVAILABLE')
export const shouldFailover = (error: unknown): boolean =>
  isSmsError(error, 'SMS_UNAVAILABLE', 'SMS_AUTH', 'SMS_ALL_DRIVERS_FAILED')
export function retryAfterOf(error: unknown): number | undefined {
  const hint = isSmsError(error) ? error.details.retryAfterMs : undefined
  return typeof hint === 'number' ? hint : undefined
}

/**
 * Classifies an `@beaver-kit/http` failure: 401/403 credentials, 429/5xx and unreachable
 * temporary (with Retry-After), other statuses a rejection; `describe` reads the provider's error body.
 */
export function httpFailure(
  driver: string,
  err: unknown,
  describe: (body: string) => { text: string; code?: string | number | undefined; optedOut?: boolean },
): SmsError {
  const f = classifyApiFailure(err)
  if (f.body === '' && typeof f.status !== 'number') {
    return driverError(driver, f.kind === 'temporary' ? 'SMS_UNAVAILABLE' : 'SMS_REJECTED', f.message, {
      cause: err,
      status: f.status,
    })
  }
  const { text, code: providerCode, optedOut } = describe(f.body)
  const extra = { cause: err, status: f.status, providerCode, retryAfterMs: f.retryAfterMs }
  if (optedOut) return driverError(driver, 'SMS_OPTED_OUT', `the recipient opted out (${text})`, extra)
  if (f.kind === 'auth')
    return driverError(
      driver,
      'SMS_AUTH',
      `the API refused the credentials (${f.status} ${text}); check the account and token.`,
      extra,
    )
  if (f.kind === 'temporary')
    return driverError(driver, 'SMS_UNAVAILABLE', `temporary failure ${f.status} ${text}`, extra)
  return driverError(driver, 'SMS_REJECTED', `the API refused the message (${f.status} ${text})`, extra)
}
