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

/**
 * Configures the default logger before its first use; throws once it exists.
 * @example
 * initLogger({ name: 'links', outputs: ['stdout', 'file:/var/log/links.log?level=warn'] })
 */
export const initLogger: (options?: LoggerOptions) => Logger = def.init

/** Closes and forgets the default logger (tests); the next `logger()` builds a new one. */
export const resetLogger: () => Promise<void> = def.reset

/**
 * A new logger (not the default) configured from `<prefix>LOG_*` instead of `BEAVER_LOG_*`;
 * `options` beat that environment.
 * @example
 * const audit = withPrefix('AUDIT_', { name: 'audit' }) // AUDIT_LOG_OUTPUTS=file:/var/log/audit.log
 */
export const withPrefix: (prefix: string, options?: Omit<LoggerOptions, 'envPrefix'>) => Logger = def.withPrefix
