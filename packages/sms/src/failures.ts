import { parseRetryAfter } from '@beaver-kit/core'
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

const UNREACHABLE = new Set([
  'HTTP_TIMEOUT',
  'HTTP_NETWORK',
  'HTTP_CIRCUIT_OPEN',
  'HTTP_RETRY_BUDGET_EXCEEDED',
  'HTTP_BULKHEAD_FULL',
])

/**
 * Classifies an `@beaver-kit/http` failure by status: 401/403 credentials, 429/5xx temporary
 * (with Retry-After), other 4xx a rejection; `describe` reads the provider's error body.
 */
export function httpFailure(
  driver: string,
  err: unknown,
  describe: (body: string) => { text: string; code?: string | number | undefined; optedOut?: boolean },
): SmsError {
  const e = err as {
    code?: string
    status?: number
    bodyExcerpt?: string
    headers?: Record<string, unknown>
    message?: string
  }
  if (e.code === 'HTTP_STATUS' && typeof e.status === 'number') {
    const { text, code: providerCode, optedOut } = describe(e.bodyExcerpt ?? '')
    const status = e.status
    if (optedOut)
      return driverError(driver, 'SMS_OPTED_OUT', `the recipient opted out (${text})`, {
        cause: err,
        status,
        providerCode,
      })
    if (status === 401 || status === 403) {
      return driverError(
        driver,
        'SMS_AUTH',
        `the API refused the credentials (${status} ${text}); check the account and token.`,
        { cause: err, status, providerCode },
      )
    }
    if (status === 429 || status >= 500) {
      const header = e.headers?.['retry-after']
      return driverError(driver, 'SMS_UNAVAILABLE', `temporary failure ${status} ${text}`, {
        cause: err,
        status,
        providerCode,
        retryAfterMs: parseRetryAfter(typeof header === 'string' ? header : undefined),
      })
    }
    return driverError(driver, 'SMS_REJECTED', `the API refused the message (${status} ${text})`, {
      cause: err,
      status,
      providerCode,
    })
  }
  const unreachable = e.code !== undefined && UNREACHABLE.has(e.code)
  return driverError(driver, unreachable ? 'SMS_UNAVAILABLE' : 'SMS_REJECTED', e.message ?? String(err), {
    cause: err,
    status: e.code,
  })
}
