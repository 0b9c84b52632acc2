import { BeaverError, errorGuard } from '@beaver-kit/core'

/** Every code a SchedulerError can carry; stable, so callers may switch on them. */
export type SchedulerErrorCode =
  | 'SCHEDULER_STORE_UNKNOWN'
  | 'SCHEDULER_STORE_NAME_INVALID'
  | 'SCHEDULER_STORE_UNAVAILABLE'
  | 'SCHEDULER_CLOSED'
  | 'SCHEDULER_CRON_INVALID'
  | 'SCHEDULER_TIMEZONE_INVALID'
  | 'SCHEDULER_OPTIONS_INVALID'
  | 'SCHEDULER_DUPLICATE'
  | 'SCHEDULER_NOT_FOUND'
  | 'SCHEDULER_TIMEOUT'
  | 'SCHEDULER_LEASE_LOST'
  | 'SCHEDULER_SHUTDOWN'

/** The one error class of @beaver-kit/scheduler. */
export class SchedulerError extends BeaverError<SchedulerErrorCode> {}

/** True for a SchedulerError (by brand, so it works across duplicate installs), optionally of the given codes. */
export const isSchedulerError = errorGuard<SchedulerErrorCode, SchedulerError>('SCHEDULER_')

/** The text kept in history for a failed run: name, code and message, bounded. */
export function describeError(error: unknown): string {
  let text: string
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    text = `${error.name}${typeof code === 'string' ? ` [${code}]` : ''}: ${error.message}`
  } else {
    text = String(error)
  }
  return text.length > 2000 ? `${text.slice(0, 2000)}…` : text
}
