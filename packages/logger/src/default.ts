import { defineDefaultInstance } from '@beaver-kit/core'
import { createLogger, type Logger, type LoggerOptions } from './logger.ts'

const def = defineDefaultInstance<Logger, LoggerOptions>('logger', (options) => createLogger(options))

/**
 * The default logger, built on first use from `BEAVER_LOG_*` and closed by core's `shutdown()`.
 * @example
 * import { logger } from '@beaver-kit/logger'
 * logger().info({ port }, 'listening')
 */
export const logger: () => Logger = def.get

/** Configures the default logger before its first use; throws once it exists. */
export const initLogger: (options?: LoggerOptions) => Logger = def.init

/** Closes and forgets the default logger (tests); the next `logger()` builds a new one. */
export const resetLogger: () => Promise<void> = def.reset

/** A logger configured from `<prefix>LOG_*`, e.g. `withPrefix('AUDIT_')` reads `AUDIT_LOG_OUTPUTS`. */
export function withPrefix(prefix: string): Logger {
  return createLogger({ envPrefix: prefix })
}
