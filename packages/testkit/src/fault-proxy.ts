import net from 'node:net'

export interface FaultProxyOptions {
  /** Where the real service listens. */
  target: { host: string; port: number }
  /** Local port for the proxy; 0 picks a free one. */
  port?: number
  /** How long `accept()` retries to bind the port again when another process took it. Default 5 s. */
  rebindTimeoutMs?: number
}

type Direction = 'up' | 'down'

interface Pipe {
  client: net.Socket
  server: net.Socket
  /** Bytes sent towards the client so far. */
  downBytes: number
}

/**
 * A TCP proxy to put between a client and a real service, with faults switched on and off
 * at run time: latency, a bandwidth cap, blackholing (drop), closing or resetting
 * connections (also after N bytes, mid-stream), refusing new connections, and pausing.
 * @example
 * const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: 6379 } })
 * const redis = new Redis(proxy.port); proxy.resetAll()
 */
export class FaultProxy {
  readonly target: { host: string; port: number }
  #server: net.Server
  #pipes = new Set<Pipe>()
  #port = 0
  #rebindTimeoutMs: number
  #latencyMs = 0
  #bytesPerSecond = 0
  #drop = false
  #paused = false
  #refusing = false
  #closeAfterBytes: number | undefined
  #pausedQueue: Array<() => void> = []
  /** Connections accepted since start. */
  connections = 0
  /** Bytes discarded while dropping (lets a test wait until a write really hit the partition). */
  droppedBytes = 0
  /** Bytes clients sent towards the target (grows with every statement or command sent through the proxy). */
  bytesFromClients = 0

  constructor(options: FaultProxyOptions) {
    this.target = options.target
    this.#port = options.port ?? 0
    this.#rebindTimeoutMs = options.rebindTimeoutMs ?? 5000
    this.#server = net.createServer((client) => this.#accept(client))
  }

  get port(): number {
    return this.#port
  }

  /** `host:port` of the proxy. */
  get address(): string {
    return `127.0.0.1:${this.#port}`
  }

  /** Rewrites a service URL to go through the proxy. */
  url(serviceUrl: string): string {
    const u = new URL(serviceUrl)
    u.hostname = '127.0.0.1'
    u.port = String(this.#port)
    return u.toString()
  }

  async listen(): Promise<this> {
    await listenOn(this.#server, this.#port)
    this.#port = (this.#server.address() as net.AddressInfo).port
    return this
  }

  /** Delay every chunk, in both directions, by `ms` (order is kept). */
  setLatency(ms: number): void {
    this.#latencyMs = ms
  }

  /** Cap throughput per direction; 0 removes the cap. */
  setBandwidth(bytesPerSecond: number): void {
    this.#bytesPerSecond = bytesPerSecond
  }

  /** Silently discard all traffic while on (a network partition): sockets stay open. */
  setDrop(on: boolean): void {
    this.#drop = on
  }

  /** Hold all traffic while paused; `resume()` delivers it in order. */
  pause(): void {
    this.#paused = true
  }

  resume(): void {
    this.#paused = false
    for (const send of this.#pausedQueue.splice(0)) send()
  }

  /** Close every connection after `bytes` more bytes went towards the client (mid-stream). */
  closeAfter(bytes: number | undefined): void {
    this.#closeAfterBytes = bytes
    for (const pipe of this.#pipes) pipe.downBytes = 0
  }

  /**
   * Refuse new connections (stop listening, so clients get ECONNREFUSED) until `accept()`;
   * open ones are untouched.
   */
  async refuse(): Promise<void> {
    this.#refusing = true
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  /**
   * Listens again on the same port. The port was free while refusing, so another process may
   * have taken it: the bind is retried for a while, then fails naming the port.
   */
  async accept(): Promise<void> {
    if (!this.#refusing) return
    this.#server = net.createServer((client) => this.#accept(client))
    const deadline = Date.now() + this.#rebindTimeoutMs
    for (;;) {
      try {
        await listenOn(this.#server, this.#port)
        break
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || Date.now() >= deadline) {
          throw new Error(
            `FaultProxy.accept(): port ${this.#port} was taken by another process while the proxy refused connections (${(err as Error).message}); a test cannot accept() again on it`,
            { cause: err },
          )
        }
        await delay(50)
      }
    }
    this.#refusing = false
  }

  /** Close every open connection with a FIN. */
  closeAll(): void {
    for (const pipe of this.#pipes) {
      pipe.client.end()
      pipe.server.end()
      pipe.client.destroySoon()
      pipe.server.destroySoon()
    }
  }

  /** Reset every open connection (TCP RST), as a crashed peer or a middlebox would. */
  resetAll(): void {
    for (const pipe of this.#pipes) {
      pipe.client.resetAndDestroy()
      pipe.server.resetAndDestroy()
    }
  }

  get openConnections(): number {
    return this.#pipes.size
  }

  /** Clears every fault. */
  heal(): void {
    this.#latencyMs = 0
    this.#bytesPerSecond = 0
    this.#drop = false
    this.#closeAfterBytes = undefined
    this.resume()
  }

  async close(): Promise<void> {
    this.resetAll()
    if (this.#refusing) return
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  #accept(client: net.Socket): void {
    this.connections++
    const server = net.connect(this.target)
    const pipe: Pipe = { client, server, downBytes: 0 }
    this.#pipes.add(pipe)
    const cleanup = (): void => {
      this.#pipes.delete(pipe)
      client.destroy()
      server.destroy()
    }
    client.on('error', cleanup).on('close', cleanup)
    server.on('error', cleanup).on('close', cleanup)
    client.on('data', (chunk: Buffer) => this.#forward(pipe, 'up', chunk))
    server.on('data', (chunk: Buffer) => this.#forward(pipe, 'down', chunk))
  }

  #chains = new WeakMap<Pipe, Record<Direction, Promise<void>>>()

  #forward(pipe: Pipe, direction: Direction, chunk: Buffer): void {
    if (direction === 'up') this.bytesFromClients += chunk.length
    if (this.#drop) {
      this.droppedBytes += chunk.length
      return
    }
    const destination = direction === 'up' ? pipe.server : pipe.client
    let data = chunk
    if (direction === 'down' && this.#closeAfterBytes !== undefined) {
      const room = this.#closeAfterBytes - pipe.downBytes
      if (room <= 0) return
      if (data.length >= room) {
        data = data.subarray(0, room)
        pipe.downBytes += data.length
        this.#deliver(pipe, direction, destination, data)
        const chains = this.#chains.get(pipe)
        void (chains?.[direction] ?? Promise.resolve()).then(() => {
          pipe.client.resetAndDestroy()
          pipe.server.destroy()
        })
        return
      }
      pipe.downBytes += data.length
    }
    this.#deliver(pipe, direction, destination, data)
  }

  #deliver(pipe: Pipe, direction: Direction, destination: net.Socket, data: Buffer): void {
    const latency = this.#latencyMs
    const bandwidth = this.#bytesPerSecond
    const write = (): void => {
      if (!destination.destroyed) destination.write(data)
    }
    if (latency === 0 && bandwidth === 0 && !this.#paused && !this.#chains.has(pipe)) {
      write()
      return
    }
    const chains = this.#chains.get(pipe) ?? { up: Promise.resolve(), down: Promise.resolve() }
    this.#chains.set(pipe, chains)
    const due = Date.now() + latency
    chains[direction] = chains[direction].then(async () => {
      const wait = due - Date.now()
      if (wait > 0) await delay(wait)
      if (this.#paused) await new Promise<void>((resolve) => this.#pausedQueue.push(resolve))
      // The cap holds a chunk back for as long as its bytes take at that rate, then sends it.
      if (bandwidth > 0) await delay((data.length / bandwidth) * 1000)
      write()
    })
  }
}

function listenOn(server: net.Server, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Starts a fault proxy in front of `target` on a free local port. */
export function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  return new FaultProxy(options).listen()
}
