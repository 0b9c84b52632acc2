import { toMs } from '@beaver-kit/config'
import { throwIfAborted, traceAsync } from '@beaver-kit/core'
import { readAll, toReadable, type Body } from './body.ts'
import { channels } from './channels.ts'
import type { DriverPut, DriverUploads, FileAttributes, StorageDriver, UploadedPart } from './driver.ts'
import { StorageError } from './errors.ts'
import { checkPrefix } from './paths.ts'
import { checkTags } from './attributes.ts'

/** A multipart upload in progress: what a client keeps (in a database, in the browser) to resume it. */
export interface ChunkedUpload {
  path: string
  uploadId: string
}

/** A pending multipart upload found by listPending(). */
export interface PendingChunkedUpload extends ChunkedUpload {
  initiated: Date
}

/**
 * Resumable, chunked uploads: `initiate`, then parts in any order (from this process with
 * `uploadPart`, or straight from a browser with `partUrl`), then `complete`; `listParts` tells
 * a client that restarts which parts S3 already has. `cleanup` aborts uploads nobody finished,
 * which otherwise cost storage forever. The attributes are given at `initiate`, as put() takes them.
 */
export interface ChunkedUploads {
  initiate(
    path: string,
    options?: FileAttributes & { tags?: Readonly<Record<string, string>> | undefined },
  ): Promise<ChunkedUpload>
  /** Sends one part (1..10,000; every part but the last at least 5 MiB on S3). */
  uploadPart(
    upload: ChunkedUpload,
    partNumber: number,
    body: Body,
    options?: { size?: number; signal?: AbortSignal },
  ): Promise<UploadedPart>
  /** A presigned URL a browser PUTs one part to; the part's ETag comes back in the response header. */
  partUrl(upload: ChunkedUpload, partNumber: number, options?: { expiresIn?: number | string }): Promise<string>
  listParts(upload: ChunkedUpload): Promise<UploadedPart[]>
  /** Assembles the parts (by default every part S3 holds, from listParts) into the file. */
  complete(
    upload: ChunkedUpload,
    parts?: readonly UploadedPart[],
  ): Promise<{ path: string; size: number; etag?: string | undefined }>
  abort(upload: ChunkedUpload): Promise<void>
  listPending(prefix?: string): Promise<PendingChunkedUpload[]>
  /** Aborts every pending upload under the prefix started more than `olderThan` ago; how many were aborted. */
  cleanup(options: { olderThan: number | string; prefix?: string; now?: number }): Promise<number>
}

/** What the facade lends the uploads: its path mapping, its driver and its defaults. */
export interface UploadsContext {
  key(path: string): string
  unkey(key: string): string
  namespace: string
  maxPathBytes: number
  maxPartBytes: number
  expiresInMs: number
  load(): Promise<StorageDriver>
  attributes(path: string, options: FileAttributes): DriverPut['attributes']
  op(): { driver: string; namespace: string }
}

function checkPart(path: string, partNumber: number): void {
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10_000)
    throw new StorageError(
      'STORAGE_OPTIONS_INVALID',
      `Part ${partNumber} of ${JSON.stringify(path)} is out of range; parts are numbered 1 to 10,000.`,
      { details: { path, partNumber } },
    )
}

/** @internal Builds the uploads of one storage. */
export function createChunkedUploads(ctx: UploadsContext): ChunkedUploads {
  const control = async (): Promise<DriverUploads> => {
    const driver = await ctx.load()
    if (!driver.uploads)
      throw new StorageError(
        'STORAGE_UNSUPPORTED',
        `The ${driver.name} driver has no multipart control; resumable uploads need a driver that has it (s3).`,
        { details: { driver: driver.name } },
      )
    return driver.uploads
  }
  const traced = <T>(step: string, run: () => Promise<T>): Promise<T> =>
    traceAsync(channels.upload, () => ({ ...ctx.op(), step }), run)

  const uploads: ChunkedUploads = {
    initiate: (path, options = {}) =>
      traced('initiate', async () => {
        const key = ctx.key(path)
        const { tags, ...attributes } = options
        const checked = tags === undefined ? undefined : checkTags(path, tags, 'initiate')
        const driver = await control()
        if (checked && !(await ctx.load()).capabilities.tags)
          throw new StorageError('STORAGE_UNSUPPORTED', `This driver has no object tags (${JSON.stringify(path)}).`, {
            details: { path },
          })
        const uploadId = await driver.create(key, ctx.attributes(path, attributes), checked)
        return { path, uploadId }
      }),
    uploadPart: (upload, partNumber, body, options = {}) =>
      traced('part', async () => {
        const key = ctx.key(upload.path)
        checkPart(upload.path, partNumber)
        throwIfAborted(options.signal)
        const { stream, size } = toReadable(upload.path, body)
        const known = size ?? options.size
        // S3 needs each part's length up front: a stream of unknown length is read first (bounded).
        const part =
          known === undefined
            ? await readAll(upload.path, stream, ctx.maxPartBytes).then((b) => ({ body: b, size: b.length }))
            : { body: stream, size: known }
        return (await control()).uploadPart(key, upload.uploadId, partNumber, { ...part, signal: options.signal })
      }),
    partUrl: (upload, partNumber, options = {}) =>
      traced('part-url', async () => {
        const key = ctx.key(upload.path)
        checkPart(upload.path, partNumber)
        const ms = options.expiresIn === undefined ? ctx.expiresInMs : toMs(options.expiresIn)
        return (await control()).partUrl(key, upload.uploadId, partNumber, Math.max(1, Math.round(ms / 1000)))
      }),
    listParts: (upload) =>
      traced('list-parts', async () => (await control()).listParts(ctx.key(upload.path), upload.uploadId)),
    complete: (upload, parts) =>
      traced('complete', async () => {
        const key = ctx.key(upload.path)
        const uploads = await control()
        const all = parts ?? (await uploads.listParts(key, upload.uploadId))
        if (all.length === 0)
          throw new StorageError(
            'STORAGE_UPLOAD_INVALID',
            `The upload of ${JSON.stringify(upload.path)} has no parts to complete.`,
            {
              details: { path: upload.path, uploadId: upload.uploadId },
            },
          )
        const { etag } = await uploads.complete(key, upload.uploadId, all)
        const stat = await (await ctx.load()).stat(key)
        return { path: upload.path, size: stat?.size ?? 0, etag: etag ?? stat?.etag }
      }),
    abort: (upload) => traced('abort', async () => (await control()).abort(ctx.key(upload.path), upload.uploadId)),
    listPending: (prefix = '') =>
      traced('list-pending', async () => {
        const p = checkPrefix(prefix, ctx.maxPathBytes)
        const found = await (await control()).listPending(ctx.namespace ? `${ctx.namespace}/${p}` : p)
        return found.map((u) => ({ path: ctx.unkey(u.key), uploadId: u.uploadId, initiated: u.initiated }))
      }),
    async cleanup({ olderThan, prefix, now = Date.now() }) {
      const before = now - toMs(olderThan)
      let aborted = 0
      for (const upload of await uploads.listPending(prefix)) {
        if (upload.initiated.getTime() >= before) continue
        await uploads.abort(upload)
        aborted++
      }
      return aborted
    },
  }
  return uploads
}
