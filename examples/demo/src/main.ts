// `npm start`: Beaver Links on embedded defaults, no environment needed.
import { installShutdownSignals } from '@beaver-kit/core'
import { isConfigError } from '@beaver-kit/config'
import { startApp } from './app.ts'

try {
  const app = await startApp()
  console.log(`Beaver Links configuration:\n${app.description}`)
  console.log(`Beaver Links listening on ${app.url} (GET /health)`)
  installShutdownSignals()
} catch (err) {
  if (isConfigError(err)) {
    console.error(err.message)
    process.exit(1)
  }
  throw err
}
