import { randomUUID } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { rename, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { PassThrough, Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { importPeer } from '@beaver-kit/core'
import { checkAttributes, contentTypeOf } from '../attributes.ts'
import { toReadable, type Body } from '../body.ts'
import { DEFAULT_CONTENT_TYPE, type FileAttributes } from '../driver.ts'
import { StorageError } from '../errors.ts'
import { checkPath } from '../paths.ts'
import { sidecarOf } from '../sidecar.ts'
import type { Storage } from '../storage.ts'

/** Attributes written by the kit's zip writer travel in the entry comment, after this marker. */
export const ZIP_ATTRIBUTES_MARKER = 'beaver-attributes:'

/** Where an archive goes: a path on a disk (stored with one streaming put) or a file on this machine. */
export type ZipWriterTarget = { storage: Pick<Storage, 'put'>; path: string } | { file: string }

/** Options of one entry: its attributes (read back by the zip disk) and how it is stored. */
export interface ZipEntryOptions extends FileAttributes {
  /** Deflate the entry (default), or store it as is (already compressed data: images, video). */
  compress?: boolean | undefined
  /** The entry's modification time; default now. */
  lastModified?: Date | undefined
}

/** Streams entries into one zip archive; nothing is stored unless close() succeeds. */
export interface ZipWriter {
  /**
   * Adds an entry; resolves once its body has been read into the archive. Await each add to
   * hold one body at a time. Paths are checked like the disks' (no `..`, absolute, NUL...).
   */
  add(path: string, body: Body, options?: ZipEntryOptions): Promise<void>
  /** Finishes the archive and resolves once it is stored. */
  close(): Promise<{ size: number }>
  /** Stops: the target is left as it was (no partial archive). */
  abort(reason?: unknown): Promise<void>
}

/**
 * Writes a zip archive entry by entry with `yazl` (an optional peer), streaming it into a disk
 * (`storage.put()`: all or nothing, as every put) or into a local file (a temp file renamed into
 * place). Attributes given to add() are kept in the entry's comment, so the zip disk's stat()
 * reports them; memory is bounded by one entry's buffers, whatever the archive's size.
 * @example
 * const zip = await createZipWriter({ storage: storage(), path: 'exports/2026-12.zip' })
 * await zip.add('report.json', JSON.stringify(report), { metadata: { owner: 'ada' } })
 * await zip.close()
 */
export async function createZipWriter(target: ZipWriterTarget): Promise<ZipWriter> {
  const yazl = await importPeer('yazl', () => import('yazl'), 'the zip archive writer')
  const archive = new yazl.ZipFile()
  const output = archive.outputStream as PassThrough
  let size = 0
  output.on('data', (chunk: Buffer) => (size += chunk.length))
  let failure: unknown
  const fail = (reason: unknown): void => {
    failure ??= reason
    output.destroy(reason instanceof Error ? reason : new Error(String(reason)))
  }
  const stored: Promise<unknown> =
    'storage' in target
      ? target.storage.put(target.path, output, { contentType: 'application/zip' })
      : writeFileAtomically(target.file, output)
  stored.catch(() => undefined)
  const finished = (): Promise<unknown> => stored.catch((err: unknown) => Promise.reject(failure ?? err))
  let ended = false
  const refuseAfterEnd = (path: string): void => {
    if (ended)
      throw new StorageError('STORAGE_OPTIONS_INVALID', `add(${JSON.stringify(path)}) came after close() or abort().`, {
        details: { path },
      })
  }

  return {
    async add(path, body, options = {}) {
      checkPath(path, 4096)
      refuseAfterEnd(path)
      const attributes = {
        ...checkAttributes(path, options),
        contentType: options.contentType ?? contentTypeOf(path) ?? DEFAULT_CONTENT_TYPE,
        visibility: options.visibility ?? 'private',
      }
      const sidecar = sidecarOf(path, attributes)
      const { stream } = toReadable(path, body)
      const consumed = new Promise<void>((resolve, reject) => {
        stream.once('end', resolve)
        stream.once('error', (err) => {
          fail(err)
          reject(err)
        })
      })
      consumed.catch(() => undefined)
      archive.addReadStreamLazy(
        path,
        {
          compress: options.compress ?? true,
          mtime: options.lastModified ?? new Date(),
          ...(Object.keys(sidecar).length > 0 ? { fileComment: ZIP_ATTRIBUTES_MARKER + JSON.stringify(sidecar) } : {}),
        },
        (cb) => cb(null, stream),
      )
      await Promise.race([consumed, finished().then(() => consumed)])
    },
    async close() {
      if (!ended) {
        ended = true
        archive.end()
      }
      await finished()
      return { size }
    },
    async abort(reason) {
      ended = true
      fail(reason ?? new StorageError('STORAGE_ABORTED', 'The zip archive was aborted; nothing was stored.'))
      await stored.catch(() => undefined)
    },
  }
}

/** Streams into a temp file beside `file`, renamed into place once complete; removed on failure. */
async function writeFileAtomically(file: string, body: Readable): Promise<void> {
  const tmp = join(dirname(file), `.${randomUUID()}.zip-tmp`)
  try {
    await pipeline(body, createWriteStream(tmp, { flags: 'wx' }))
    await rename(tmp, file)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
}
