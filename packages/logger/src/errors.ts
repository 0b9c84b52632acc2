import { BeaverError, errorGuard } from '@beaver-kit/core'

/** Error codes of `@beaver-kit/logger`. */
export type LoggerErrorCode =
  | 'LOG_LEVEL_INVALID'
  | 'LOG_LEVELS_INVALID'
  | 'LOG_OUTPUT_INVALID'
  | 'LOG_OUTPUT_OPEN_FAILED'
  | 'LOG_OUTPUT_UNREACHABLE'
  | 'LOG_REDACT_INVALID'
  | 'LOG_CLOSE_TIMEOUT'
  | 'LOG_CLOSE_FAILED'
  | 'LOG_CLOSED'

/** Every error the logger throws: a `LOG_*` code, the input at fault in `details`, the fix in the message. */
export class LoggerError extends BeaverError<LoggerErrorCode> {}

/** True for a logger error (by brand, so it survives duplicate installs), optionally of the given codes. */
export const isLoggerError = errorGuard<LoggerErrorCode, LoggerError>('LOG_')
