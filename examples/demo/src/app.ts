import http from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { onBeforeShutdown, registerForShutdown } from '@beaver-kit/core'
import { resolveConfig, type SchemaOptions } from '@beaver-kit/config'
import { demoSchema } from './config.ts'

export interface App {
  url: string
  server: http.Server
  /** The resolved configuration, secrets masked, one line per setting. */
  description: string
  close(): Promise<void>
}

/**
 * Builds and starts Beaver Links on embedded defaults. Each kit package adds its real use
 * here as it lands.
 */
export async function startApp(options: SchemaOptions<typeof demoSchema> = {}, env?: NodeJS.ProcessEnv): Promise<App> {
  const config = resolveConfig(demoSchema, env ? { options, env } : { options })
  const { host, port } = config.values

  const server = http.createServer(function handleRequest(req, res) {
    const url = new URL(req.url ?? '/', 'http://local')
    if (req.method === 'GET' && url.pathname === '/health') {
      sendJson(res, 200, { status: 'ok', uptimeSeconds: Math.round(process.uptime()) })
      return
    }
    sendJson(res, 404, { error: 'not found' })
  })
  server.listen(port, host)
  await once(server, 'listening')
  const address = server.address() as AddressInfo
  const url = `http://${host}:${address.port}`

  let closed: Promise<void> | undefined
  const close = (): Promise<void> =>
    (closed ??= new Promise<void>((resolve, reject) => {
      server.close((err) => (err ? reject(err) : resolve()))
      server.closeIdleConnections()
    }))
  const removeHook = onBeforeShutdown(close)
  const unregister = registerForShutdown('demo http server', { close })

  return {
    url,
    server,
    description: config.describe(),
    async close() {
      removeHook()
      unregister()
      await close()
    },
  }
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  })
  res.end(text)
}
