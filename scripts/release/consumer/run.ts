// The runner of the consumer smoke (scripts/release-check.ts): runs the steps named by
// SMOKE_STEPS (default: the given defaults), prints `ok <step>` or `FAIL <step>: <error>` for
// each, then closes every default instance; the process must exit on its own.
import { once } from 'node:events'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { shutdown } from '@beaver-kit/core'

export type Steps = Record<string, () => Promise<void>>

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message)
}

/** A local page server, so the http steps never leave the machine. */
export async function withServer<T>(run: (url: string, seen: IncomingHttpHeaders[]) => Promise<T>): Promise<T> {
  const seen: IncomingHttpHeaders[] = []
  const server = createServer((req, res) => {
    seen.push(req.headers)
    res.end('pong')
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  try {
    return await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, seen)
  } finally {
    server.close()
  }
}

export async function runSteps(steps: Steps, defaults: readonly string[]): Promise<void> {
  const wanted = process.env.SMOKE_STEPS ? process.env.SMOKE_STEPS.split(',').map((s) => s.trim()) : defaults
  let failed = 0
  for (const name of wanted.filter((s) => s in steps)) {
    try {
      await (steps[name] as () => Promise<void>)()
      console.log(`ok ${name}`)
    } catch (error) {
      failed++
      console.log(`FAIL ${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
    }
  }
  await shutdown()
  process.exitCode = failed > 0 ? 1 : 0
}
