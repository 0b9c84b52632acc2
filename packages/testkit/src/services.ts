import net from 'node:net'
import { maskUrl } from '@beaver-kit/config'

/** The real services the kit's tests run against. */
export type ServiceName = 'redis' | 'postgres' | 'mariadb' | 'rabbitmq' | 'nats' | 'mqtt'

const DEFAULT_URLS: Record<ServiceName, string> = {
  redis: 'redis://127.0.0.1:6379',
  postgres: 'postgres://postgres@127.0.0.1:5432/test',
  mariadb: 'mysql://root@127.0.0.1:3306/test',
  rabbitmq: 'amqp://guest:guest@127.0.0.1:5672',
  nats: 'nats://127.0.0.1:4222',
  mqtt: 'mqtt://127.0.0.1:1883',
}

const DEFAULT_PORTS: Record<string, number> = {
  'redis:': 6379,
  'postgres:': 5432,
  'postgresql:': 5432,
  'mysql:': 3306,
  'mariadb:': 3306,
  'amqp:': 5672,
  'nats:': 4222,
  'mqtt:': 1883,
}

export function serviceEnvName(name: ServiceName): string {
  return `BEAVER_TEST_${name.toUpperCase()}_URL`
}

/** The service's URL: `BEAVER_TEST_<SERVICE>_URL`, or its loopback default. */
export function serviceUrl(name: ServiceName): string {
  return process.env[serviceEnvName(name)] || DEFAULT_URLS[name]
}

export function isCI(): boolean {
  const ci = process.env.CI
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false'
}

/** Opens and closes one TCP connection to the service's host and port. */
export function probe(url: string, timeoutMs = 2000): Promise<string | undefined> {
  const u = new URL(url)
  const port = Number(u.port) || DEFAULT_PORTS[u.protocol] || 0
  const host = u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1'
  return new Promise((resolve) => {
    const socket = net.connect({ host, port })
    const done = (reason: string | undefined): void => {
      socket.destroy()
      resolve(reason)
    }
    socket.setTimeout(timeoutMs, () => done(`no answer from ${host}:${port} within ${timeoutMs} ms`))
    socket.once('connect', () => done(undefined))
    socket.once('error', (err: NodeJS.ErrnoException) => done(`${host}:${port}: ${err.code ?? err.message}`))
  })
}

const cache = new Map<ServiceName, Promise<string | undefined>>()

/**
 * The URL of a reachable service, or undefined after printing why its suite is skipped.
 * With CI=true an unreachable service throws instead: in CI a missing service is a failure.
 * @example
 * const url = await requireService('redis')
 * describe.runIf(url)('redis driver', () => { ... })
 */
export async function requireService(name: ServiceName): Promise<string | undefined> {
  const url = serviceUrl(name)
  let pending = cache.get(name)
  if (!pending) {
    pending = probe(url)
    cache.set(name, pending)
  }
  const reason = await pending
  if (reason === undefined) return url
  const message = `${name} is not reachable at ${maskUrl(url)} (${reason}). Start it with \`npm run services\`, or point ${serviceEnvName(name)} at a running server.`
  if (isCI()) throw new Error(`CI=true and a required service is missing: ${message}`)
  console.warn(`[testkit] skipping ${name} tests: ${message}`)
  return undefined
}

/** A TCP port free on 127.0.0.1 right now, for a server a test starts (sshd, Prometheus). */
export async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}
