// A single-node Kafka-protocol broker for tests: a TCP server speaking the binary protocol of
// kafka.apache.org/protocol (size-prefixed frames, request header v1, response header v0),
// answering the requests in ./apis.ts over in-memory logs (./log.ts) and a group coordinator
// (./groups.ts). What it covers and leaves out: see the testkit README, "Kafka broker".
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { apis, unsupportedApiVersions, type BrokerState } from './apis.ts'
import { GroupCoordinator } from './groups.ts'
import { TopicStore } from './log.ts'
import { decodeRecords, splitBatches, type KafkaRecord } from './record-batch.ts'
import { WireReader, WireWriter } from './wire.ts'

export interface KafkaBrokerOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number
  host?: string
  /** Create a topic a Metadata request names, as Kafka's `auto.create.topics.enable` (default true). */
  autoCreateTopics?: boolean
  /** Partitions of an auto-created topic or of CreateTopics with -1 (`num.partitions`, default 1). */
  defaultPartitions?: number
  /** Largest request frame accepted (`socket.request.max.bytes`, default 100 MiB); a larger one closes the connection. */
  maxRequestBytes?: number
}

const API_VERSIONS = 18

export class KafkaBroker {
  readonly #server: Server
  readonly #sockets = new Set<Socket>()
  readonly #topics = new TopicStore()
  readonly #groups = new GroupCoordinator()
  readonly #options: Required<KafkaBrokerOptions>
  readonly #closing = new AbortController()
  #advertised: { host: string; port: number } | undefined
  #producerIds = 1000
  /** Requests answered, by API name (lets a test see what a client really used). */
  readonly requests = new Map<string, number>()

  constructor(options: KafkaBrokerOptions = {}) {
    this.#options = {
      port: options.port ?? 0,
      host: options.host ?? '127.0.0.1',
      autoCreateTopics: options.autoCreateTopics ?? true,
      defaultPartitions: options.defaultPartitions ?? 1,
      maxRequestBytes: options.maxRequestBytes ?? 100 * 1024 * 1024,
    }
    this.#server = createServer((socket) => this.#serve(socket))
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(this.#options.port, this.#options.host, () => resolve())
    })
    return this
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port
  }

  /** `host:port`, the bootstrap address for a client's `brokers` list. */
  get address(): string {
    return `${this.#options.host}:${this.port}`
  }

  /** Tells clients (Metadata, FindCoordinator) to connect somewhere else, e.g. a fault proxy in front. */
  advertise(host: string, port: number): void {
    this.#advertised = { host, port }
  }

  /** Creates a topic as CreateTopics would; false when it exists. */
  createTopic(name: string, partitions = this.#options.defaultPartitions): boolean {
    return this.#topics.create(name, partitions) === 0
  }

  topicNames(): string[] {
    return this.#topics.names()
  }

  /** Every record of an uncompressed topic-partition, for assertions. */
  records(topic: string, partition = 0): KafkaRecord[] {
    const log = this.#topics.partition(topic, partition)
    if (!log) return []
    return splitBatches(log.read(0, Number.MAX_SAFE_INTEGER).records).flatMap(decodeRecords)
  }

  /** Offset of the next record of a topic-partition. */
  endOffset(topic: string, partition = 0): number {
    return this.#topics.partition(topic, partition)?.endOffset ?? -1
  }

  /** Resets every client connection (a crashed broker, as the client sees it); the broker keeps its data. */
  dropConnections(): void {
    for (const s of this.#sockets) s.resetAndDestroy()
  }

  #state(): BrokerState {
    return {
      topics: this.#topics,
      groups: this.#groups,
      nodeId: 1,
      advertised: () => this.#advertised ?? { host: this.#options.host, port: this.port },
      autoCreateTopics: this.#options.autoCreateTopics,
      defaultPartitions: this.#options.defaultPartitions,
      nextProducerId: () => this.#producerIds++,
      waitForData: (ms, watch) => {
        const signal = this.#closing.signal
        return new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer)
            stop()
            signal.removeEventListener('abort', done)
            resolve()
          }
          const timer = setTimeout(done, ms)
          const stop = watch(done)
          signal.addEventListener('abort', done)
        })
      },
    }
  }

  #serve(socket: Socket): void {
    this.#sockets.add(socket)
    socket.setNoDelay(true)
    let pending = Buffer.alloc(0)
    // One request at a time per connection, answered in order, as Kafka does.
    let queue = Promise.resolve()
    const state = this.#state()
    const clientHost = `/${socket.remoteAddress ?? ''}`
    socket.on('data', (chunk) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
      while (pending.length >= 4) {
        const size = pending.readInt32BE(0)
        if (size < 8 || size > this.#options.maxRequestBytes) {
          socket.destroy()
          return
        }
        if (pending.length < 4 + size) break
        const frame = pending.subarray(4, 4 + size)
        pending = pending.subarray(4 + size)
        queue = queue.then(() => this.#answer(socket, frame, state, clientHost))
      }
    })
    socket.on('error', () => socket.destroy())
    socket.on('close', () => this.#sockets.delete(socket))
  }

  async #answer(socket: Socket, frame: Buffer, state: BrokerState, clientHost: string): Promise<void> {
    if (socket.destroyed) return
    let body: WireWriter | undefined
    let correlationId: number
    try {
      const r = new WireReader(frame)
      const apiKey = r.int16()
      const version = r.int16()
      correlationId = r.int32()
      const clientId = r.nullableString() ?? ''
      const api = apis[apiKey]
      if (apiKey === API_VERSIONS && api && version > api.maxVersion) body = unsupportedApiVersions()
      else if (!api || version < api.minVersion || version > api.maxVersion) {
        // Kafka closes the connection on a request it cannot parse.
        socket.destroy()
        return
      } else {
        this.requests.set(api.name, (this.requests.get(api.name) ?? 0) + 1)
        body = await api.handle(r, { version, clientId, clientHost, state })
      }
    } catch {
      socket.destroy()
      return
    }
    if (body === undefined || socket.destroyed) return
    const payload = body.toBuffer()
    const head = new WireWriter()
      .int32(payload.length + 4)
      .int32(correlationId)
      .toBuffer()
    socket.write(Buffer.concat([head, payload]))
  }

  async close(): Promise<void> {
    this.#closing.abort()
    this.#groups.close()
    for (const s of this.#sockets) s.destroy()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

/**
 * Starts a broker on a free port.
 * @example const broker = await startKafkaBroker(); new Kafka({ brokers: [broker.address] })
 */
export function startKafkaBroker(options: KafkaBrokerOptions = {}): Promise<KafkaBroker> {
  return new KafkaBroker(options).listen()
}
