import { afterEach } from 'vitest'
import { createHttpClient, type HttpClient, type HttpClientOptions } from '../src/index.ts'
import { gate, startServer, type TestServer } from './servers.ts'

/** Registers cleanups run after each test, last first. */
export function useCleanup(): (fn: () => Promise<void> | void) => void {
  const fns: Array<() => Promise<void> | void> = []
  afterEach(async () => {
    for (const fn of fns.splice(0).reverse()) await fn()
  })
  return (fn) => {
    fns.push(fn)
  }
}

/** A server and a client factory that are both cleaned up after each test. */
export function useHarness(): {
  server: (handler: Parameters<typeof startServer>[0]) => Promise<TestServer>
  /** A server whose every answer (`body`) waits until `release()`; released at cleanup too. */
  held: (body?: string) => Promise<TestServer & { release: () => void }>
  client: (options?: HttpClientOptions) => HttpClient
  defer: (fn: () => Promise<void> | void) => void
} {
  const defer = useCleanup()
  const server = async (handler: Parameters<typeof startServer>[0]): Promise<TestServer> => {
    const s = await startServer(handler)
    defer(() => s.close())
    return s
  }
  return {
    defer,
    server,
    held: async (body = 'ok') => {
      const hold = gate()
      defer(() => hold.open())
      const s = await server(async (_req, res) => {
        await hold.wait
        res.end(body)
      })
      return { ...s, release: hold.open }
    },
    client: (options = {}) => {
      const c = createHttpClient({ envPrefix: false, ...options })
      defer(() => c.close())
      return c
    },
  }
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a rejection, got a result')
}
