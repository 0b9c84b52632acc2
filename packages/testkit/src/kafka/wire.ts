// The primitive types of the Kafka protocol (kafka.apache.org/protocol, "Protocol Primitive
// Types"): big-endian fixed-width integers, int16-length strings, int32-length bytes, int32-count
// arrays, and the zig-zag varints that record batches use inside each record.

/** Reads primitives from a request body; every read checks the bounds (a short frame throws). */
export class WireReader {
  #buf: Buffer
  #pos: number

  constructor(buf: Buffer, pos = 0) {
    this.#buf = buf
    this.#pos = pos
  }

  get offset(): number {
    return this.#pos
  }

  get remaining(): number {
    return this.#buf.length - this.#pos
  }

  #take(n: number): number {
    if (n < 0 || this.#pos + n > this.#buf.length) throw new RangeError(`Kafka frame too short: wanted ${n} bytes`)
    const at = this.#pos
    this.#pos += n
    return at
  }

  int8(): number {
    return this.#buf.readInt8(this.#take(1))
  }

  int16(): number {
    return this.#buf.readInt16BE(this.#take(2))
  }

  int32(): number {
    return this.#buf.readInt32BE(this.#take(4))
  }

  int64(): bigint {
    return this.#buf.readBigInt64BE(this.#take(8))
  }

  /** INT64 as a number (offsets, timestamps: well inside 2^53). */
  long(): number {
    return Number(this.int64())
  }

  nullableString(): string | null {
    const n = this.int16()
    if (n < 0) return null
    const at = this.#take(n)
    return this.#buf.toString('utf8', at, at + n)
  }

  string(): string {
    return this.nullableString() ?? ''
  }

  nullableBytes(): Buffer | null {
    const n = this.int32()
    if (n < 0) return null
    const at = this.#take(n)
    return this.#buf.subarray(at, at + n)
  }

  bytes(): Buffer {
    return this.nullableBytes() ?? Buffer.alloc(0)
  }

  /** ARRAY: an int32 count (-1 is null, read as empty) and that many items. */
  array<T>(item: (r: WireReader) => T): T[] {
    const n = this.int32()
    const out: T[] = []
    for (let i = 0; i < n; i++) out.push(item(this))
    return out
  }

  /** Unsigned LEB128 varint. */
  uvarint(): number {
    let value = 0
    let shift = 0
    for (;;) {
      const b = this.#buf.readUInt8(this.#take(1))
      value += (b & 0x7f) * 2 ** shift
      if ((b & 0x80) === 0) return value
      shift += 7
      if (shift > 63) throw new RangeError('Kafka varint too long')
    }
  }

  /** Zig-zag varint (VARINT and VARLONG of record fields). */
  varint(): number {
    const u = this.uvarint()
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2
  }

  /** A varint-length byte run (-1 is null), as record keys, values and headers are written. */
  varBytes(): Buffer | null {
    const n = this.varint()
    if (n < 0) return null
    const at = this.#take(n)
    return this.#buf.subarray(at, at + n)
  }

  raw(n: number): Buffer {
    const at = this.#take(n)
    return this.#buf.subarray(at, at + n)
  }
}

/** Builds a response body; chunks are joined once at the end. */
export class WireWriter {
  readonly #chunks: Buffer[] = []

  #fixed(n: number, write: (b: Buffer) => void): this {
    const b = Buffer.allocUnsafe(n)
    write(b)
    this.#chunks.push(b)
    return this
  }

  int8(v: number): this {
    return this.#fixed(1, (b) => b.writeInt8(v))
  }

  int16(v: number): this {
    return this.#fixed(2, (b) => b.writeInt16BE(v))
  }

  int32(v: number): this {
    return this.#fixed(4, (b) => b.writeInt32BE(v))
  }

  int64(v: number | bigint): this {
    return this.#fixed(8, (b) => b.writeBigInt64BE(BigInt(v)))
  }

  nullableString(v: string | null): this {
    if (v === null) return this.int16(-1)
    const s = Buffer.from(v, 'utf8')
    return this.int16(s.length).raw(s)
  }

  string(v: string): this {
    return this.nullableString(v)
  }

  nullableBytes(v: Buffer | null): this {
    if (v === null) return this.int32(-1)
    return this.int32(v.length).raw(v)
  }

  array<T>(items: readonly T[], item: (w: WireWriter, v: T) => void): this {
    this.int32(items.length)
    for (const v of items) item(this, v)
    return this
  }

  uvarint(v: number): this {
    const bytes: number[] = []
    let n = v
    while (n >= 0x80) {
      bytes.push((n % 0x80) | 0x80)
      n = Math.floor(n / 0x80)
    }
    bytes.push(n)
    this.#chunks.push(Buffer.from(bytes))
    return this
  }

  varint(v: number): this {
    return this.uvarint(v >= 0 ? v * 2 : -v * 2 - 1)
  }

  varBytes(v: Buffer | null): this {
    if (v === null) return this.varint(-1)
    return this.varint(v.length).raw(v)
  }

  raw(b: Buffer): this {
    this.#chunks.push(b)
    return this
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.#chunks)
  }
}
