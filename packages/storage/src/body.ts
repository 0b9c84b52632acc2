import { createHash, type Hash } from 'node:crypto'
import { Readable, Transform, type TransformCallback } from 'node:stream'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import { crc32 } from 'node:zlib'
import { StorageError } from './errors.ts'

/** What put() accepts. Strings are stored as UTF-8. */
export type Body = string | Uint8Array | ArrayBuffer | Readable | ReadableStream<Uint8Array> | Blob

/** An expected checksum of the whole body (hex or base64); the upload fails and stores nothing on a mismatch. */
export interface Checksum {
  algorithm: 'sha256' | 'md5' | 'crc32'
  value: string
}

/**
 * A body already whole in memory (a string or bytes given to put()): a stream like any other
 * for drivers and decorators that stream, whose bytes a driver may also take at once with
 * takeBytes() (one write instead of a stream). A decorator that transforms the body hands
 * its driver another stream, so only untransformed bytes can ever be taken.
 */
export class BufferedBody extends Readable {
  #bytes: Buffer | undefined
  #onConsume: ((bytes: number) => void) | undefined

  constructor(bytes: Buffer) {
    super()
    this.#bytes = bytes
  }

  /** The bytes, still held (checksums before anything is sent). */
  get bytes(): Buffer | undefined {
    return this.#bytes
  }

  /** Called once with the length when the bytes are read or taken (put()'s onProgress). */
  onConsume(callback: ((bytes: number) => void) | undefined): void {
    this.#onConsume = callback
  }

  /** The bytes, once: undefined when the stream was read from, taken or destroyed. */
  claim(): Buffer | undefined {
    const bytes = this.#bytes
    if (bytes === undefined || this.destroyed || this.readableDidRead) return undefined
    this.#bytes = undefined
    this.#onConsume?.(bytes.length)
    return bytes
  }

  override _read(): void {
    const bytes = this.#bytes
    this.#bytes = undefined
    if (bytes !== undefined) {
      this.#onConsume?.(bytes.length)
      if (bytes.length > 0) this.push(bytes)
    }
    this.push(null)
  }
}

/** The whole body at once when it was given whole and nothing read it yet; else undefined (stream it). */
export function takeBytes(body: Readable): Buffer | undefined {
  return body instanceof BufferedBody ? body.claim() : undefined
}

/** The body as a Node stream, and its length when it can be known without reading it. */
export function toReadable(path: string, body: Body): { stream: Readable; size: number | undefined } {
  if (typeof body === 'string') {
    const bytes = Buffer.from(body, 'utf8')
    return { stream: new BufferedBody(bytes), size: bytes.length }
  }
  if (body instanceof Uint8Array)
    return {
      stream: new BufferedBody(Buffer.from(body.buffer, body.byteOffset, body.byteLength)),
      size: body.byteLength,
    }
  if (body instanceof ArrayBuffer) return { stream: new BufferedBody(Buffer.from(body)), size: body.byteLength }
  if (body instanceof Readable) return { stream: body, size: undefined }
  if (typeof Blob !== 'undefined' && body instanceof Blob)
    return { stream: Readable.fromWeb(body.stream() as WebReadableStream<Uint8Array>), size: body.size }
  if (typeof (body as { getReader?: unknown } | null)?.getReader === 'function')
    return { stream: Readable.fromWeb(body as WebReadableStream<Uint8Array>), size: undefined }
  throw new StorageError(
    'STORAGE_BODY_INVALID',
    `put(${JSON.stringify(path)}) got a ${body === null ? 'null' : typeof body} body; give a string, bytes, a Blob, a Node Readable or a web ReadableStream.`,
    { details: { path } },
  )
}

function decode(value: string, bytes: number): Buffer | undefined {
  if (new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`).test(value)) return Buffer.from(value, 'hex')
  const b = Buffer.from(value, 'base64')
  return b.length === bytes ? b : undefined
}

const DIGEST_BYTES = { sha256: 32, md5: 16, crc32: 4 } as const

/**
 * A pass-through that fails the stream (so the driver commits nothing) when more than
 * `maxBytes` flow through it or when the checksum of the whole body differs, and reports
 * progress. A mismatch fails the stream in flush, before 'end': a driver commits only on end,
 * so it never commits a body that failed.
 */
export function guardBody(
  path: string,
  options: { maxBytes: number; checksum?: Checksum | undefined; onProgress?: ((bytes: number) => void) | undefined },
): Transform {
  const { maxBytes, checksum, onProgress } = options
  let seen = 0
  let hash: Hash | undefined
  let crc = 0
  const expected = checksum && expectedDigest(path, checksum)
  if (checksum && checksum.algorithm !== 'crc32') hash = createHash(checksum.algorithm)
  return new Transform({
    transform(chunk: Buffer, _enc, callback: TransformCallback) {
      seen += chunk.length
      if (seen > maxBytes) {
        callback(
          new StorageError(
            'STORAGE_TOO_LARGE',
            `The body of ${JSON.stringify(path)} is larger than ${maxBytes} bytes (maxFileSize); nothing was stored.`,
            {
              details: { path, maxBytes },
            },
          ),
        )
        return
      }
      if (hash) hash.update(chunk)
      else if (checksum) crc = crc32(chunk, crc)
      onProgress?.(seen)
      callback(null, chunk)
    },
    flush(callback: TransformCallback) {
      if (checksum && expected) {
        const actual = hash ? hash.digest() : crcBytes(crc)
        if (!actual.equals(expected)) {
          callback(mismatch(path, checksum, actual))
          return
        }
      }
      callback()
    },
  })
}

function expectedDigest(path: string, checksum: Checksum): Buffer {
  const expected = decode(checksum.value, DIGEST_BYTES[checksum.algorithm])
  if (!expected)
    throw new StorageError(
      'STORAGE_OPTIONS_INVALID',
      `The ${checksum.algorithm} checksum given for ${JSON.stringify(path)} is neither hex nor base64 of ${DIGEST_BYTES[checksum.algorithm]} bytes.`,
      { details: { path, algorithm: checksum.algorithm } },
    )
  return expected
}

const crcBytes = (crc: number): Buffer => Buffer.from([crc >>> 24, (crc >>> 16) & 255, (crc >>> 8) & 255, crc & 255])

function mismatch(path: string, checksum: Checksum, actual: Buffer): StorageError {
  return new StorageError(
    'STORAGE_CHECKSUM_MISMATCH',
    `The body of ${JSON.stringify(path)} does not match the ${checksum.algorithm} checksum given (got ${actual.toString('hex')}); nothing was stored.`,
    { details: { path, algorithm: checksum.algorithm, actual: actual.toString('hex') } },
  )
}

/** Checks a whole body held in memory against its checksum at once (what guardBody does while streaming). */
export function checkDigest(path: string, checksum: Checksum, bytes: Buffer): void {
  const expected = expectedDigest(path, checksum)
  const actual =
    checksum.algorithm === 'crc32' ? crcBytes(crc32(bytes)) : createHash(checksum.algorithm).update(bytes).digest()
  if (!actual.equals(expected)) throw mismatch(path, checksum, actual)
}

/** The error of a file read whole that is larger than maxReadSize. */
export function tooLargeToRead(path: string, maxBytes: number): StorageError {
  return new StorageError(
    'STORAGE_TOO_LARGE',
    `${JSON.stringify(path)} is larger than ${maxBytes} bytes (maxReadSize); read it with getStream() instead.`,
    { details: { path, maxBytes } },
  )
}

/** Reads a stream into one buffer, failing past `maxBytes`. */
export async function readAll(path: string, stream: Readable, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let total = 0
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    total += chunk.length
    if (total > maxBytes) {
      stream.destroy()
      throw tooLargeToRead(path, maxBytes)
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks, total)
}
