import { Readable } from 'node:stream'
import { createHash } from 'node:crypto'
import {
  defineStorageDriver,
  type DriverPut,
  type FileStat,
  type ListPage,
  type StorageDriver,
  type Visibility,
} from '../driver.ts'
import { StorageError } from '../errors.ts'
import { listSorted } from '../listing.ts'

interface Entry {
  bytes: Buffer
  stat: Omit<FileStat, 'path'> & { tags: Record<string, string> }
}

/** Options of the memory driver (`BEAVER_STORAGE_MEMORY_*`). */
export interface MemoryStorageOptions {
  /** Most bytes held; a put that would pass it fails. Default 256 MiB. */
  maxBytes?: number | undefined
}

/**
 * Files in a Map, for tests and throwaway work: the whole conformance suite passes on it, so
 * code tested against memory behaves the same on local or S3. A put commits only once the
 * whole body was read.
 */
export class MemoryDisk implements StorageDriver {
  readonly name = 'memory'
  readonly capabilities = { signedUrls: false, nativeCopy: true, ranges: true, multipart: false, tags: true }
  readonly #files = new Map<string, Entry>()
  readonly #maxBytes: number
  #bytes = 0

  constructor(options: MemoryStorageOptions = {}) {
    this.#maxBytes = options.maxBytes ?? 256 * 1024 * 1024
  }

  async put(key: string, input: DriverPut): Promise<{ size: number; etag: string; multipart: false }> {
    const chunks: Buffer[] = []
    let size = 0
    const room = this.#maxBytes - this.#bytes + (this.#files.get(key)?.bytes.length ?? 0)
    for await (const chunk of input.body as AsyncIterable<Buffer>) {
      input.signal?.throwIfAborted()
      size += chunk.length
      if (size > room) {
        input.body.destroy()
        throw new StorageError(
          'STORAGE_TOO_LARGE',
          `The memory disk is full (maxBytes ${this.#maxBytes}); nothing was stored.`,
          {
            details: { maxBytes: this.#maxBytes },
          },
        )
      }
      chunks.push(chunk)
    }
    const bytes = Buffer.concat(chunks, size)
    const etag = `"${createHash('md5').update(bytes).digest('hex')}"`
    const { metadata, ...rest } = input.attributes
    this.#bytes += size - (this.#files.get(key)?.bytes.length ?? 0)
    const stat = { ...rest, metadata: { ...metadata }, tags: { ...input.tags }, size, etag, lastModified: new Date() }
    this.#files.set(key, { bytes, stat })
    return { size, etag, multipart: false }
  }

  async getStream(key: string, options: { start?: number; end?: number }): Promise<Readable | undefined> {
    const entry = this.#files.get(key)
    if (!entry) return undefined
    const { start = 0, end = entry.bytes.length - 1 } = options
    return Readable.from([entry.bytes.subarray(start, end + 1)], { objectMode: false })
  }

  async stat(key: string): Promise<Omit<FileStat, 'path'> | undefined> {
    const entry = this.#files.get(key)
    return entry && { ...entry.stat, metadata: { ...entry.stat.metadata }, tags: { ...entry.stat.tags } }
  }

  async getTags(key: string): Promise<Record<string, string> | undefined> {
    const entry = this.#files.get(key)
    return entry && { ...entry.stat.tags }
  }

  async setTags(key: string, tags: Readonly<Record<string, string>>): Promise<boolean> {
    const entry = this.#files.get(key)
    if (!entry) return false
    entry.stat = { ...entry.stat, tags: { ...tags } }
    return true
  }

  async delete(key: string): Promise<boolean> {
    const entry = this.#files.get(key)
    if (!entry) return false
    this.#bytes -= entry.bytes.length
    return this.#files.delete(key)
  }

  async list(
    prefix: string,
    options: { recursive: boolean; limit: number; cursor?: string | undefined },
  ): Promise<ListPage> {
    const keys = [...this.#files.keys()].filter((k) => k.startsWith(prefix))
    return listSorted(prefix, keys, options, (k) => {
      const s = this.#files.get(k)!.stat
      return { size: s.size, lastModified: s.lastModified }
    })
  }

  async copy(from: string, to: string): Promise<boolean> {
    const entry = this.#files.get(from)
    if (!entry) return false
    this.#bytes += entry.bytes.length - (this.#files.get(to)?.bytes.length ?? 0)
    this.#files.set(to, {
      bytes: entry.bytes,
      stat: {
        ...entry.stat,
        metadata: { ...entry.stat.metadata },
        tags: { ...entry.stat.tags },
        lastModified: new Date(),
      },
    })
    return true
  }

  async setVisibility(key: string, visibility: Visibility): Promise<boolean> {
    const entry = this.#files.get(key)
    if (!entry) return false
    entry.stat = { ...entry.stat, visibility }
    return true
  }
}

/** The memory driver: `BEAVER_STORAGE_DRIVER=memory`. */
export const memoryDriver = defineStorageDriver<MemoryStorageOptions>({
  name: 'memory',
  section: 'memory',
  create: (options) => new MemoryDisk(options),
})
