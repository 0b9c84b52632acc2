// The second process of the OTLP tests: a node:http server wrapped in traceRequests that reads
// the SQLite database and the memory cache for each request, and a consumer of a SQLite queue.
// It exports its spans over OTLP/HTTP JSON to the receiver named in OTEL_EXPORTER_OTLP_ENDPOINT
// (configured by env alone), and prints its port once listening.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createCache } from '@beaver-kit/cache'
import { createDatabase } from '@beaver-kit/database'
import { createQueue } from '@beaver-kit/queue'
import { initTracing, traceRequests } from '@beaver-kit/tracing'
import { shutdown } from '@beaver-kit/core'

const env = process.env as Record<string, string>
initTracing()
const cache = createCache({ driver: 'memory', envPrefix: false })
const db = createDatabase({ url: env.DOWNSTREAM_DB_URL as string, envPrefix: false })
await db.exec('CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, email TEXT)')
await db.execute('INSERT OR REPLACE INTO users (id, email) VALUES (?, ?)', [7, 'secret@example.com'])
const queue = createQueue({
  driver: 'sqlite',
  envPrefix: false,
  db: { url: env.DOWNSTREAM_QUEUE_URL as string },
  pollInterval: '50ms',
})
await queue.consume('orders', async () => {
  await cache.get('order-seen')
})

const server = createServer(
  traceRequests(
    async (req, res) => {
      await cache.get('user:7')
      const result = await db.query('SELECT email FROM users WHERE id = ?', [7])
      res.end(JSON.stringify({ rows: result.rows.length }))
    },
    { route: () => '/users/:id' },
  ),
)
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`)
})
process.on('SIGTERM', () => {
  server.close()
  void Promise.all([queue.close(), db.close(), cache.close()])
    .then(() => shutdown())
    .then(() => process.exit(0))
})
