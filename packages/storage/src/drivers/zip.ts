import { PassThrough, Transform, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { importPeer } from '@beaver-kit/core'
import type * as yauzl from 'yauzl'
import type { Entry, ZipFile } from 'yauzl'
import {
  defineStorageDriver,
  type DriverPut,
  type FileStat,
  type ListPage,
  type StorageDriver,
  type StorageDriverContext,
} from '../driver.ts'
import { StorageError } from '../errors.ts'
import { listSorted } from '../listing.ts'
import { checkPath } from '../paths.ts'
import { attributesOf, type Sidecar } from '../sidecar.ts'
import { ZIP_ATTRIBUTES_MARKER } from './zip-writer.ts'

export { createZipWriter, type ZipEntryOptions, type ZipWriter, type ZipWriterTarget } from './zip-writer.ts'

type Yauzl = typeof yauzl

/** Options of the zip driver (`BEAVER_STORAGE_ZIP_*`): which archive, and the zip-bomb limits. */
export interface ZipStorageOptions {
  /** The archive's path on this machine (read in place, random access). */
  file?: string | undefined
  /** Or the archive's bytes. */
  buffer?: Buffer | undefined
  /**
   * Or an archive on another disk, read through byte ranges (the central directory, then each
   * entry as it is read), never downloaded whole: `{ storage: files, path: 'exports/a.zip' }`.
   */
  from?: ZipSource | undefined
  /** Most entries the archive may hold; default 10,000. */
  maxEntries?: number | undefined
  /** Most uncompressed bytes all entries may declare together; default 1 GiB. */
  maxTotalSize?: number | undefined
  /** Highest uncompressed/compressed ratio of an entry over 1 MiB uncompressed; default 100. */
  maxRatio?: number | undefined
}

/** An archive held by another storage: what a zip disk needs of it (a `Storage` has both). */
export interface ZipSource {
  storage: {
    stat(path: string): Promise<{ size: number }>
    getStream(path: string, options: { start?: number; end?: number }): Promise<Readable>
  }
  path: string
}

/**
 * yauzl's random-access reader over ranged reads of another storage. yauzl asks for a stream
 * synchronously, so each range is a pass-through filled once the storage answers.
 */
function rangeReader(module: Yauzl, source: ZipSource): yauzl.RandomAccessReader {
  class StorageRangeReader extends module.RandomAccessReader {
    override _readStreamForRange(start: number, end: number): Readable {
      const out = new PassThrough()
      source.storage
        .getStream(source.path, { start, end: end - 1 })
        .then((body) => pipeline(body, out))
        .catch((err: unknown) => out.destroy(err as Error))
      return out
    }
  }
  return new StorageRangeReader()
}

/** Entries up to this many uncompressed bytes skip the ratio check (they cannot amplify much). */
const RATIO_FLOOR = 1024 * 1024

function unsafe(entry: string, why: string): StorageError {
  return new StorageError(
    'STORAGE_ARCHIVE_UNSAFE',
    `The archive's entry ${JSON.stringify(entry)} is refused: ${why}.`,
    {
      details: { entry },
    },
  )
}

function readSidecar(comment: string): Sidecar {
  if (!comment.startsWith(ZIP_ATTRIBUTES_MARKER)) return {}
  try {
    return JSON.parse(comment.slice(ZIP_ATTRIBUTES_MARKER.length)) as Sidecar
  } catch {
    return {}
  }
}

/** Passes bytes start..end (inclusive) of a stream through, and ends the source once past them. */
function slice(start: number, end: number): Transform {
  let at = 0
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const from = Math.max(0, start - at)
      const to = Math.min(chunk.length, end - at + 1)
      at += chunk.length
      callback(null, from < to ? chunk.subarray(from, to) : undefined)
    },
  })
}

/**
 * A zip archive as a read-only disk: get, getStream (ranges too), stat, exists and list over its
 * entries, through `yauzl`; put, delete, copy, move and setVisibility fail with
 * STORAGE_READ_ONLY. The central directory is read once, on first use, and refused as a whole
 * (STORAGE_ARCHIVE_UNSAFE, naming the entry) when an entry would escape (`../`, an absolute
 * path, a name the kit's paths refuse) or a zip-bomb limit is passed (entry count, declared
 * total size, compression ratio); yauzl checks while reading that no entry inflates past its
 * declared size. Attributes written by the kit's zip writer are read back from entry comments.
 */
export class ZipDisk implements StorageDriver {
  readonly name = 'zip'
  readonly capabilities = { signedUrls: false, nativeCopy: false, ranges: true, multipart: false, writable: false }
  readonly #yauzl: Yauzl
  readonly #source: { file: string } | { buffer: Buffer } | { from: ZipSource }
  readonly #limits: { maxEntries: number; maxTotalSize: number; maxRatio: number }
  #index: Promise<{ zip: ZipFile; entries: Map<string, Entry> }> | undefined

  constructor(yauzlModule: Yauzl, options: ZipStorageOptions, context?: StorageDriverContext) {
    const variable = (s: string): string => context?.variable(s) ?? `BEAVER_STORAGE_${s}`
    if (options.file === undefined && options.buffer === undefined && options.from === undefined)
      throw new StorageError(
        'STORAGE_OPTIONS_INVALID',
        `The zip storage driver needs an archive: set ${variable('ZIP_FILE')}.`,
        { details: { setting: variable('ZIP_FILE') } },
      )
    this.#yauzl = yauzlModule
    this.#source = options.buffer
      ? { buffer: options.buffer }
      : options.from
        ? { from: options.from }
        : { file: options.file! }
    this.#limits = {
      maxEntries: options.maxEntries ?? 10_000,
      maxTotalSize: options.maxTotalSize ?? 1024 * 1024 * 1024,
      maxRatio: options.maxRatio ?? 100,
    }
  }

  #open(): Promise<{ zip: ZipFile; entries: Map<string, Entry> }> {
    this.#index ??= this.#read().catch((err: unknown) => {
      this.#index = undefined
      throw err
    })
    return this.#index
  }

  async #read(): Promise<{ zip: ZipFile; entries: Map<string, Entry> }> {
    const options = { autoClose: false, lazyEntries: true, strictFileNames: false }
    let zip: ZipFile
    try {
      const source = this.#source
      if ('buffer' in source) zip = await this.#yauzl.fromBufferPromise(source.buffer, options)
      else if ('file' in source) zip = await this.#yauzl.openPromise(source.file, options)
      else {
        const { size } = await source.from.storage.stat(source.from.path)
        zip = await this.#yauzl.fromRandomAccessReaderPromise(rangeReader(this.#yauzl, source.from), size, options)
      }
    } catch (err) {
      throw this.#yauzlError(err)
    }
    try {
      const { maxEntries, maxTotalSize, maxRatio } = this.#limits
      if (zip.entryCount > maxEntries)
        throw unsafe(`#${maxEntries + 1}`, `the archive holds ${zip.entryCount} entries, more than ${maxEntries}`)
      const entries = new Map<string, Entry>()
      let total = 0
      try {
        for await (const entry of zip.eachEntry()) {
          const name = entry.fileName
          if (name.endsWith('/')) continue
          try {
            checkPath(name, 4096)
          } catch (err) {
            throw unsafe(name, (err as Error).message.replace(/^The path .* is refused: /, '').replace(/\.$/, ''))
          }
          total += entry.uncompressedSize
          if (total > maxTotalSize)
            throw unsafe(name, `the entries declare more than ${maxTotalSize} uncompressed bytes in all`)
          const ratio = entry.uncompressedSize / Math.max(1, entry.compressedSize)
          if (entry.uncompressedSize > RATIO_FLOOR && ratio > maxRatio)
            throw unsafe(
              name,
              `it inflates ${Math.round(ratio)}x (${entry.uncompressedSize} bytes), more than ${maxRatio}x`,
            )
          entries.set(name, entry)
        }
      } catch (err) {
        throw this.#yauzlError(err)
      }
      return { zip, entries }
    } catch (err) {
      zip.close()
      throw err
    }
  }

  /** yauzl's own name checks ("invalid relative path: ../x", "absolute path: /x") become typed refusals. */
  #yauzlError(err: unknown): unknown {
    const message = (err as Error | undefined)?.message ?? ''
    const named = /^(invalid relative path|absolute path|invalid characters in fileName): (.*)$/s.exec(message)
    if (named) return unsafe(named[2]!, `${named[1]!.replace('fileName', 'its name')}`)
    return err
  }

  #readOnly(operation: string, key: string): StorageError {
    return new StorageError(
      'STORAGE_READ_ONLY',
      `${operation}(${JSON.stringify(key)}) is refused: the zip disk is read-only (write archives with createZipWriter()).`,
      { details: { path: key, operation } },
    )
  }

  async put(key: string, input: DriverPut): Promise<never> {
    input.body.destroy()
    throw this.#readOnly('put', key)
  }

  async getStream(
    key: string,
    options: { start?: number; end?: number; signal?: AbortSignal },
  ): Promise<Readable | undefined> {
    const { zip, entries } = await this.#open()
    const entry = entries.get(key)
    if (!entry) return undefined
    const { start, end } = options
    const ranged = start !== undefined || end !== undefined
    // yauzl seeks inside stored entries only; a compressed one is inflated from its start.
    const seek = ranged && !entry.isCompressed()
    const stream = await zip.openReadStreamPromise(
      entry,
      seek ? { start: start ?? 0, end: Math.min(entry.uncompressedSize, (end ?? Infinity) + 1) } : {},
    )
    const out = stream.pipe(seek ? slice(0, Infinity) : slice(start ?? 0, end ?? Infinity))
    // yauzl fails an entry that inflates past (or short of) its declared size: a lying header.
    stream.once('error', (err) =>
      out.destroy(/ bytes in the stream|expected/.test(err.message) ? unsafe(key, err.message) : err),
    )
    options.signal?.addEventListener('abort', () => out.destroy(options.signal?.reason as Error), { once: true })
    return out
  }

  async stat(key: string): Promise<Omit<FileStat, 'path'> | undefined> {
    const { entries } = await this.#open()
    const entry = entries.get(key)
    if (!entry) return undefined
    const lastModified = entry.getLastModDate()
    return {
      size: entry.uncompressedSize,
      lastModified,
      etag: `"${entry.crc32.toString(16).padStart(8, '0')}-${entry.uncompressedSize.toString(16)}"`,
      ...attributesOf(key, readSidecar(entry.fileComment)),
    }
  }

  async delete(key: string): Promise<never> {
    throw this.#readOnly('delete', key)
  }

  async list(
    prefix: string,
    options: { recursive: boolean; limit: number; cursor?: string | undefined },
  ): Promise<ListPage> {
    const { entries } = await this.#open()
    const keys = [...entries.keys()].filter((k) => k.startsWith(prefix))
    return listSorted(prefix, keys, options, (k) => {
      const e = entries.get(k)!
      return { size: e.uncompressedSize, lastModified: e.getLastModDate() }
    })
  }

  async setVisibility(key: string): Promise<never> {
    throw this.#readOnly('setVisibility', key)
  }

  async ready(): Promise<void> {
    await this.#open()
  }

  async close(): Promise<void> {
    const index = await this.#index?.catch(() => undefined)
    this.#index = undefined
    index?.zip.close()
  }
}

async function loadYauzl(): Promise<Yauzl> {
  return importPeer('yauzl', () => import('yauzl'), 'the zip storage driver')
}

/**
 * The zip driver, read-only: `BEAVER_STORAGE_DRIVER=zip` with `BEAVER_STORAGE_ZIP_FILE`.
 * Needs the optional package `yauzl`.
 */
export const zipDriver = defineStorageDriver<ZipStorageOptions>({
  name: 'zip',
  section: 'zip',
  peers: ['yauzl'],
  create: async (options, context) => new ZipDisk(await loadYauzl(), options, context),
})

/**
 * A zip disk built from options, for an archive that is not a file named in the environment
 * (on another disk, read through ranges; bytes of an upload): give it to createStorage as the driver.
 * @example await using archive = createStorage({ driver: await openZipDisk({ from: { storage: files, path: 'a.zip' } }) })
 */
export async function openZipDisk(options: ZipStorageOptions): Promise<StorageDriver> {
  return new ZipDisk(await loadYauzl(), options)
}
