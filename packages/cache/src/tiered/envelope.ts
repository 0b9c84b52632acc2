import { CacheError } from '../errors.ts'

/**
 * What a tiered cache stores in each tier: the facade's serialized value plus the metadata
 * grace and tags need. Tiers that keep values by reference (memory) hold this object as it
 * is; the others hold {@link encodeEnvelope}'s bytes.
 */
export interface Envelope {
  /** The serialized value (empty = a negative entry, "known missing"). */
  readonly payload: Uint8Array
  /** ms since epoch until which the entry is fresh; Infinity when it never expires. */
  readonly freshUntil: number
  /** ms since epoch until which a stale entry may still be served (grace); >= freshUntil. */
  readonly staleUntil: number
  /** When it was written (ms since epoch, sub-ms precision), compared with tag invalidations. */
  readonly createdAt: number
  /** Tags given at write time. */
  readonly tags: readonly string[]
  /**
   * A counter written by increment() in the bottom tier (a plain decimal, no envelope): fresh
   * while it exists there, never copied up, its TTL the bottom tier's.
   */
  readonly counter?: boolean
}

const MAGIC = 0xb7
const VERSION = 1
const HEADER = 2 + 8 * 3 + 2
const encoder = new TextEncoder()
const NO_TAGS: readonly string[] = Object.freeze([])
const decoder = new TextDecoder()

/**
 * The stored byte format (documented so another language can read it): `0xB7, 0x01`, then
 * freshUntil, staleUntil and createdAt as big-endian float64 ms since epoch (Infinity for
 * none), a big-endian uint16 tag count, each tag as uint16 length + UTF-8, then the payload.
 */
export function encodeEnvelope(e: Envelope): Uint8Array {
  const payload = e.payload
  if (e.tags.length === 0) {
    // The common case, as a Buffer from the pool: a small Uint8Array's `.buffer` (for a
    // DataView) copies it off the heap first, and the Redis driver takes a Buffer as it is.
    const out = Buffer.allocUnsafe(HEADER + payload.byteLength)
    out[0] = MAGIC
    out[1] = VERSION
    out.writeDoubleBE(e.freshUntil, 2)
    out.writeDoubleBE(e.staleUntil, 10)
    out.writeDoubleBE(e.createdAt, 18)
    out.writeUInt16BE(0, 26)
    out.set(payload, HEADER)
    return out
  }
  const tags = e.tags.map((t) => encoder.encode(t))
  let size = HEADER + payload.byteLength
  for (const t of tags) size += 2 + t.byteLength
  const out = new Uint8Array(size)
  const view = new DataView(out.buffer)
  out[0] = MAGIC
  out[1] = VERSION
  view.setFloat64(2, e.freshUntil)
  view.setFloat64(10, e.staleUntil)
  view.setFloat64(18, e.createdAt)
  view.setUint16(26, tags.length)
  let at = HEADER
  for (const t of tags) {
    view.setUint16(at, t.byteLength)
    out.set(t, at + 2)
    at += 2 + t.byteLength
  }
  out.set(payload, at)
  return out
}

/** Reads {@link encodeEnvelope}'s bytes; a foreign value is a `CACHE_DESERIALIZE` error. */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  if (bytes.byteLength < HEADER || bytes[0] !== MAGIC || bytes[1] !== VERSION) {
    throw new CacheError(
      'CACHE_DESERIALIZE',
      `A tier holds a value that is not a tiered-cache entry (${bytes.byteLength} bytes without the 0xB7 0x01 header); was the key written by another program?`,
    )
  }
  if (Buffer.isBuffer(bytes) && bytes.readUInt16BE(26) === 0) {
    // What Redis answers (a Buffer) without tags, the common case: no DataView, no tag array.
    return {
      freshUntil: bytes.readDoubleBE(2),
      staleUntil: bytes.readDoubleBE(10),
      createdAt: bytes.readDoubleBE(18),
      tags: NO_TAGS,
      payload: bytes.subarray(HEADER),
    }
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const count = view.getUint16(26)
  const tags: string[] = []
  let at = HEADER
  for (let i = 0; i < count; i++) {
    const len = view.getUint16(at)
    tags.push(decoder.decode(bytes.subarray(at + 2, at + 2 + len)))
    at += 2 + len
  }
  return {
    freshUntil: view.getFloat64(2),
    staleUntil: view.getFloat64(10),
    createdAt: view.getFloat64(18),
    tags,
    payload: bytes.subarray(at),
  }
}

/** A clock with sub-millisecond resolution, so a write right after an invalidation is newer than it. */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now()
}
