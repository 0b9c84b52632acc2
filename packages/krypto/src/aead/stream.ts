// Segmented AEAD ("STREAM", as in Tink and age): a per-stream key from a random salt, a nonce
// made of the segment counter and a last-segment flag, and the header bound as associated data.
// Header: version 0x02, kid length, kid, segment size (uint32 BE), salt (16 bytes); then each
// segment's ciphertext and tag.
import { randomBytes } from 'node:crypto'
import { Transform, type TransformCallback } from 'node:stream'
import { KryptoError, invalidArgument } from '../errors.ts'
import { hkdf } from '../hkdf.ts'
import { NONCE, TAG, aesGcmDecrypt, aesGcmEncrypt, associatedBytes, toBytes, type CipherOptions } from './gcm.ts'

/** Options of `encryptStream`. */
export interface StreamOptions extends CipherOptions {
  /** Plaintext bytes per authenticated segment: 16 B to 1 MiB. Default 64 KiB. */
  segmentSize?: number
}

const STREAM_VERSION = 0x02
const SALT = 16
/**
 * The largest segment either side accepts. The decrypter buffers one whole segment before it
 * can authenticate it, and the size comes from a header nobody has authenticated yet, so it is
 * bounded: a hostile header cannot make it hold gigabytes.
 */
export const MAX_SEGMENT_SIZE = 1024 * 1024
const KID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/
const EMPTY = Buffer.alloc(0)

function segmentNonce(index: bigint, last: boolean): Buffer {
  const nonce = Buffer.alloc(NONCE)
  nonce.writeBigUInt64BE(index, 3)
  nonce[11] = last ? 1 : 0
  return nonce
}

function streamKey(key: Buffer, salt: Buffer): Buffer {
  return hkdf(key, { salt, info: 'beaver-kit/krypto:stream:v1', length: 32 })
}

function streamAad(header: Buffer, associated: Buffer | undefined): Buffer {
  return associated === undefined ? header : Buffer.concat([header, associated])
}

/**
 * Chunks as they arrived, taken from the front without re-concatenating what stays behind, so
 * buffering is linear in the bytes received however the input is chunked.
 */
class ChunkQueue {
  #chunks: Buffer[] = []
  #head = 0
  length = 0

  push(chunk: Buffer): void {
    if (chunk.length === 0) return
    this.#chunks.push(chunk)
    this.length += chunk.length
  }

  /** The byte at `index` from the front (index < length). */
  at(index: number): number {
    let i = index
    for (let c = this.#head; c < this.#chunks.length; c++) {
      const chunk = this.#chunks[c] as Buffer
      if (i < chunk.length) return chunk[i] as number
      i -= chunk.length
    }
    throw new RangeError('ChunkQueue.at past the end')
  }

  /** Removes and returns the first `n` bytes (n <= length). */
  take(n: number): Buffer {
    const parts: Buffer[] = []
    let left = n
    while (left > 0) {
      const chunk = this.#chunks[this.#head] as Buffer
      if (chunk.length <= left) {
        parts.push(chunk)
        left -= chunk.length
        this.#chunks[this.#head++] = EMPTY
      } else {
        parts.push(chunk.subarray(0, left))
        this.#chunks[this.#head] = chunk.subarray(left)
        left = 0
      }
    }
    if (this.#head > 64 && this.#head * 2 > this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#head)
      this.#head = 0
    }
    this.length -= n
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, n)
  }
}

/** @internal The Transform behind `KeyRing.encryptStream`. */
export function createEncryptStream(kid: string, key: Buffer, options: StreamOptions): Transform {
  const segmentSize = options.segmentSize ?? 64 * 1024
  if (!Number.isInteger(segmentSize) || segmentSize < 16 || segmentSize > MAX_SEGMENT_SIZE)
    throw invalidArgument(`segmentSize must be an integer from 16 to ${MAX_SEGMENT_SIZE} (1 MiB), got ${segmentSize}`)
  const associated = associatedBytes(options.associatedData)
  const salt = randomBytes(SALT)
  const kidBytes = Buffer.from(kid, 'latin1')
  const size = Buffer.alloc(4)
  size.writeUInt32BE(segmentSize)
  const header = Buffer.concat([Buffer.from([STREAM_VERSION, kidBytes.length]), kidBytes, size, salt])
  const aad = streamAad(header, associated)
  const sk = streamKey(key, salt)
  const pending = new ChunkQueue()
  let index = 0n
  let headerSent = false
  const sealSegment = (chunk: Buffer, last: boolean): Buffer => {
    const { ciphertext, tag } = aesGcmEncrypt(sk, segmentNonce(index++, last), chunk, aad)
    return Buffer.concat([ciphertext, tag])
  }
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      if (!headerSent) {
        this.push(header)
        headerSent = true
      }
      pending.push(toBytes(chunk))
      // Strictly more than one segment: the last segment is sealed with its flag in flush().
      while (pending.length > segmentSize) this.push(sealSegment(pending.take(segmentSize), false))
      done()
    },
    flush(done: TransformCallback) {
      if (!headerSent) this.push(header)
      this.push(sealSegment(pending.take(pending.length), true))
      done()
    },
  })
}

/** @internal The Transform behind `KeyRing.decryptStream`. */
export function createDecryptStream(keyFor: (kid: string) => Buffer, options: CipherOptions): Transform {
  const associated = associatedBytes(options.associatedData)
  const buffered = new ChunkQueue()
  let sk: Buffer | undefined
  let aad: Buffer | undefined
  let segment = 0
  let index = 0n
  const open = (data: Buffer, last: boolean): Buffer => {
    if (data.length < TAG) throw new KryptoError('KRYPTO_TAMPERED', 'The encrypted stream is truncated')
    return aesGcmDecrypt(
      sk as Buffer,
      segmentNonce(index++, last),
      data.subarray(0, data.length - TAG),
      data.subarray(data.length - TAG),
      aad,
    )
  }
  function readHeader(): boolean {
    if (buffered.length < 2) return false
    if (buffered.at(0) !== STREAM_VERSION)
      throw new KryptoError('KRYPTO_ENVELOPE_MALFORMED', 'Not a krypto encrypted stream (version byte 0x02 expected)')
    const kidLen = buffered.at(1)
    const headerLen = 2 + kidLen + 4 + SALT
    if (buffered.length < headerLen) return false
    const header = buffered.take(headerLen)
    const kid = header.toString('latin1', 2, 2 + kidLen)
    if (!KID_PATTERN.test(kid))
      throw new KryptoError('KRYPTO_ENVELOPE_MALFORMED', 'The encrypted stream has a malformed key id')
    segment = header.readUInt32BE(2 + kidLen)
    // Checked before any buffering: the header is not authenticated until the first segment is.
    if (segment < 16 || segment > MAX_SEGMENT_SIZE) {
      throw new KryptoError(
        'KRYPTO_ENVELOPE_MALFORMED',
        `The encrypted stream declares segments of ${segment} bytes; 16 to ${MAX_SEGMENT_SIZE} are accepted`,
      )
    }
    aad = streamAad(header, associated)
    sk = streamKey(keyFor(kid), header.subarray(headerLen - SALT))
    return true
  }
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      try {
        buffered.push(toBytes(chunk))
        if (!sk && !readHeader()) return done()
        // Keep back at least one whole segment: only flush() knows which one is the last.
        while (buffered.length > segment + TAG) this.push(open(buffered.take(segment + TAG), false))
        done()
      } catch (err) {
        done(err as Error)
      }
    },
    flush(done: TransformCallback) {
      try {
        if (!sk) throw new KryptoError('KRYPTO_ENVELOPE_MALFORMED', 'The encrypted stream ended before its header')
        this.push(open(buffered.take(buffered.length), true))
        done()
      } catch (err) {
        done(err as Error)
      }
    },
  })
}
