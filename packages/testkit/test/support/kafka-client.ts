// A bare Kafka-protocol client for the broker's tests: frames requests (header v1) and reads
// responses by correlation id, so each test states the bytes a real client would send.
import { connect, type Socket } from 'node:net'
import { afterAll, afterEach } from 'vitest'
import { startKafkaBroker, type KafkaBroker, type KafkaBrokerOptions } from '../../src/kafka.ts'
import { WireReader, WireWriter } from '../../src/kafka/wire.ts'

export class RawKafkaClient {
  readonly #socket: Socket
  readonly #waiting = new Map<number, (r: WireReader) => void>()
  #next = 1
  #pending = Buffer.alloc(0)
  readonly closed: Promise<void>

  constructor(socket: Socket) {
    this.#socket = socket
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()))
    socket.on('error', () => undefined)
    socket.on('data', (chunk) => {
      this.#pending = Buffer.concat([this.#pending, chunk])
      while (this.#pending.length >= 4 && this.#pending.length >= 4 + this.#pending.readInt32BE(0)) {
        const size = this.#pending.readInt32BE(0)
        const r = new WireReader(this.#pending.subarray(4, 4 + size))
        this.#pending = this.#pending.subarray(4 + size)
        const id = r.int32()
        this.#waiting.get(id)?.(r)
        this.#waiting.delete(id)
      }
    })
  }

  static open(port: number): Promise<RawKafkaClient> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new RawKafkaClient(s)))
      s.once('error', reject)
    })
  }

  /** Sends a request; resolves its response body (never, for a request that gets none). */
  request(apiKey: number, version: number, body: (w: WireWriter) => void = () => undefined): Promise<WireReader> {
    const id = this.#next++
    const w = new WireWriter().int16(apiKey).int16(version).int32(id).nullableString('raw-test')
    body(w)
    const frame = w.toBuffer()
    const response = new Promise<WireReader>((resolve) => this.#waiting.set(id, resolve))
    this.#socket.write(Buffer.concat([new WireWriter().int32(frame.length).toBuffer(), frame]))
    return response
  }

  writeRaw(bytes: Buffer): void {
    this.#socket.write(bytes)
  }

  close(): void {
    this.#socket.destroy()
  }
}

/** Produce v3 of one record set to one partition; resolves [error, baseOffset]. */
export async function produce(
  c: RawKafkaClient,
  topic: string,
  partition: number,
  records: Buffer,
  options: { acks?: number; transactionalId?: string } = {},
): Promise<[number, number]> {
  const r = await c.request(0, 3, (w) =>
    w
      .nullableString(options.transactionalId ?? null)
      .int16(options.acks ?? -1)
      .int32(1000)
      .array([topic], (tw, t) => tw.string(t).array([partition], (pw, p) => pw.int32(p).nullableBytes(records))),
  )
  const [result] = r.array((t) => {
    t.string()
    return t.array((p) => {
      p.int32()
      const error = p.int16()
      const base = p.long()
      p.long()
      return [error, base] as [number, number]
    })[0] as [number, number]
  })
  return result as [number, number]
}

/** Fetch v4 of one partition; resolves its error, high watermark and record bytes. */
export async function fetchPartition(
  c: RawKafkaClient,
  topic: string,
  partition: number,
  offset: number,
  maxWaitMs = 0,
): Promise<{ error: number; highWatermark: number; records: Buffer }> {
  const r = await c.request(1, 4, (w) =>
    w
      .int32(-1)
      .int32(maxWaitMs)
      .int32(1)
      .int32(1024 * 1024)
      .int8(0)
      .array([topic], (tw, t) =>
        tw.string(t).array([partition], (pw, p) =>
          pw
            .int32(p)
            .int64(offset)
            .int32(1024 * 1024),
        ),
      ),
  )
  r.int32()
  const [result] = r.array((t) => {
    t.string()
    return t.array((p) => {
      p.int32()
      const error = p.int16()
      const highWatermark = p.long()
      p.long()
      p.array((a) => [a.long(), a.long()])
      return { error, highWatermark, records: p.bytes() }
    })[0] as { error: number; highWatermark: number; records: Buffer }
  })
  return result as { error: number; highWatermark: number; records: Buffer }
}

export async function createTopic(
  c: RawKafkaClient,
  name: string,
  partitions: number,
  replication = 1,
): Promise<number> {
  const r = await c.request(19, 0, (w) =>
    w
      .array([name], (tw, n) =>
        tw
          .string(n)
          .int32(partitions)
          .int16(replication)
          .array([], () => undefined)
          .array([], () => undefined),
      )
      .int32(1000),
  )
  return r.array((t) => (t.string(), t.int16()))[0] as number
}

/** A broker for the test file (closed after it) and raw clients to it (closed after each test). */
export async function brokerWithClients(
  options: KafkaBrokerOptions = {},
): Promise<{ broker: KafkaBroker; client: () => Promise<RawKafkaClient> }> {
  const broker = await startKafkaBroker(options)
  afterAll(async () => {
    await broker.close()
  })
  const clients: RawKafkaClient[] = []
  afterEach(() => {
    for (const c of clients.splice(0)) c.close()
  })
  const client = async (): Promise<RawKafkaClient> => {
    const c = await RawKafkaClient.open(broker.port)
    clients.push(c)
    return c
  }
  return { broker, client }
}
