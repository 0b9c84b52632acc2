// The stored format of the encryption decorator: the plaintext cut into fixed-size segments,
// each sealed with AES-256-GCM under a per-file key. A segment's nonce holds its index and a
// final flag, so dropping, reordering or truncating segments fails authentication; the header
// (kept as metadata) and the file's path are the associated data, so a file cannot be swapped
// to another path or given another header. Segment i starts at byte i x (segmentSize + 16).
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'
import { Transform, type TransformCallback } from 'node:stream'
import { StorageError } from '../errors.ts'

export const TAG_BYTES = 16
const VERSION = 'v1'

/** What the metadata entry holds: the key id, the segment size and the file's salt. */
export interface SegmentHeader {
  kid: string
  segmentSize: number
  salt: Buffer
}

export function formatHeader(header: SegmentHeader): string {
  return `${VERSION}.${header.kid}.${header.segmentSize}.${header.salt.toString('base64url')}`
}

export function parseHeader(value: string, key: string): SegmentHeader {
  const [version, kid, size, salt] = value.split('.')
  const segmentSize = Number(size)
  if (
    version !== VERSION ||
    !kid ||
    !Number.isInteger(segmentSize) ||
    segmentSize < 1024 ||
    segmentSize > 1 << 24 ||
    !salt
  )
    throw tampered(key, 'its encryption header is malformed')
  return { kid, segmentSize, salt: Buffer.from(salt, 'base64url') }
}

export function tampered(key: string, why: string, cause?: unknown): StorageError {
  return new StorageError('STORAGE_TAMPERED', `The encrypted file ${JSON.stringify(key)} cannot be read: ${why}.`, {
    ...(cause === undefined ? {} : { cause }),
    details: { path: key },
  })
}

/** Stored bytes for a plaintext length: every segment, the last one possibly empty, carries a tag. */
export function sealedSize(plain: number, segmentSize: number): number {
  return plain + TAG_BYTES * Math.max(1, Math.ceil(plain / segmentSize))
}

/** The plaintext length of stored bytes. */
export function plainSize(sealed: number, segmentSize: number): number {
  return sealed - TAG_BYTES * Math.ceil(sealed / (segmentSize + TAG_BYTES))
}

/** The per-file key: HKDF of the ring's storage key with the file's salt. */
export function fileKey(ringKey: Buffer, salt: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', ringKey, salt, 'beaver-kit/storage:segments:v1', 32))
}

function nonce(index: number, final: boolean): Buffer {
  const n = Buffer.alloc(12)
  n.writeBigUInt64BE(BigInt(index), 3)
  n[11] = final ? 1 : 0
  return n
}

/** Associated data of every segment: the header and the path. */
export function associated(header: string, key: string): Buffer {
  return Buffer.from(`${header}\n${key}`, 'utf8')
}

function seal(key: Buffer, aad: Buffer, index: number, final: boolean, plain: Buffer): Buffer {
  const cipher = createCipheriv('aes-256-gcm', key, nonce(index, final))
  cipher.setAAD(aad)
  return Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()])
}

function open(key: Buffer, aad: Buffer, index: number, final: boolean, sealed: Buffer): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, nonce(index, final))
  decipher.setAAD(aad)
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES))
  return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()])
}

/** Gathers chunks into pieces of exactly `size` bytes, keeping at least one back for flush. */
class Pieces {
  #held: Buffer[] = []
  #bytes = 0
  readonly size: number
  constructor(size: number) {
    this.size = size
  }
  add(chunk: Buffer): void {
    this.#held.push(chunk)
    this.#bytes += chunk.length
  }
  /** Whole pieces, while strictly more than one piece is held (the last one waits for the end). */
  *full(): Generator<Buffer> {
    while (this.#bytes > this.size) {
      const all = Buffer.concat(this.#held, this.#bytes)
      yield all.subarray(0, this.size)
      this.#held = [all.subarray(this.size)]
      this.#bytes -= this.size
    }
  }
  rest(): Buffer {
    return Buffer.concat(this.#held, this.#bytes)
  }
}

/** Encrypts a plaintext stream into segments. */
export function sealStream(key: Buffer, aad: Buffer, segmentSize: number): Transform {
  const pieces = new Pieces(segmentSize)
  let index = 0
  return new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      pieces.add(chunk)
      for (const piece of pieces.full()) this.push(seal(key, aad, index++, false, piece))
      done()
    },
    flush(done: TransformCallback) {
      this.push(seal(key, aad, index++, true, pieces.rest()))
      done()
    },
  })
}

/**
 * Decrypts segments `first`.. of a file of `count` segments (the one numbered count - 1 is
 * final), then keeps plaintext bytes skip..skip+length-1 of what they hold.
 */
export function openStream(
  path: string,
  key: Buffer,
  aad: Buffer,
  segmentSize: number,
  range: { first: number; count: number; skip: number; length: number },
): Transform {
  const pieces = new Pieces(segmentSize + TAG_BYTES)
  let index = range.first
  let skip = range.skip
  let left = range.length
  const emit = (stream: Transform, sealed: Buffer): void => {
    if (index >= range.count) throw tampered(path, 'it is longer than its size says')
    let plain: Buffer
    try {
      plain = open(key, aad, index, index === range.count - 1, sealed)
    } catch (err) {
      throw tampered(
        path,
        `segment ${index} failed authentication (altered, reordered, truncated, or another key)`,
        err,
      )
    }
    index++
    const start = Math.min(skip, plain.length)
    skip -= start
    const part = plain.subarray(start, start + left)
    left -= part.length
    if (part.length > 0) stream.push(part)
  }
  return new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      try {
        pieces.add(chunk)
        for (const piece of pieces.full()) emit(this, piece)
        done()
      } catch (err) {
        done(err as Error)
      }
    },
    flush(done: TransformCallback) {
      try {
        emit(this, pieces.rest())
        if (left > 0) throw tampered(path, 'it ended early')
        done()
      } catch (err) {
        done(err as Error)
      }
    },
  })
}

export function newSalt(): Buffer {
  return randomBytes(16)
}
