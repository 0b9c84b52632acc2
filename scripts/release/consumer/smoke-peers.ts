// The steps of the release check that need an optional peer installed (kysely,
// @opentelemetry/api); the drivers chosen by environment alone (ioredis, pg, mysql2, ...) reuse
// smoke.ts with BEAVER_* set. Run by scripts/release-check.ts with the lowest and the newest
// version of each peer its range accepts.
import { AsyncLocalStorage } from 'node:async_hooks'
import type { Context, ContextManager } from '@opentelemetry/api'
import { assert, runSteps, withServer, type Steps } from './run.ts'

/** Registers an AsyncLocalStorage context manager with the OpenTelemetry api and returns a span to run in. */
async function otelSpan(): Promise<<T>(fn: () => Promise<T>) => Promise<T>> {
  const api = await import('@opentelemetry/api')
  const storage = new AsyncLocalStorage<Context>()
  const manager: ContextManager = {
    active: () => storage.getStore() ?? api.ROOT_CONTEXT,
    with: (context, fn, thisArg, ...args) => storage.run(context, () => fn.call(thisArg, ...args)),
    bind: (_context, target) => target,
    enable() {
      return this
    },
    disable() {
      return this
    },
  }
  api.context.setGlobalContextManager(manager)
  const span = api.trace.wrapSpanContext({
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: 1,
  })
  return (fn) => api.context.with(api.trace.setSpan(api.ROOT_CONTEXT, span), fn)
}

const steps: Steps = {
  async 'database-kysely'() {
    const { db } = await import('@beaver-kit/database')
    const { createKysely } = await import('@beaver-kit/database/kysely')
    // Statements through the kit's dialect, connection and driver: the introspector's, and a
    // query in a transaction (begin, query, commit) on the default SQLite database.
    const k = createKysely<{ sqlite_master: { name: string; type: string } }>(db())
    const tables = await k.introspection.getTables()
    assert(Array.isArray(tables), `getTables() returned ${JSON.stringify(tables)}`)
    const rows = await k.transaction().execute((trx) => trx.selectFrom('sqlite_master').select('name').execute())
    assert(Array.isArray(rows), `a select in a transaction returned ${JSON.stringify(rows)}`)
  },
  async 'logger-otel'() {
    const inSpan = await otelSpan()
    const { createLogger } = await import('@beaver-kit/logger')
    const lines: string[] = []
    const log = createLogger({
      envPrefix: false,
      otel: true,
      outputs: [],
      sinks: [{ write: (l: string) => void lines.push(l), format: 'json' }],
    })
    await inSpan(async () => log.info('inside a span'))
    await log.close()
    assert(lines.join('').includes('0af7651916cd43dd8448eb211c80319c'), `no trace_id in ${lines.join('')}`)
  },
  async 'http-otel'() {
    const inSpan = await otelSpan()
    const { createHttpClient } = await import('@beaver-kit/http')
    const client = createHttpClient({ envPrefix: false })
    try {
      const seen = await withServer(async (url, headers) => {
        await inSpan(() => client.get(url).text())
        return headers
      })
      const parent = String(seen[0]?.traceparent)
      assert(parent.includes('0af7651916cd43dd8448eb211c80319c'), `traceparent sent: ${parent}`)
    } finally {
      await client.close()
    }
  },
}

await runSteps(steps, [])
