import type { Readable } from 'node:stream'
import type * as s3sdk from '@aws-sdk/client-s3'
import type { S3Client } from '@aws-sdk/client-s3'
import type { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import type { DriverPut, DriverUploads, PendingUpload, UploadedPart } from '../driver.ts'
import { StorageError } from '../errors.ts'

/** Visibility travels in user metadata too, so stat() reports it on every bucket (ACLs are off by default on AWS). */
export const VISIBILITY = 'beaver-visibility'

/**
 * The request parameters of a file's attributes, the same on PutObject and on
 * CreateMultipartUpload (S3 ignores attributes given at completion), so a file reads back the
 * same whichever way it went up.
 */
export function s3Attributes(attributes: DriverPut['attributes'], acl: boolean, tags?: DriverPut['tags']) {
  const { contentType, cacheControl, contentDisposition, metadata, visibility } = attributes
  return {
    ...(tags && Object.keys(tags).length > 0 ? { Tagging: new URLSearchParams(tags).toString() } : {}),
    ContentType: contentType,
    ...(cacheControl === undefined ? {} : { CacheControl: cacheControl }),
    ...(contentDisposition === undefined ? {} : { ContentDisposition: contentDisposition }),
    Metadata: { ...metadata, [VISIBILITY]: visibility },
    ...(acl ? { ACL: visibility === 'public' ? ('public-read' as const) : ('private' as const) } : {}),
  }
}

function uploadError(err: unknown, key: string, uploadId: string): unknown {
  const name = (err as { name?: string })?.name ?? ''
  if (!['NoSuchUpload', 'InvalidPart', 'InvalidPartOrder', 'EntityTooSmall'].includes(name)) return err
  return new StorageError(
    'STORAGE_UPLOAD_INVALID',
    `The multipart upload of ${JSON.stringify(key)} was refused by S3 (${name}): ${name === 'NoSuchUpload' ? 'it was completed, aborted or never started' : 'a part is missing, out of order or too small (all but the last need 5 MiB)'}.`,
    { cause: err, details: { path: key, uploadId, reason: name } },
  )
}

/** Multipart control on S3: every call is one S3 request (ListParts and listings page through). */
export class S3Uploads implements DriverUploads {
  readonly #s3: typeof s3sdk
  readonly #client: S3Client
  readonly #bucket: string
  readonly #presign: typeof getSignedUrl
  readonly #acl: boolean

  constructor(s3: typeof s3sdk, client: S3Client, bucket: string, presign: typeof getSignedUrl, acl: boolean) {
    this.#s3 = s3
    this.#client = client
    this.#bucket = bucket
    this.#presign = presign
    this.#acl = acl
  }

  async #send<T>(key: string, uploadId: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run()
    } catch (err) {
      throw uploadError(err, key, uploadId)
    }
  }

  async create(key: string, attributes: DriverPut['attributes'], tags?: DriverPut['tags']): Promise<string> {
    const out = await this.#client.send(
      new this.#s3.CreateMultipartUploadCommand({
        Bucket: this.#bucket,
        Key: key,
        ...s3Attributes(attributes, this.#acl, tags),
      }),
    )
    if (!out.UploadId) throw new StorageError('STORAGE_DRIVER', `S3 gave no upload id for ${JSON.stringify(key)}.`)
    return out.UploadId
  }

  uploadPart(
    key: string,
    uploadId: string,
    partNumber: number,
    part: { body: Readable | Buffer; size: number; signal?: AbortSignal | undefined },
  ): Promise<UploadedPart> {
    return this.#send(key, uploadId, async () => {
      const out = await this.#client.send(
        new this.#s3.UploadPartCommand({
          Bucket: this.#bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber: partNumber,
          Body: part.body,
          ContentLength: part.size,
        }),
        part.signal ? { abortSignal: part.signal } : {},
      )
      return { partNumber, etag: out.ETag ?? '', size: part.size }
    })
  }

  partUrl(key: string, uploadId: string, partNumber: number, expiresInSeconds: number): Promise<string> {
    const command = new this.#s3.UploadPartCommand({
      Bucket: this.#bucket,
      Key: key,
      UploadId: uploadId,
      PartNumber: partNumber,
    })
    return this.#presign(this.#client, command, { expiresIn: expiresInSeconds })
  }

  listParts(key: string, uploadId: string): Promise<UploadedPart[]> {
    return this.#send(key, uploadId, async () => {
      const parts: UploadedPart[] = []
      let marker: string | undefined
      do {
        const out = await this.#client.send(
          new this.#s3.ListPartsCommand({
            Bucket: this.#bucket,
            Key: key,
            UploadId: uploadId,
            ...(marker ? { PartNumberMarker: marker } : {}),
          }),
        )
        for (const p of out.Parts ?? [])
          if (p.PartNumber !== undefined && p.ETag) parts.push({ partNumber: p.PartNumber, etag: p.ETag, size: p.Size })
        marker = out.IsTruncated ? out.NextPartNumberMarker : undefined
      } while (marker)
      return parts
    })
  }

  complete(key: string, uploadId: string, parts: readonly UploadedPart[]): Promise<{ etag?: string | undefined }> {
    return this.#send(key, uploadId, async () => {
      const out = await this.#client.send(
        new this.#s3.CompleteMultipartUploadCommand({
          Bucket: this.#bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: {
            Parts: [...parts]
              .sort((a, b) => a.partNumber - b.partNumber)
              .map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })),
          },
        }),
      )
      return { etag: out.ETag }
    })
  }

  abort(key: string, uploadId: string): Promise<void> {
    return this.#send(key, uploadId, async () => {
      await this.#client.send(
        new this.#s3.AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: key, UploadId: uploadId }),
      )
    })
  }

  async listPending(prefix: string): Promise<PendingUpload[]> {
    const pending: PendingUpload[] = []
    let keyMarker: string | undefined
    let idMarker: string | undefined
    do {
      const out = await this.#client.send(
        new this.#s3.ListMultipartUploadsCommand({
          Bucket: this.#bucket,
          Prefix: prefix,
          ...(keyMarker ? { KeyMarker: keyMarker } : {}),
          ...(idMarker ? { UploadIdMarker: idMarker } : {}),
        }),
      )
      for (const u of out.Uploads ?? [])
        if (u.Key && u.UploadId)
          pending.push({ key: u.Key, uploadId: u.UploadId, initiated: u.Initiated ?? new Date(0) })
      keyMarker = out.IsTruncated ? out.NextKeyMarker : undefined
      idMarker = out.IsTruncated ? out.NextUploadIdMarker : undefined
    } while (keyMarker)
    return pending.sort((a, b) => a.initiated.getTime() - b.initiated.getTime())
  }
}
