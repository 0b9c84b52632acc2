import { createHash } from 'node:crypto'
import { importPeer } from '@beaver-kit/core'
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3'
import type * as s3sdk from '@aws-sdk/client-s3'
import {
  defineCacheDriver,
  type CacheDriver,
  storeCapabilities,
  type DriverEntry,
  type StoredValue,
} from '../driver.ts'
import { CacheError } from '../errors.ts'
import { expiresAt, isLive, remaining, systemClock, type Clock } from '../expiry.ts'
import { awsClientSettings, settingName, type AwsSettings } from './aws-settings.ts'

/** Options of the S3 driver: the `BEAVER_CACHE_S3_*` settings and a client or client options. */
export interface S3CacheOptions extends AwsSettings {
  /** The bucket (required). */
  bucket?: string | undefined
  /** Object key prefix, e.g. `cache/`; default none. */
  prefix?: string | undefined
  /** Path-style requests (bucket in the path), which most S3-compatible stores need. */
  forcePathStyle?: boolean | undefined
  /** `when-required` for S3-compatible stores that reject the AWS SDK default checksums. */
  checksums?: 'when-supported' | 'when-required' | undefined
  /** A client you own (kept open on close); the region, endpoint and credential settings are then not used. */
  client?: S3Client | undefined
  /** Used to build a client when none is given (over `BEAVER_CACHE_S3_REGION`, `_ENDPOINT`, `_ACCESS_KEY_ID`...). */
  clientConfig?: S3ClientConfig | undefined
  /** Values at least this large are uploaded in parts; default 8 MiB. */
  multipartThreshold?: number | undefined
  /** Part size of multipart uploads; default 8 MiB (S3's minimum is 5 MiB). */
  partSize?: number | undefined
  /** Parallel requests of batch operations; default 16. */
  concurrency?: number | undefined
  /** Longest object key in UTF-8 bytes (S3 allows 1,024); longer keys are stored under their SHA-256. */
  maxKeyBytes?: number | undefined
  /** The clock expiries are written and checked with; default the wall clock. */
  now?: Clock | undefined
}

const EXPIRES = 'beaver-expires-at'
type S3Module = typeof s3sdk

function isMissing(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } }
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404
}

async function pool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = Array.from({ length: items.length })
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i] as T, i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}

/**
 * S3 as a cold tier: one object per entry under `<prefix><URI-encoded namespace>/<key>` (long
 * keys under `<prefix><namespace>#<sha256 of the key>`: no key can spell that, since the
 * encoded namespace holds no "#" and ordinary keys follow a "/"),
 * the expiry in the object's metadata (`x-amz-meta-beaver-expires-at`, ms since epoch) and
 * checked on every read (expired objects are deleted lazily; add a bucket lifecycle rule to
 * remove the ones nobody reads). Large values go up in parts, with the metadata given when
 * the multipart upload is created. Objects are strongly consistent on S3 (read after write).
 */
export class S3Store implements CacheDriver {
  readonly name = 's3'
  readonly capabilities = storeCapabilities({ batch: false })
  readonly client: S3Client
  readonly #s3: S3Module
  readonly #owns: boolean
  readonly #bucket: string
  readonly #prefix: string
  readonly #threshold: number
  readonly #partSize: number
  readonly #concurrency: number
  readonly #maxKeyBytes: number
  readonly #now: Clock
  /** Multipart uploads done (for tests and metrics). */
  multipartUploads = 0

  constructor(s3: S3Module, client: S3Client, owns: boolean, options: S3CacheOptions & { bucket: string }) {
    this.#s3 = s3
    this.client = client
    this.#owns = owns
    this.#bucket = options.bucket
    this.#prefix = options.prefix ?? ''
    this.#threshold = options.multipartThreshold ?? 8 * 1024 * 1024
    this.#partSize = Math.max(5 * 1024 * 1024, options.partSize ?? 8 * 1024 * 1024)
    this.#concurrency = options.concurrency ?? 16
    this.#maxKeyBytes = options.maxKeyBytes ?? 1024
    this.#now = options.now ?? systemClock
  }

  /**
   * The object key of an entry: `<prefix><URI-encoded namespace>/<key>`, or
   * `<prefix><URI-encoded namespace>#<hex SHA-256 of the key>` when that would exceed
   * `maxKeyBytes`. The encoded namespace holds neither "/" nor "#", so no two (namespace, key)
   * pairs share an object, hashed or not.
   */
  objectKey(ns: string, key: string): string {
    const space = `${this.#prefix}${encodeURIComponent(ns)}`
    const full = `${space}/${key}`
    if (Buffer.byteLength(full) <= this.#maxKeyBytes) return full
    return `${space}#${createHash('sha256').update(key).digest('hex')}`
  }

  #expired(metadata: Record<string, string> | undefined): boolean {
    return !isLive(expiryOf(metadata), this.#now())
  }

  async get(ns: string, key: string): Promise<StoredValue | undefined> {
    try {
      const r = await this.client.send(
        new this.#s3.GetObjectCommand({ Bucket: this.#bucket, Key: this.objectKey(ns, key) }),
      )
      if (this.#expired(r.Metadata)) {
        await r.Body?.transformToByteArray()
        await this.#deleteObject(ns, key)
        return undefined
      }
      return r.Body ? await r.Body.transformToByteArray() : new Uint8Array(0)
    } catch (err) {
      if (isMissing(err)) return undefined
      throw err
    }
  }

  async #head(ns: string, key: string): Promise<Record<string, string> | undefined> {
    try {
      const r = await this.client.send(
        new this.#s3.HeadObjectCommand({ Bucket: this.#bucket, Key: this.objectKey(ns, key) }),
      )
      const metadata = r.Metadata ?? {}
      return this.#expired(metadata) ? undefined : metadata
    } catch (err) {
      if (isMissing(err)) return undefined
      throw err
    }
  }

  async has(ns: string, key: string): Promise<boolean> {
    const v = await this.get(ns, key)
    return v !== undefined && (v as Uint8Array).byteLength > 0
  }

  async set(ns: string, key: string, value: StoredValue, ttlMs: number | undefined): Promise<void> {
    const body = value as Uint8Array
    const Metadata = expiryMetadata(expiresAt(ttlMs, this.#now()))
    const Key = this.objectKey(ns, key)
    if (body.byteLength < this.#threshold) {
      await this.client.send(
        new this.#s3.PutObjectCommand({
          Bucket: this.#bucket,
          Key,
          Body: body,
          Metadata,
          ContentType: 'application/octet-stream',
        }),
      )
      return
    }
    // Multipart: the metadata (expiry) is given when the upload is created; parts cannot carry it.
    const created = await this.client.send(
      new this.#s3.CreateMultipartUploadCommand({
        Bucket: this.#bucket,
        Key,
        Metadata,
        ContentType: 'application/octet-stream',
      }),
    )
    const UploadId = created.UploadId
    try {
      const parts: Array<{ ETag: string | undefined; PartNumber: number }> = []
      for (let offset = 0, n = 1; offset < body.byteLength; offset += this.#partSize, n++) {
        const part = await this.client.send(
          new this.#s3.UploadPartCommand({
            Bucket: this.#bucket,
            Key,
            UploadId,
            PartNumber: n,
            Body: body.subarray(offset, offset + this.#partSize),
          }),
        )
        parts.push({ ETag: part.ETag, PartNumber: n })
      }
      await this.client.send(
        new this.#s3.CompleteMultipartUploadCommand({
          Bucket: this.#bucket,
          Key,
          UploadId,
          MultipartUpload: { Parts: parts },
        }),
      )
      this.multipartUploads++
    } catch (err) {
      await this.client
        .send(new this.#s3.AbortMultipartUploadCommand({ Bucket: this.#bucket, Key, UploadId }))
        .catch(() => undefined)
      throw err
    }
  }

  async #deleteObject(ns: string, key: string): Promise<void> {
    await this.client.send(new this.#s3.DeleteObjectCommand({ Bucket: this.#bucket, Key: this.objectKey(ns, key) }))
  }

  /** S3 does not say whether a deleted object existed: a HEAD first answers it. */
  async delete(ns: string, key: string): Promise<boolean> {
    const existed = (await this.#head(ns, key)) !== undefined
    await this.#deleteObject(ns, key)
    return existed
  }

  async getMany(ns: string, keys: readonly string[]): Promise<Array<StoredValue | undefined>> {
    return pool(keys, this.#concurrency, (k) => this.get(ns, k))
  }

  async setMany(ns: string, entries: readonly DriverEntry[]): Promise<void> {
    await pool(entries, this.#concurrency, (e) => this.set(ns, e.key, e.value, e.ttlMs))
  }

  async deleteMany(ns: string, keys: readonly string[]): Promise<number> {
    return (await pool(keys, this.#concurrency, (k) => this.delete(ns, k))).filter(Boolean).length
  }

  async ttl(ns: string, key: string): Promise<number | undefined> {
    const metadata = await this.#head(ns, key)
    if (metadata === undefined) return undefined
    return remaining(expiryOf(metadata), this.#now())
  }

  /** Rewrites the expiry with a server-side copy onto itself (no download). */
  async touch(ns: string, key: string, ttlMs: number | undefined): Promise<boolean> {
    if ((await this.#head(ns, key)) === undefined) return false
    const Key = this.objectKey(ns, key)
    await this.client.send(
      new this.#s3.CopyObjectCommand({
        Bucket: this.#bucket,
        Key,
        CopySource: `${this.#bucket}/${Key.split('/').map(encodeURIComponent).join('/')}`,
        MetadataDirective: 'REPLACE',
        Metadata: expiryMetadata(expiresAt(ttlMs, this.#now())),
        ContentType: 'application/octet-stream',
      }),
    )
    return true
  }

  /** Lists `<ns>/`, `<ns>#` (hashed keys) and `<ns>:...` (nested namespaces) and deletes them 1,000 keys per request. */
  async clear(ns: string): Promise<void> {
    const enc = `${this.#prefix}${encodeURIComponent(ns)}`
    for (const prefix of [`${enc}/`, `${enc}#`, `${enc}${encodeURIComponent(':')}`]) {
      let token: string | undefined
      do {
        const page = await this.client.send(
          new this.#s3.ListObjectsV2Command({ Bucket: this.#bucket, Prefix: prefix, ContinuationToken: token }),
        )
        const keys = (page.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [{ Key: o.Key }]))
        if (keys.length > 0)
          await this.client.send(
            new this.#s3.DeleteObjectsCommand({ Bucket: this.#bucket, Delete: { Objects: keys, Quiet: true } }),
          )
        token = page.IsTruncated === true ? page.NextContinuationToken : undefined
      } while (token !== undefined)
    }
  }

  async ping(): Promise<void> {
    await this.client.send(new this.#s3.HeadBucketCommand({ Bucket: this.#bucket }))
  }

  close(): void {
    if (this.#owns) this.client.destroy()
  }
}

function expiryOf(metadata: Record<string, string> | undefined): number | undefined {
  const at = metadata?.[EXPIRES]
  return at === undefined || at === '' ? undefined : Number(at)
}

function expiryMetadata(at: number | undefined): Record<string, string> {
  return at === undefined ? {} : { [EXPIRES]: String(at) }
}

/**
 * The S3 driver (AWS SDK v3, an optional peer: `npm install @aws-sdk/client-s3`), registered
 * as `s3`: `BEAVER_CACHE_DRIVER=s3 BEAVER_CACHE_S3_BUCKET=my-cache` builds it from the
 * environment alone (`BEAVER_CACHE_S3_*`); explicit options win.
 * @example const cold = createCache({ driver: 's3', s3: { bucket: 'my-cache', prefix: 'cache/' } })
 */
export const s3Driver = defineCacheDriver<S3CacheOptions>({
  name: 's3',
  peers: ['@aws-sdk/client-s3'],
  section: 's3',
  async create(options, context) {
    const bucket = options.bucket
    if (bucket === undefined) {
      const setting = settingName(context, 'S3_BUCKET')
      throw new CacheError(
        'CACHE_OPTIONS_INVALID',
        `The s3 cache driver needs a bucket: set ${setting} (or pass s3.bucket).`,
        { details: { setting } },
      )
    }
    const aws = options.client === undefined ? awsClientSettings(options, context, 'S3') : {}
    const s3 = await importPeer('@aws-sdk/client-s3', () => import('@aws-sdk/client-s3'), 'the s3 cache driver')
    const client =
      options.client ??
      new s3.S3Client({
        ...aws,
        ...(options.forcePathStyle ? { forcePathStyle: true } : {}),
        ...(options.checksums === 'when-required'
          ? { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }
          : {}),
        ...options.clientConfig,
      })
    return new S3Store(s3, client, options.client === undefined, { ...options, bucket })
  },
})
