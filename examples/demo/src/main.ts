import { installShutdownSignals, isBeaverError } from '@beaver-kit/core'
import { formatDescription, isConfigError, validateConfiguration } from '@beaver-kit/config'
import { cache } from '@beaver-kit/cache'
import { db } from '@beaver-kit/database'
import { logger } from '@beaver-kit/logger'
import { mailerSchema } from '@beaver-kit/mail'
import { queueSchema } from '@beaver-kit/queue'
import { startApp, type App } from './app.ts'
import { demoSchema } from './config.ts'

export interface MainOptions {
  /** Where plain text goes (the table, a configuration error); default the process's streams. */
  stdout?: { write(text: string): unknown; isTTY?: boolean }
  stderr?: { write(text: string): unknown }
  /** Ends the process; default process.exit. */
  exit?: (code: number) => void
  /** Wire SIGINT/SIGTERM to a logged, draining shutdown. Default true. */
  signals?: boolean
}

/**
 * Starts Beaver Links the way `npm start` does (src/start.ts): checks every package's settings
 * at once, starts the app, logs what it runs with, and wires the signals. Returns the app, or
 * undefined after `exit(1)` when it could not start.
 */
export async function main(options: MainOptions = {}): Promise<App | undefined> {
  const { stdout = process.stdout, stderr = process.stderr, exit = (code) => process.exit(code) } = options
  // Every package's settings checked at once, before anything starts: a mistake in three
  // packages is three lines, not one per attempt. Creating an instance does no I/O.
  try {
    validateConfiguration({
      demo: demoSchema,
      logger: () => logger(),
      database: () => db(),
      cache: () => cache(),
      mail: mailerSchema,
      queue: queueSchema,
    })
  } catch (err) {
    if (!isConfigError(err)) throw err
    stderr.write(`${err.message}\n`)
    exit(1)
    return undefined
  }

  const log = logger().for('demo')
  if (options.signals !== false) {
    // Registered before installShutdownSignals' own handler, so the reason is logged first.
    for (const signal of ['SIGINT', 'SIGTERM'] as const)
      process.once(signal, () => log.info({ signal }, 'shutting down'))
    installShutdownSignals({ onError: (err) => log.error({ err }, 'shutdown failed') })
  }

  let app: App
  try {
    app = await startApp()
  } catch (err) {
    // A port in use, or a server that cannot be reached while starting: said plainly.
    if (!isBeaverError(err)) throw err
    if (isConfigError(err)) stderr.write(`${err.message}\n`)
    else log.fatal({ err }, `could not start: ${err.message}`)
    await logger().flush()
    exit(1)
    return undefined
  }
  const described = app.describe()
  // One object per instance as structured fields; on a terminal, also as an aligned table.
  log.info({ configuration: described }, 'configuration')
  if (stdout.isTTY) {
    await logger().flush()
    stdout.write(`${formatDescription(described)}\n`)
  }
  const endpoints = app.endpoints.map((e) => `${e.methods.join(',')} ${e.path}`)
  log.info({ url: app.url, endpoints }, `Beaver Links listening on ${app.url}`)
  if (app.cacheState === 'degraded') log.warn('started without the cache: links are served from the database')
  return app
}
