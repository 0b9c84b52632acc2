import type http from 'node:http'
import { once } from 'node:events'
import { ConfigError } from '@beaver-kit/config'

/** Listens, or fails with an error naming the setting to change when the port is taken. */
export async function listen(server: http.Server, host: string, port: number): Promise<void> {
  server.listen(port, host)
  try {
    await once(server, 'listening')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'EADDRINUSE' && code !== 'EACCES' && code !== 'EADDRNOTAVAIL') throw err
    const why = {
      EADDRINUSE: 'is in use by another process',
      EACCES: 'needs privileges',
      EADDRNOTAVAIL: 'is not an address of this machine',
    }
    const setting = code === 'EADDRNOTAVAIL' ? 'BEAVER_DEMO_HOST' : 'BEAVER_DEMO_PORT'
    throw new ConfigError('demo', [
      {
        name: setting,
        found: setting === 'BEAVER_DEMO_HOST' ? host : String(port),
        expected: `a ${setting === 'BEAVER_DEMO_HOST' ? 'host' : 'port'} to listen on: ${host}:${port} ${why[code]} (set ${setting}; port 0 picks a free one)`,
      },
    ])
  }
}
