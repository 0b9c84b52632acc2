import { fork, type ChildProcess } from 'node:child_process'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import net from 'node:net'

export interface TestServer {
  url: string
  port: number
  /** Requests received, in order. */
  requests: http.IncomingMessage[]
  close(): Promise<void>
}

/** A real node:http server on a free loopback port; `handler` decides how it (mis)behaves. */
export async function startServer(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, n: number) => unknown,
): Promise<TestServer> {
  const requests: http.IncomingMessage[] = []
  const server = http.createServer((req, res) => {
    requests.push(req)
    const n = requests.length
    // Read the request body before answering, so that the body is available to the test.
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      ;(req as IncomingWithBody).bodyText = Buffer.concat(chunks).toString('utf8')
      void Promise.resolve(handler(req, res, n)).catch((err: unknown) => {
        res.destroy(err as Error)
      })
    })
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

export type IncomingWithBody = http.IncomingMessage & { bodyText?: string }

/** The text body a request carried. */
export function bodyOf(req: http.IncomingMessage | undefined): string | undefined {
  return (req as IncomingWithBody | undefined)?.bodyText
}

/** A gate that holds responses until the test opens it. */
export function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void
  const wait = new Promise<void>((resolve) => (open = resolve))
  return { wait, open }
}

/**
 * A port whose connections never complete: a child process listens with a backlog of 1 and
 * then blocks its event loop, so the kernel's accept queue fills up and further SYNs are
 * dropped. This is what a slow or black-holed connect looks like, on loopback.
 */
export async function startBlackhole(): Promise<{ port: number; close: () => Promise<void> }> {
  const child: ChildProcess = fork(new URL('./blackhole-child.ts', import.meta.url), [], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  })
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve(m as number))
    child.once('error', reject)
  })
  // Fill the accept queue with connections nobody accepts.
  const fillers: net.Socket[] = []
  for (let i = 0; i < 8; i++) fillers.push(net.connect(port, '127.0.0.1').on('error', () => undefined))
  return {
    port,
    close: async () => {
      for (const s of fillers) s.destroy()
      child.kill('SIGKILL')
      if (child.exitCode === null && child.signalCode === null)
        await new Promise((resolve) => child.once('exit', resolve))
    },
  }
}
