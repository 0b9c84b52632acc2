import { isNetworkErrorCode } from '@beaver-kit/core'
import { classifyApiFailure } from '@beaver-kit/delivery'
import { MailError, isMailError, type MailErrorCode } from './errors.ts'

/**
 * How transports report a provider's answer: MAIL_UNAVAILABLE (temporary: retried, and a
 * reason to fail over), MAIL_AUTH (credentials: fail over, never retried), MAIL_REJECTED (the
 * message itself: neither). `details.transient` and `details.retryAfterMs` drive the retry.
 */
export function transportError(
  transport: string,
  code: Extract<MailErrorCode, 'MAIL_UNAVAILABLE' | 'MAIL_AUTH' | 'MAIL_REJECTED'>,
  message: string,
  extra: {
    cause?: unknown
    status?: number | string | undefined
    retryAfterMs?: number | undefined
    response?: string | undefined
  } = {},
): MailError {
  const { cause, ...details } = extra
  return new MailError(code, `${transport}: ${message}`, {
    cause,
    details: { transport, transient: code === 'MAIL_UNAVAILABLE', ...details },
  })
}

/** Whether the mailer may send the message again on the same transport. */
export function isTransient(error: unknown): boolean {
  return isMailError(error, 'MAIL_UNAVAILABLE')
}

/** Whether another transport might take the message this one could not (down, throttling, bad credentials). */
export function shouldFailover(error: unknown): boolean {
  return isMailError(error, 'MAIL_UNAVAILABLE', 'MAIL_AUTH', 'MAIL_ALL_TRANSPORTS_FAILED')
}

/** The server's delay hint of a transient failure, in ms. */
export function retryAfterOf(error: unknown): number | undefined {
  if (!isMailError(error)) return undefined
  const hint = error.details.retryAfterMs
  return typeof hint === 'number' ? hint : undefined
}

// Reply codes: 421 service not available, 450/451/452 mailbox busy, local error, storage,
// 454 TLS/auth temporarily unavailable (SES throttling over SMTP), 4xx generally temporary.
const AUTH_CODES = new Set([530, 534, 535, 538])

/** Classifies a nodemailer (SMTP) failure by its reply code or socket error. */
export function smtpFailure(transport: string, err: unknown): MailError {
  const e = err as { responseCode?: number; code?: string; response?: string; message?: string }
  const response = typeof e.response === 'string' ? e.response.slice(0, 300) : undefined
  const status = typeof e.responseCode === 'number' ? e.responseCode : undefined
  const text = response ?? e.message ?? String(err)
  if (status !== undefined && AUTH_CODES.has(status)) {
    return transportError(
      transport,
      'MAIL_AUTH',
      `the server refused the credentials (${text}); check user and password.`,
      { cause: err, status, response },
    )
  }
  if (e.code === 'EAUTH') {
    return transportError(transport, 'MAIL_AUTH', `authentication failed (${text}); check user and password.`, {
      cause: err,
      response,
    })
  }
  if (status !== undefined && status >= 400 && status < 500) {
    return transportError(transport, 'MAIL_UNAVAILABLE', `temporary failure ${text}`, { cause: err, status, response })
  }
  if (status !== undefined && status >= 500) {
    return transportError(transport, 'MAIL_REJECTED', `the server refused the message: ${text}`, {
      cause: err,
      status,
      response,
    })
  }
  const transient =
    e.code === 'ECONNECTION' ||
    e.code === 'ETIMEDOUT' ||
    e.code === 'ESOCKET' ||
    e.code === 'EDNS' ||
    (e.code !== undefined && isNetworkErrorCode(e.code))
  return transportError(transport, transient ? 'MAIL_UNAVAILABLE' : 'MAIL_REJECTED', text, {
    cause: err,
    status: e.code,
    response,
  })
}

/** Classifies an HTTP API failure (an `@beaver-kit/http` error): 401/403 auth, 429/5xx and unreachable temporary, other statuses rejected. */
export function httpFailure(transport: string, err: unknown, describe: (body: string) => string = (b) => b): MailError {
  const f = classifyApiFailure(err)
  const detail = describe(f.body).slice(0, 500)
  const extra = { cause: err, status: f.status, retryAfterMs: f.retryAfterMs }
  if (f.body === '' && typeof f.status !== 'number') {
    return transportError(transport, f.kind === 'temporary' ? 'MAIL_UNAVAILABLE' : 'MAIL_REJECTED', f.message, extra)
  }
  if (f.kind === 'auth') {
    return transportError(
      transport,
      'MAIL_AUTH',
      `the API refused the credentials (${f.status} ${detail}); check the API key.`,
      extra,
    )
  }
  if (f.kind === 'temporary')
    return transportError(transport, 'MAIL_UNAVAILABLE', `temporary failure ${f.status} ${detail}`, extra)
  return transportError(transport, 'MAIL_REJECTED', `the API refused the message (${f.status} ${detail})`, extra)
}
