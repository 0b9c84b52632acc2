import type { Readable } from 'node:stream'
import { importPeer } from '@beaver-kit/core'
import type * as s3sdk from '@aws-sdk/client-s3'
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3'
import type * as libStorage from '@aws-sdk/lib-storage'
import type { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import {
  DEFAULT_CONTENT_TYPE,
  defineStorageDriver,
  type DriverPut,
  type FileStat,
  type ListEntry,
  type ListPage,
  type SignedPost,
  type StorageDriver,
  type StorageDriverContext,
  type Visibility,
} from '../driver.ts'
import { takeBytes } from '../body.ts'
import { StorageError } from '../errors.ts'
import { presignPost } from './s3-post.ts'
import { S3Uploads, s3Attributes, VISIBILITY } from './s3-uploads.ts'

/** Options of the s3 driver: the `BEAVER_STORAGE_S3_*` settings, or a client you own. */
export interface S3StorageOptions {
  bucket?: string | undefined
  region?: string | undefined
  endpoint?: string | undefined
  accessKeyId?: string | undefined
  secretAccessKey?: string | undefined
  forcePathStyle?: boolean | undefined
  /** Part size of multipart uploads (at least 5 MiB); default 8 MiB. Bodies up to one part go up in one PutObject. */
  partSize?: number | undefined
  /** Parts in flight per upload; default 4. One upload holds at most partSize x (concurrency + 2) in memory (measured by the bench). */
  concurrency?: number | undefined
  /** Also send visibility as a canned ACL (public-read/private); only for buckets with ACLs enabled. */
  acl?: boolean | undefined
  checksums?: 'when-supported' | 'when-required' | undefined
  /** A client you own: reused, never destroyed by close(); the connection settings above are then not used. */
  client?: S3Client | undefined
  clientConfig?: S3ClientConfig | undefined
}

type S3Module = typeof s3sdk
type LibStorage = typeof libStorage
const MIN_PART = 5 * 1024 * 1024

/**
 * The cursor is the last path returned (as on every driver), sent as the ListObjects marker
 * rather than a ListObjectsV2 continuation token: every S3-compatible store has it, and s3rver
 * cannot make V2 tokens on Node 24 (it ciphers them with DES, gone from OpenSSL 3). After a folder, the
 * listing resumes past everything under it: the folder followed by the highest code point up
 * to S3's 1,024-byte key limit sorts after every key inside it.
 */
function startAfter(cursor: string): string {
  if (!cursor.endsWith('/')) return cursor
  const room = Math.max(0, Math.floor((1024 - Buffer.byteLength(cursor)) / 4))
  return cursor + '\u{10FFFF}'.repeat(room + 1)
}

async function collect(body: Readable, max: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let total = 0
  for await (const chunk of body as AsyncIterable<Buffer>) {
    total += chunk.length
    if (total > max) {
      body.destroy()
      throw new StorageError(
        'STORAGE_OPTIONS_INVALID',
        `The body is longer than the size given to put(); nothing was stored.`,
      )
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks, total)
}

function notFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } }
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404
}

/**
 * S3 and S3-compatible stores. Uploads stream through `@aws-sdk/lib-storage`: a body that fits
 * in one part is one PutObject, a larger one a multipart upload whose CreateMultipartUpload
 * carries every attribute (content type, cache-control, disposition, metadata), so a file
 * reads back the same whichever way it went up. A failed or aborted body aborts the multipart
 * upload (no orphaned parts) and no object is created. Memory is bounded by part size x
 * (concurrency + 2), whatever the body's length: the parts in flight, the one being cut from
 * the body, and the chunks it is cut from.
 */
export class S3Disk implements StorageDriver {
  readonly name = 's3'
  readonly capabilities = { signedUrls: true, nativeCopy: true, ranges: true, multipart: true, tags: true }
  readonly client: S3Client
  readonly bucket: string
  readonly #s3: S3Module
  readonly #lib: LibStorage
  readonly #presign: typeof getSignedUrl
  readonly #owns: boolean
  readonly #partSize: number
  readonly #concurrency: number
  readonly #acl: boolean
  /** Multipart control: resumable and browser-direct uploads, and cleanup of stale ones. */
  readonly uploads: S3Uploads

  constructor(
    modules: { s3: S3Module; lib: LibStorage; presign: typeof getSignedUrl },
    options: S3StorageOptions,
    context?: StorageDriverContext,
  ) {
    const variable = (s: string): string => context?.variable(s) ?? `BEAVER_STORAGE_${s}`
    if (!options.bucket)
      throw new StorageError(
        'STORAGE_OPTIONS_INVALID',
        `The s3 storage driver needs a bucket: set ${variable('S3_BUCKET')}.`,
        {
          details: { setting: variable('S3_BUCKET') },
        },
      )
    if ((options.accessKeyId === undefined) !== (options.secretAccessKey === undefined)) {
      const missingName = variable(options.accessKeyId === undefined ? 'S3_ACCESS_KEY_ID' : 'S3_SECRET_ACCESS_KEY')
      throw new StorageError(
        'STORAGE_OPTIONS_INVALID',
        `The s3 storage driver got only half of its credentials: set ${missingName} too, or neither to use the AWS SDK credential chain.`,
        { details: { setting: missingName } },
      )
    }
    const partSize = options.partSize ?? 8 * 1024 * 1024
    if (partSize < MIN_PART)
      throw new StorageError(
        'STORAGE_OPTIONS_INVALID',
        `${variable('S3_PART_SIZE')} is ${partSize} bytes; S3 needs parts of at least 5mb.`,
        {
          details: { setting: variable('S3_PART_SIZE'), partSize },
        },
      )
    this.#s3 = modules.s3
    this.#lib = modules.lib
    this.#presign = modules.presign
    this.bucket = options.bucket
    this.#partSize = partSize
    this.#concurrency = options.concurrency ?? 4
    this.#acl = options.acl ?? false
    this.#owns = options.client === undefined
    this.client =
      options.client ??
      new modules.s3.S3Client({
        ...(options.region === undefined ? {} : { region: options.region }),
        ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
        ...(options.accessKeyId && options.secretAccessKey
          ? { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } }
          : {}),
        forcePathStyle: options.forcePathStyle ?? false,
        ...(options.checksums === 'when-required'
          ? { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }
          : {}),
        ...options.clientConfig,
      })
    this.uploads = new S3Uploads(modules.s3, this.client, this.bucket, modules.presign, this.#acl)
  }

  async put(key: string, input: DriverPut): Promise<{ size: number; etag?: string | undefined; multipart: boolean }> {
    const attributes = s3Attributes(input.attributes, this.#acl, input.tags)
    if (input.size !== undefined && input.size <= this.#partSize) {
      // A body of known length that fits in one part is one PutObject with the same attributes,
      // read first so a failing body sends nothing (lib-storage's machinery costs ~4x here);
      // bytes given whole to put() are taken as they are, without streaming them.
      const body = takeBytes(input.body) ?? (await collect(input.body, this.#partSize))
      const out = await this.client.send(
        new this.#s3.PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentLength: body.length,
          ...attributes,
        }),
        input.signal ? { abortSignal: input.signal } : {},
      )
      return { size: body.length, etag: out.ETag, multipart: false }
    }
    const upload = new this.#lib.Upload({
      client: this.client,
      partSize: this.#partSize,
      queueSize: this.#concurrency,
      leavePartsOnError: false,
      params: {
        Bucket: this.bucket,
        Key: key,
        Body: input.body,
        ...(input.size === undefined ? {} : { ContentLength: input.size }),
        // Every attribute is a parameter of the upload, so lib-storage sends it on PutObject
        // and on CreateMultipartUpload alike (S3 ignores attributes given at completion).
        ...attributes,
      },
    })
    let size = 0
    input.body.on('data', (chunk: Buffer) => (size += chunk.length))
    const onAbort = (): void => void upload.abort()
    input.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      const result = await upload.done()
      return { size, etag: result.ETag, multipart: (upload as unknown as { isMultiPart: boolean }).isMultiPart }
    } catch (err) {
      input.body.destroy()
      // lib-storage rejects with the abort's failure when AbortMultipartUpload itself fails;
      // the body's own error (size, checksum) is the one the caller must see.
      const own = (input.body as { errored?: unknown }).errored
      if (own && own !== err && err instanceof Error && own instanceof Error && own.cause === undefined) own.cause = err
      throw own ?? err
    } finally {
      input.signal?.removeEventListener('abort', onAbort)
    }
  }

  async getStream(
    key: string,
    options: { start?: number; end?: number; signal?: AbortSignal },
  ): Promise<Readable | undefined> {
    const { start, end } = options
    const range = start === undefined && end === undefined ? undefined : `bytes=${start ?? 0}-${end ?? ''}`
    try {
      const out = await this.client.send(
        new this.#s3.GetObjectCommand({ Bucket: this.bucket, Key: key, ...(range ? { Range: range } : {}) }),
        options.signal ? { abortSignal: options.signal } : {},
      )
      return out.Body as Readable
    } catch (err) {
      if (notFound(err)) return undefined
      throw err
    }
  }

  async stat(key: string): Promise<Omit<FileStat, 'path'> | undefined> {
    try {
      const head = await this.client.send(new this.#s3.HeadObjectCommand({ Bucket: this.bucket, Key: key }))
      const { [VISIBILITY]: visibility, ...metadata } = head.Metadata ?? {}
      // HEAD says how many tags there are (x-amz-tagging-count): the tags cost a request only then.
      const tags = head.TagCount ? await this.getTags(key) : {}
      if (!tags) return undefined
      return {
        size: head.ContentLength ?? 0,
        lastModified: head.LastModified ?? new Date(0),
        etag: head.ETag,
        contentType: head.ContentType ?? DEFAULT_CONTENT_TYPE,
        cacheControl: head.CacheControl,
        contentDisposition: head.ContentDisposition,
        metadata,
        visibility: visibility === 'public' ? 'public' : 'private',
        tags,
      }
    } catch (err) {
      if (notFound(err)) return undefined
      throw err
    }
  }

  async delete(key: string): Promise<boolean> {
    // S3 answers 204 whether or not the key existed; a HEAD first gives the boolean.
    if (!(await this.stat(key))) return false
    await this.client.send(new this.#s3.DeleteObjectCommand({ Bucket: this.bucket, Key: key }))
    return true
  }

  async list(
    prefix: string,
    options: { recursive: boolean; limit: number; cursor?: string | undefined },
  ): Promise<ListPage> {
    const out = await this.client.send(
      new this.#s3.ListObjectsCommand({
        Bucket: this.bucket,
        Prefix: prefix,
        MaxKeys: options.limit,
        ...(options.recursive ? {} : { Delimiter: '/' }),
        ...(options.cursor ? { Marker: startAfter(options.cursor) } : {}),
      }),
    )
    const entries: ListEntry[] = [
      ...(out.Contents ?? []).map((o): ListEntry => ({
        type: 'file',
        path: o.Key ?? '',
        size: o.Size ?? 0,
        lastModified: o.LastModified ?? new Date(0),
      })),
      ...(out.CommonPrefixes ?? []).map((p): ListEntry => ({ type: 'folder', path: p.Prefix ?? '' })),
    ].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)))
    return { entries, cursor: out.IsTruncated && entries.length > 0 ? entries[entries.length - 1]!.path : undefined }
  }

  async copy(from: string, to: string): Promise<boolean> {
    try {
      await this.client.send(
        new this.#s3.CopyObjectCommand({
          Bucket: this.bucket,
          Key: to,
          CopySource: `${this.bucket}/${from.split('/').map(encodeURIComponent).join('/')}`,
          MetadataDirective: 'COPY',
        }),
      )
      return true
    } catch (err) {
      if (notFound(err)) return false
      throw err
    }
  }

  async signedUrl(
    key: string,
    options: { method: 'GET' | 'PUT'; expiresInSeconds: number; contentType?: string | undefined },
  ): Promise<string> {
    const command =
      options.method === 'PUT'
        ? new this.#s3.PutObjectCommand({
            Bucket: this.bucket,
            Key: key,
            ...(options.contentType ? { ContentType: options.contentType } : {}),
          })
        : new this.#s3.GetObjectCommand({ Bucket: this.bucket, Key: key })
    return this.#presign(this.client, command, { expiresIn: options.expiresInSeconds })
  }

  async getTags(key: string): Promise<Record<string, string> | undefined> {
    try {
      const out = await this.client.send(new this.#s3.GetObjectTaggingCommand({ Bucket: this.bucket, Key: key }))
      return Object.fromEntries((out.TagSet ?? []).map((t) => [t.Key ?? '', t.Value ?? '']))
    } catch (err) {
      if (notFound(err)) return undefined
      throw err
    }
  }

  async setTags(key: string, tags: Readonly<Record<string, string>>): Promise<boolean> {
    const entries = Object.entries(tags)
    try {
      // No tags is DeleteObjectTagging: the explicit call (moto fails an empty TagSet with a 500).
      if (entries.length === 0)
        await this.client.send(new this.#s3.DeleteObjectTaggingCommand({ Bucket: this.bucket, Key: key }))
      else
        await this.client.send(
          new this.#s3.PutObjectTaggingCommand({
            Bucket: this.bucket,
            Key: key,
            Tagging: { TagSet: entries.map(([Key, Value]) => ({ Key, Value })) },
          }),
        )
      return true
    } catch (err) {
      if (notFound(err)) return false
      throw err
    }
  }

  signedPost(
    key: string,
    options: { expiresInSeconds: number; maxBytes: number; attributes: DriverPut['attributes'] },
  ): Promise<SignedPost> {
    return presignPost(this.client, this.bucket, key, options)
  }

  async setVisibility(key: string, visibility: Visibility): Promise<boolean> {
    const current = await this.stat(key)
    if (!current) return false
    // Metadata can only change by copying the object onto itself with REPLACE.
    await this.client.send(
      new this.#s3.CopyObjectCommand({
        Bucket: this.bucket,
        Key: key,
        CopySource: `${this.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`,
        MetadataDirective: 'REPLACE',
        ContentType: current.contentType,
        ...(current.cacheControl ? { CacheControl: current.cacheControl } : {}),
        ...(current.contentDisposition ? { ContentDisposition: current.contentDisposition } : {}),
        Metadata: { ...current.metadata, [VISIBILITY]: visibility },
        ...(this.#acl ? { ACL: visibility === 'public' ? 'public-read' : 'private' } : {}),
      }),
    )
    return true
  }

  async ready(signal?: AbortSignal): Promise<void> {
    await this.client.send(
      new this.#s3.HeadBucketCommand({ Bucket: this.bucket }),
      signal ? { abortSignal: signal } : {},
    )
  }

  async close(): Promise<void> {
    if (this.#owns) this.client.destroy()
  }
}

/** The s3 driver: `BEAVER_STORAGE_DRIVER=s3` with `BEAVER_STORAGE_S3_BUCKET` (and region, endpoint...). */
export const s3Driver = defineStorageDriver<S3StorageOptions>({
  name: 's3',
  section: 's3',
  peers: ['@aws-sdk/client-s3', '@aws-sdk/lib-storage', '@aws-sdk/s3-request-presigner'],
  async create(options, context) {
    const need = 'the s3 storage driver'
    const [s3, lib, presigner] = await Promise.all([
      importPeer('@aws-sdk/client-s3', () => import('@aws-sdk/client-s3'), need),
      importPeer('@aws-sdk/lib-storage', () => import('@aws-sdk/lib-storage'), need),
      importPeer('@aws-sdk/s3-request-presigner', () => import('@aws-sdk/s3-request-presigner'), need),
    ])
    return new S3Disk({ s3, lib, presign: presigner.getSignedUrl }, options, context)
  },
})
