// Record batches, magic 2 (kafka.apache.org/documentation/#recordbatch): the unit a producer
// sends and a fetch returns. The broker keeps batches as the producer wrote them and only
// rewrites the base offset (outside the CRC); the record decoder and encoder serve the tests
// and tools that look inside.
import { WireReader, WireWriter } from './wire.ts'

const CASTAGNOLI = 0x82f63b78
const TABLE = new Uint32Array(256)
for (let i = 0; i < 256; i++) {
  let c = i
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ CASTAGNOLI : c >>> 1
  TABLE[i] = c >>> 0
}

/** CRC-32C (Castagnoli), the checksum of a record batch from its attributes to its end. */
export function crc32c(buf: Buffer): number {
  let crc = 0xffffffff
  for (const byte of buf) crc = (TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}

/** Bytes of a batch before its records: baseOffset through the record count. */
export const BATCH_HEADER_SIZE = 61
/** Where the CRC-covered part starts (the attributes field). */
const CRC_START = 21
const CRC_AT = 17
const MAGIC_AT = 16

export interface BatchHeader {
  baseOffset: number
  /** Bytes of the whole batch (the batchLength field plus the 12 bytes before it). */
  size: number
  magic: number
  crc: number
  attributes: number
  lastOffsetDelta: number
  baseTimestamp: number
  maxTimestamp: number
  producerId: number
  producerEpoch: number
  baseSequence: number
  recordCount: number
}

/** Reads the fixed header of the batch at `at`; throws on a short or foreign (magic != 2) batch. */
export function readBatchHeader(buf: Buffer, at = 0): BatchHeader {
  const r = new WireReader(buf, at)
  const baseOffset = r.long()
  const length = r.int32()
  r.int32() // partitionLeaderEpoch
  const magic = r.int8()
  if (magic !== 2) throw new RangeError(`record batch magic ${magic}: only magic 2 is supported`)
  const crc = r.int32() >>> 0
  const header: BatchHeader = {
    baseOffset,
    size: length + 12,
    magic,
    crc,
    attributes: r.int16(),
    lastOffsetDelta: r.int32(),
    baseTimestamp: r.long(),
    maxTimestamp: r.long(),
    producerId: r.long(),
    producerEpoch: r.int16(),
    baseSequence: r.int32(),
    recordCount: r.int32(),
  }
  if (at + header.size > buf.length) throw new RangeError('record batch longer than its frame')
  return header
}

/** Whether the stored CRC matches the bytes it covers. */
export function batchCrcValid(batch: Buffer): boolean {
  return readBatchHeader(batch).crc === crc32c(batch.subarray(CRC_START))
}

/** Splits a produce request's record set into its batches (each a view of the input). */
export function splitBatches(records: Buffer): Buffer[] {
  const out: Buffer[] = []
  let at = 0
  while (at < records.length) {
    const { size } = readBatchHeader(records, at)
    out.push(records.subarray(at, at + size))
    at += size
  }
  return out
}

/** A copy of a batch with its base offset set (the CRC does not cover it). */
export function withBaseOffset(batch: Buffer, baseOffset: number): Buffer {
  const copy = Buffer.from(batch)
  copy.writeBigInt64BE(BigInt(baseOffset), 0)
  return copy
}

export interface KafkaRecord {
  offset: number
  timestamp: number
  key: Buffer | null
  value: Buffer | null
  headers: Array<{ key: string; value: Buffer | null }>
}

/** The records of an uncompressed batch (compression is the client's business; the broker never needs it). */
export function decodeRecords(batch: Buffer): KafkaRecord[] {
  const h = readBatchHeader(batch)
  if ((h.attributes & 0x07) !== 0) throw new RangeError('decodeRecords reads uncompressed batches only')
  const r = new WireReader(batch.subarray(0, h.size), BATCH_HEADER_SIZE)
  const out: KafkaRecord[] = []
  for (let i = 0; i < h.recordCount; i++) {
    r.varint() // length
    r.int8() // attributes
    const timestamp = h.baseTimestamp + r.varint()
    const offset = h.baseOffset + r.varint()
    const key = r.varBytes()
    const value = r.varBytes()
    const headers: KafkaRecord['headers'] = []
    const count = r.varint()
    for (let k = 0; k < count; k++)
      headers.push({ key: (r.varBytes() ?? Buffer.alloc(0)).toString('utf8'), value: r.varBytes() })
    out.push({ offset, timestamp, key, value, headers })
  }
  return out
}

export interface BatchToEncode {
  baseOffset?: number
  producerId?: number
  producerEpoch?: number
  baseSequence?: number
  records: ReadonlyArray<Omit<KafkaRecord, 'offset'>>
}

/** Encodes an uncompressed batch with CreateTime timestamps and a valid CRC. */
export function encodeBatch(batch: BatchToEncode): Buffer {
  const first = batch.records[0]?.timestamp ?? 0
  const max = Math.max(first, ...batch.records.map((x) => x.timestamp))
  const body = new WireWriter()
  body
    .int16(0)
    .int32(batch.records.length - 1)
    .int64(first)
    .int64(max)
    .int64(batch.producerId ?? -1)
    .int16(batch.producerEpoch ?? -1)
    .int32(batch.baseSequence ?? -1)
    .int32(batch.records.length)
  batch.records.forEach((rec, i) => {
    const w = new WireWriter()
      .int8(0)
      .varint(rec.timestamp - first)
      .varint(i)
      .varBytes(rec.key)
      .varBytes(rec.value)
    w.varint(rec.headers.length)
    for (const hd of rec.headers) w.varBytes(Buffer.from(hd.key, 'utf8')).varBytes(hd.value)
    const encoded = w.toBuffer()
    body.varint(encoded.length).raw(encoded)
  })
  const covered = body.toBuffer()
  const head = Buffer.alloc(CRC_START)
  head.writeBigInt64BE(BigInt(batch.baseOffset ?? 0), 0)
  head.writeInt32BE(covered.length + CRC_START - 12, 8)
  head.writeInt32BE(0, 12)
  head.writeInt8(2, MAGIC_AT)
  head.writeUInt32BE(crc32c(covered), CRC_AT)
  return Buffer.concat([head, covered])
}
