import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { probe } from '@beaver-kit/testkit'
import { freePort } from './servers.ts'

/**
 * A private nats-server on a free port, for tests that restart it or need authentication:
 * never the shared one. With `jetstream`, its store lives in a temp directory kept across
 * restarts and removed by `destroy()`.
 */
export class OwnNats {
  readonly port: number
  readonly #args: string[]
  readonly #storeDir: string | undefined
  #proc: ChildProcess | undefined

  constructor(port: number, args: string[], storeDir: string | undefined) {
    this.port = port
    this.#args = args
    this.#storeDir = storeDir
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`
  }

  async start(): Promise<this> {
    const store = this.#storeDir ? ['-js', '-sd', this.#storeDir] : []
    this.#proc = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(this.port), ...store, ...this.#args], {
      stdio: 'ignore',
    })
    const deadline = Date.now() + 15_000
    while ((await probe(this.url, 500)) !== undefined) {
      if (Date.now() > deadline) throw new Error(`nats-server did not listen on ${this.port} within 15 s`)
      await new Promise((r) => setTimeout(r, 50))
    }
    return this
  }

  /** Stops the server (SIGTERM: JetStream flushes its store) and waits for it to exit. */
  async stop(): Promise<void> {
    const proc = this.#proc
    this.#proc = undefined
    if (!proc || proc.exitCode !== null) return
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve())
      proc.kill('SIGTERM')
    })
  }

  async destroy(): Promise<void> {
    await this.stop()
    if (this.#storeDir) await rm(this.#storeDir, { recursive: true, force: true })
  }
}

export async function startOwnNats(options: { jetstream?: boolean; args?: string[] } = {}): Promise<OwnNats> {
  const dir = options.jetstream ? await mkdtemp(path.join(tmpdir(), 'beaver-nats-')) : undefined
  return new OwnNats(await freePort(), options.args ?? [], dir).start()
}
