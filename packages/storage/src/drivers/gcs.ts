import { once } from 'node:events'
import type { Readable } from 'node:stream'
import { importPeer } from '@beaver-kit/core'
import type * as gcsSdk from '@google-cloud/storage'
import type { Bucket, Storage as GcsClient, File as GcsFile } from '@google-cloud/storage'
import {
  DEFAULT_CONTENT_TYPE,
  defineStorageDriver,
  type DriverPut,
  type FileStat,
  type ListEntry,
  type ListPage,
  type StorageDriver,
  type StorageDriverContext,
  type Visibility,
} from '../driver.ts'
import { StorageError } from '../errors.ts'
import { compareKeys } from '../listing.ts'
import { orIfMissing } from '../missing.ts'
import { stageInBlocks } from '../staged-upload.ts'

/** Options of the gcs driver: the `BEAVER_STORAGE_GCS_*` settings, or a client you own. */
export interface GcsStorageOptions {
  bucket?: string | undefined
  projectId?: string | undefined
  /** JSON API endpoint; default https://storage.googleapis.com. */
  apiEndpoint?: string | undefined
  /** Service account e-mail and PEM private key; default Application Default Credentials. */
  clientEmail?: string | undefined
  privateKey?: string | undefined
  /** A service account JSON key file (instead of clientEmail and privateKey). */
  keyFilename?: string | undefined
  /** Chunk size of resumable uploads, a multiple of 256 KiB; default 8 MiB. Bodies up to one chunk are one request. */
  chunkSize?: number | undefined
  /** A client you own: reused, never closed; the connection settings above are then not used. */
  client?: GcsClient | undefined
}

type GcsModule = typeof gcsSdk
const CHUNK_MULTIPLE = 256 * 1024
/** Visibility travels in custom metadata, as on S3 (bucket-level uniform access is the common setting). */
const VISIBILITY = 'beaver-visibility'
/**
 * GCS has no object tags, so they are one custom metadata entry, URL-encoded as S3 sends them
 * (ASCII, so it is a valid header value where GCS serves metadata as x-goog-meta-* headers).
 * "_" never appears in a kit metadata name, so the entry cannot meet one.
 */
const TAGS = 'beaver_tags'
const encodeTags = (tags: Readonly<Record<string, string>>): string | null =>
  Object.keys(tags).length === 0 ? null : new URLSearchParams(tags).toString()

/** The client's ApiError carries the HTTP status as `code`. */
const isMissing = (err: unknown): boolean => (err as { code?: unknown } | null)?.code === 404

/**
 * Google Cloud Storage. A body that fits in one chunk is one multipart insert (resource and
 * media in one request); a larger one is a resumable upload session whose creating request
 * carries every attribute, its chunks sent in order to the session URI (which is its own
 * credential, as Google documents). The last chunk, which finalizes the object, goes only
 * once the whole body was read and checked, so a failed or aborted body leaves no object (and
 * the session is cancelled).
 */
export class GcsDisk implements StorageDriver {
  readonly name = 'gcs'
  readonly capabilities = { signedUrls: true, nativeCopy: true, ranges: true, multipart: true, tags: true }
  readonly client: GcsClient
  readonly bucket: Bucket
  readonly #chunkSize: number
  readonly #signing: boolean
  readonly #variable: (s: string) => string

  constructor(sdk: GcsModule, options: GcsStorageOptions, context?: StorageDriverContext) {
    const variable = (s: string): string => context?.variable(s) ?? `BEAVER_STORAGE_${s}`
    this.#variable = variable
    const invalid = (setting: string, message: string): never => {
      throw new StorageError('STORAGE_OPTIONS_INVALID', message, { details: { setting: variable(setting) } })
    }
    if (!options.bucket) invalid('GCS_BUCKET', `The gcs storage driver needs a bucket: set ${variable('GCS_BUCKET')}.`)
    if ((options.clientEmail === undefined) !== (options.privateKey === undefined)) {
      const missing = options.clientEmail === undefined ? 'GCS_CLIENT_EMAIL' : 'GCS_PRIVATE_KEY'
      invalid(
        missing,
        `The gcs storage driver got only half of a service account: set ${variable(missing)} too, or neither to use Application Default Credentials.`,
      )
    }
    const chunkSize = options.chunkSize ?? 8 * 1024 * 1024
    if (chunkSize < CHUNK_MULTIPLE || chunkSize % CHUNK_MULTIPLE !== 0)
      invalid(
        'GCS_CHUNK_SIZE',
        `${variable('GCS_CHUNK_SIZE')} is ${chunkSize} bytes; resumable chunks are a multiple of 256kb.`,
      )
    this.#chunkSize = chunkSize
    this.#signing = options.client !== undefined || options.privateKey !== undefined || !!options.keyFilename
    this.client =
      options.client ??
      new sdk.Storage({
        ...(options.projectId === undefined ? {} : { projectId: options.projectId }),
        ...(options.apiEndpoint === undefined ? {} : { apiEndpoint: options.apiEndpoint }),
        ...(options.keyFilename ? { keyFilename: options.keyFilename } : {}),
        ...(options.clientEmail && options.privateKey
          ? // Keys pasted into an env var usually carry "\n" escapes for their line breaks.
            {
              credentials: { client_email: options.clientEmail, private_key: options.privateKey.replace(/\\n/g, '\n') },
            }
          : {}),
      })
    this.bucket = this.client.bucket(options.bucket!)
  }

  async put(key: string, input: DriverPut): Promise<{ size: number; etag?: string | undefined; multipart: boolean }> {
    const { contentType, cacheControl, contentDisposition, metadata, visibility } = input.attributes
    // One resource for both ways up: the multipart insert's first part, or the session's creation.
    const resource = {
      contentType,
      ...(cacheControl === undefined ? {} : { cacheControl }),
      ...(contentDisposition === undefined ? {} : { contentDisposition }),
      metadata: {
        ...metadata,
        [VISIBILITY]: visibility,
        ...(input.tags && Object.keys(input.tags).length > 0 ? { [TAGS]: encodeTags(input.tags) } : {}),
      },
    }
    const file = this.bucket.file(key)
    let session: string | undefined
    let offset = 0
    try {
      const body = await stageInBlocks(input.body, {
        blockSize: this.#chunkSize,
        concurrency: 1,
        stage: async (_index, chunk) => {
          session ??= (await file.createResumableUpload({ metadata: resource }))[0]
          await this.#sendChunk(session, chunk, offset, undefined, input.signal)
          offset += chunk.length
        },
      })
      if (session === undefined) {
        await file.save(body.last, {
          resumable: false,
          metadata: resource,
          ...(input.signal ? { signal: input.signal } : {}),
        })
        return { size: body.size, etag: file.metadata.etag, multipart: false }
      }
      const done = await this.#sendChunk(session, body.last, offset, body.size, input.signal)
      session = undefined
      return { size: body.size, etag: done.etag, multipart: true }
    } catch (err) {
      // Cancel the session so its persisted chunks are dropped now rather than in a week.
      if (session) await fetch(session, { method: 'DELETE' }).catch(() => undefined)
      throw err
    }
  }

  /** One PUT to a session URI: 308 while more is expected, the object resource when total is given. */
  async #sendChunk(
    session: string,
    chunk: Buffer,
    offset: number,
    total: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<{ etag?: string }> {
    const res = await fetch(session, {
      method: 'PUT',
      body: chunk,
      headers: { 'content-range': `bytes ${offset}-${offset + chunk.length - 1}/${total ?? '*'}` },
      ...(signal ? { signal } : {}),
    })
    const text = await res.text()
    if (total === undefined ? res.status === 308 : res.ok)
      return total === undefined ? {} : (JSON.parse(text) as { etag?: string })
    throw new StorageError(
      'STORAGE_DRIVER',
      `The resumable upload session answered ${res.status}: ${text.slice(0, 300)}`,
      {
        details: { status: res.status },
      },
    )
  }

  async getStream(
    key: string,
    options: { start?: number; end?: number; signal?: AbortSignal },
  ): Promise<Readable | undefined> {
    const ranged = options.start !== undefined || options.end !== undefined
    const stream = this.bucket.file(key).createReadStream({
      ...(options.start === undefined ? {} : { start: options.start }),
      ...(options.end === undefined ? {} : { end: options.end }),
      // A range cannot be checked against the object's hashes; a whole read is (CRC32C).
      validation: ranged ? false : 'crc32c',
    })
    const onAbort = (): void => void stream.destroy(options.signal?.reason as Error)
    options.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      // The request starts on the first read; read(0) starts it without taking data, and the
      // response (or the error of a missing object) says whether there is a file.
      stream.read(0)
      const [first] = (await Promise.race([once(stream, 'response'), once(stream, 'error')])) as [
        { status?: number; statusCode?: number } | Error,
      ]
      if (first instanceof Error) throw first
      const code = first.status ?? first.statusCode
      if (code === 404) {
        // The client still emits the 404 as an error; it is the answer, not a failure.
        stream.on('error', () => undefined)
        stream.destroy()
        return undefined
      }
      return stream
    } catch (err) {
      stream.destroy()
      if (isMissing(err)) return undefined
      throw err
    } finally {
      options.signal?.removeEventListener('abort', onAbort)
    }
  }

  async stat(key: string): Promise<Omit<FileStat, 'path'> | undefined> {
    const found = await orIfMissing(() => this.bucket.file(key).getMetadata(), undefined, isMissing)
    if (!found) return undefined
    const [m] = found
    const metadata: Record<string, string> = {}
    let visibility: Visibility = 'private'
    let tags: Record<string, string> = {}
    for (const [name, value] of Object.entries(m.metadata ?? {})) {
      if (value === null || value === undefined) continue
      if (name === VISIBILITY) visibility = value === 'public' ? 'public' : 'private'
      else if (name === TAGS) tags = Object.fromEntries(new URLSearchParams(String(value)))
      else metadata[name] = String(value)
    }
    return {
      size: Number(m.size ?? 0),
      lastModified: new Date(m.updated ?? 0),
      etag: m.etag,
      contentType: m.contentType ?? DEFAULT_CONTENT_TYPE,
      cacheControl: m.cacheControl,
      contentDisposition: m.contentDisposition,
      metadata,
      visibility,
      tags,
    }
  }

  async getTags(key: string): Promise<Record<string, string> | undefined> {
    return (await this.stat(key))?.tags
  }

  async setTags(key: string, tags: Readonly<Record<string, string>>): Promise<boolean> {
    // PATCH replaces the one entry (null removes it); the other metadata stays as it is.
    const patch = { metadata: { [TAGS]: encodeTags(tags) } }
    return orIfMissing(async () => (await this.bucket.file(key).setMetadata(patch), true), false, isMissing)
  }

  async delete(key: string): Promise<boolean> {
    return orIfMissing(async () => (await this.bucket.file(key).delete(), true), false, isMissing)
  }

  /** The cursor is the API's nextPageToken, handed back as it came. */
  async list(
    prefix: string,
    options: { recursive: boolean; limit: number; cursor?: string | undefined },
  ): Promise<ListPage> {
    const [files, , response] = await this.bucket.getFiles({
      prefix,
      maxResults: options.limit,
      autoPaginate: false,
      ...(options.recursive ? {} : { delimiter: '/' }),
      ...(options.cursor ? { pageToken: options.cursor } : {}),
    })
    const page = (response ?? {}) as { prefixes?: string[]; nextPageToken?: string }
    const entries: ListEntry[] = [
      ...files.map((f: GcsFile): ListEntry => ({
        type: 'file',
        path: f.name,
        size: Number(f.metadata.size ?? 0),
        lastModified: new Date(f.metadata.updated ?? 0),
      })),
      ...(page.prefixes ?? []).map((p): ListEntry => ({ type: 'folder', path: p })),
    ].sort((a, b) => compareKeys(a.path, b.path))
    return { entries, cursor: page.nextPageToken || undefined }
  }

  async copy(from: string, to: string): Promise<boolean> {
    return orIfMissing(async () => (await this.bucket.file(from).copy(this.bucket.file(to)), true), false, isMissing)
  }

  async signedUrl(
    key: string,
    options: { method: 'GET' | 'PUT'; expiresInSeconds: number; contentType?: string | undefined },
  ): Promise<string> {
    if (!this.#signing)
      throw new StorageError(
        'STORAGE_UNSUPPORTED',
        `The gcs storage driver signs URLs with a service account key: set ${this.#variable('GCS_CLIENT_EMAIL')} and ${this.#variable('GCS_PRIVATE_KEY')}, or ${this.#variable('GCS_KEY_FILENAME')}.`,
      )
    const [url] = await this.bucket.file(key).getSignedUrl({
      version: 'v4',
      action: options.method === 'PUT' ? 'write' : 'read',
      expires: Date.now() + options.expiresInSeconds * 1000,
      ...(options.method === 'PUT' && options.contentType ? { contentType: options.contentType } : {}),
    })
    return url
  }

  async setVisibility(key: string, visibility: Visibility): Promise<boolean> {
    // PATCH merges custom metadata key by key: the other entries stay as they are.
    const patch = { metadata: { [VISIBILITY]: visibility } }
    return orIfMissing(async () => (await this.bucket.file(key).setMetadata(patch), true), false, isMissing)
  }

  async ready(): Promise<void> {
    await this.bucket.getMetadata()
  }
}

/** The gcs driver: `BEAVER_STORAGE_DRIVER=gcs` with `BEAVER_STORAGE_GCS_BUCKET` (and credentials). */
export const gcsDriver = defineStorageDriver<GcsStorageOptions>({
  name: 'gcs',
  section: 'gcs',
  peers: ['@google-cloud/storage'],
  async create(options, context) {
    const sdk = await importPeer(
      '@google-cloud/storage',
      () => import('@google-cloud/storage'),
      'the gcs storage driver',
    )
    return new GcsDisk(sdk, options, context)
  },
})
