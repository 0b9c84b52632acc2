import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import { probe } from '@beaver-kit/testkit'

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

async function waitForPort(port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while ((await probe(`redis://127.0.0.1:${port}`, 500)) !== undefined) {
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port} after ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** A private redis-server for restart and configuration tests: never the shared one. */
export class OwnRedis {
  readonly port: number
  readonly args: string[]
  #proc: ChildProcess | undefined

  constructor(port: number, args: string[]) {
    this.port = port
    this.args = args
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }

  async start(): Promise<this> {
    this.#proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', ...this.args], {
      stdio: 'ignore',
    })
    await waitForPort(this.port)
    return this
  }

  /** Stops the server (SIGTERM: an AOF-backed server keeps its data) and waits for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const proc = this.#proc
    this.#proc = undefined
    if (!proc || proc.exitCode !== null) return
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve())
      proc.kill(signal)
    })
  }
}

/** Starts a private redis-server on a free port. */
export async function startOwnRedis(args: string[] = []): Promise<OwnRedis> {
  return new OwnRedis(await freePort(), ['--save', '', '--appendonly', 'no', ...args]).start()
}
