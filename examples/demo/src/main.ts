// `npm start`: Beaver Links on embedded defaults (SQLite file under ./data, memory cache), no
// environment needed. BEAVER_DB_URL / BEAVER_CACHE_DRIVER / BEAVER_LOG_* move it to real servers.
import { installShutdownSignals, isBeaverError } from '@beaver-kit/core'
import { resolveConfig, type Schema } from '@beaver-kit/config'
import { cacheSchema } from '@beaver-kit/cache'
import { dbSchema } from '@beaver-kit/database'
import { httpSchema } from '@beaver-kit/http'
import { logger, logSchema } from '@beaver-kit/logger'
import { startApp } from './app.ts'

const log = logger().for('demo')
try {
  const app = await startApp()
  // Every package's resolved settings with their source, secrets masked.
  const schemas: Schema[] = [dbSchema, cacheSchema, httpSchema, logSchema]
  const described = schemas.map((s) => resolveConfig(s, { unknown: 'ignore' }).describe())
  log.info(`Beaver Links configuration:\n${[app.description, ...described].join('\n')}`)
  log.info({ url: app.url }, `Beaver Links listening on ${app.url} (GET /health, POST /links {"url": ...}, GET /:code)`)
  installShutdownSignals()
} catch (err) {
  // A configuration error names every bad variable: print it plainly, not as a stack trace.
  if (isBeaverError(err)) {
    log.fatal({ code: err.code }, err.message)
    await logger().close()
    process.exit(1)
  }
  throw err
}
