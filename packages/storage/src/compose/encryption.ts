import { pipeline } from 'node:stream/promises'
import type { Readable } from 'node:stream'
import type { KeyRing } from '@beaver-kit/krypto'
import type { DriverPut, FileStat, StorageDriver } from '../driver.ts'
import { StorageError } from '../errors.ts'
import {
  associated,
  fileKey,
  formatHeader,
  newSalt,
  openStream,
  parseHeader,
  plainSize,
  sealedSize,
  sealStream,
  TAG_BYTES,
  tampered,
} from './segments.ts'
import { DiskWrapper } from './wrapper.ts'

/** Options of the encryption decorator. */
export interface EncryptionOptions {
  /** The krypto key ring: its current key encrypts new files, any of its keys decrypts. */
  keys: KeyRing
  /**
   * Plaintext bytes per authenticated segment (1 KiB to 16 MiB); a range read decrypts only the
   * segments it touches. Default 64 KiB. Keep it for the life of a disk: listings compute
   * plaintext sizes with it (stat() reads each file's own).
   */
  segmentSize?: number | undefined
}

/** The metadata entry that carries the header; hidden from stat(). */
const HEADER = 'beaver-encryption'
const PURPOSE = 'storage:encryption'

/**
 * Client-side encryption of a built disk: the backend only ever sees ciphertext. Files are
 * AES-256-GCM in fixed-size segments under a per-file key from the ring (the key id travels
 * with the file, so rotating the ring keeps old files readable). stat() reports the plaintext
 * size. Copies re-encrypt (the path is authenticated), and signed URLs are the kit's, served
 * through handleSignedRequest() so they decrypt.
 */
class EncryptedDisk extends DiskWrapper {
  readonly #keys: KeyRing
  readonly #segmentSize: number

  constructor(disk: StorageDriver, options: EncryptionOptions) {
    super(disk, 'encrypted', { signedUrls: false, nativeCopy: false })
    const segmentSize = options.segmentSize ?? 64 * 1024
    if (!Number.isInteger(segmentSize) || segmentSize < 1024 || segmentSize > 1 << 24)
      throw new StorageError(
        'STORAGE_OPTIONS_INVALID',
        `The encryption segmentSize is ${segmentSize}; give a whole number of bytes from 1 KiB to 16 MiB.`,
        { details: { segmentSize } },
      )
    this.#keys = options.keys
    this.#segmentSize = segmentSize
  }

  #ringKey(kid: string, key: string): Buffer {
    if (!this.#keys.kids.includes(kid))
      throw tampered(key, `it was encrypted with key ${JSON.stringify(kid)}, which the key ring does not hold`)
    return this.#keys.deriveKey(PURPOSE, { kid })
  }

  override async put(key: string, input: DriverPut): ReturnType<StorageDriver['put']> {
    const header = { kid: this.#keys.currentKid, segmentSize: this.#segmentSize, salt: newSalt() }
    const value = formatHeader(header)
    const sealing = sealStream(
      fileKey(this.#ringKey(header.kid, key), header.salt),
      associated(value, key),
      header.segmentSize,
    )
    pipeline(input.body, sealing).catch(() => undefined)
    const result = await this.disk.put(key, {
      ...input,
      body: sealing,
      size: input.size === undefined ? undefined : sealedSize(input.size, header.segmentSize),
      attributes: { ...input.attributes, metadata: { ...input.attributes.metadata, [HEADER]: value } },
    })
    return { ...result, size: plainSize(result.size, header.segmentSize) }
  }

  override async list(...[prefix, options]: Parameters<DiskWrapper['list']>): ReturnType<DiskWrapper['list']> {
    const page = await this.disk.list(prefix, options)
    return {
      ...page,
      entries: page.entries.map((e) => (e.type === 'file' ? { ...e, size: plainSize(e.size, this.#segmentSize) } : e)),
    }
  }

  override async stat(key: string): Promise<Omit<FileStat, 'path'> | undefined> {
    const stat = await this.disk.stat(key)
    if (!stat) return undefined
    const { [HEADER]: value, ...metadata } = stat.metadata
    if (value === undefined) throw tampered(key, 'it is not encrypted')
    return { ...stat, size: plainSize(stat.size, parseHeader(value, key).segmentSize), metadata }
  }

  override async getStream(
    key: string,
    options: { start?: number; end?: number; signal?: AbortSignal },
  ): Promise<Readable | undefined> {
    const stat = await this.disk.stat(key)
    if (!stat) return undefined
    const value = stat.metadata[HEADER]
    if (value === undefined) throw tampered(key, 'it is not encrypted')
    const header = parseHeader(value, key)
    const segment = header.segmentSize
    const sealedSegment = segment + TAG_BYTES
    const plain = plainSize(stat.size, segment)
    const count = Math.max(1, Math.ceil(stat.size / sealedSegment))
    const start = Math.min(options.start ?? 0, plain)
    const end = Math.min(options.end ?? plain - 1, plain - 1)
    // Only the segments the range touches are read and decrypted (an empty file is one empty segment).
    const first = Math.min(Math.floor(start / segment), count - 1)
    const last = Math.max(first, Math.min(Math.floor(Math.max(end, 0) / segment), count - 1))
    const sealed = await this.disk.getStream(key, {
      ...options,
      start: first * sealedSegment,
      end: Math.min((last + 1) * sealedSegment, stat.size) - 1,
    })
    if (!sealed) return undefined
    const opening = openStream(
      key,
      fileKey(this.#ringKey(header.kid, key), header.salt),
      associated(value, key),
      segment,
      {
        first,
        count,
        skip: start - first * segment,
        length: Math.max(0, end - start + 1),
      },
    )
    pipeline(sealed, opening).catch(() => undefined)
    return opening
  }
}

/**
 * Wraps a built disk so files are encrypted before they leave the process.
 * @example createStorage({ driver: encrypted(s3, { keys: createKeyRing(process.env.FILE_KEYS!) }) })
 */
export function encrypted(disk: StorageDriver, options: EncryptionOptions): StorageDriver {
  return new EncryptedDisk(disk, options)
}
