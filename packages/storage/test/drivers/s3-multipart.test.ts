import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { startS3rver, type LocalS3 } from '@beaver-kit/testkit/cache-servers'
import { uniqueNamespace } from '@beaver-kit/testkit'
import { createStorage, isStorageError } from '@beaver-kit/storage'

let s3: LocalS3
let client: S3Client
const sent: string[] = []
beforeAll(async () => {
  s3 = await startS3rver('beaver-storage-mp')
  client = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    credentials: s3.credentials,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  })
  client.middlewareStack.add(
    (next, context) => (args) => {
      sent.push(context.commandName ?? '?')
      return next(args)
    },
    { step: 'initialize', name: 'recordCommands' },
  )
})
afterAll(async () => {
  client?.destroy()
  await s3?.stop()
})

const MiB = 1024 * 1024
function disk(namespace: string) {
  return createStorage({
    driver: 's3',
    client,
    namespace,
    envPrefix: false,
    s3: { bucket: s3.bucket, partSize: 5 * MiB, concurrency: 2 },
  })
}

describe('s3 multipart uploads', () => {
  it('puts every attribute on CreateMultipartUpload: a raw HeadObject sees them on the multipart object', async () => {
    const ns = uniqueNamespace('mp')
    await using files = disk(ns)
    sent.length = 0
    const body = Readable.from(
      (function* () {
        for (let i = 0; i < 12; i++) yield Buffer.alloc(MiB, i)
      })(),
    )
    const result = await files.put('video.bin', body, {
      contentType: 'video/mp4',
      cacheControl: 'max-age=600',
      contentDisposition: 'attachment',
      metadata: { owner: 'u-42' },
    })
    expect(result).toMatchObject({ multipart: true, size: 12 * MiB })
    expect(sent).toContain('CreateMultipartUploadCommand')
    expect(sent.filter((c) => c === 'UploadPartCommand')).toHaveLength(3)
    expect(sent).not.toContain('PutObjectCommand')
    const head = await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: `${ns}/video.bin` }))
    expect(head).toMatchObject({
      ContentType: 'video/mp4',
      CacheControl: 'max-age=600',
      ContentDisposition: 'attachment',
      Metadata: { owner: 'u-42', 'beaver-visibility': 'private' },
      ContentLength: 12 * MiB,
    })
  }, 60_000)

  it('aborts the multipart upload when the body fails after some parts, and creates no object', async () => {
    const ns = uniqueNamespace('mp')
    await using files = disk(ns)
    sent.length = 0
    let i = 0
    const body = new Readable({
      read() {
        if (i++ < 11) this.push(Buffer.alloc(MiB, 1))
        else this.destroy(new Error('the client went away'))
      },
    })
    const err = await files.put('broken.bin', body).catch((e: unknown) => e)
    expect(isStorageError(err, 'STORAGE_DRIVER')).toBe(true)
    expect((err as Error).message).toContain('the client went away')
    expect(sent).toContain('CreateMultipartUploadCommand')
    // s3rver answers AbortMultipartUpload with 405 (not implemented), so what can be checked
    // here is that the kit sent it; on S3, MinIO or R2 it removes the parts.
    expect(sent).toContain('AbortMultipartUploadCommand')
    expect(sent).not.toContain('CompleteMultipartUploadCommand')
    expect(await files.exists('broken.bin')).toBe(false)
  }, 60_000)

  it('aborts on a checksum mismatch found after the parts went up, and reports the mismatch', async () => {
    const ns = uniqueNamespace('mp')
    await using files = disk(ns)
    sent.length = 0
    const err = await files
      .put('sum.bin', Readable.from([Buffer.alloc(6 * MiB, 3), Buffer.alloc(5 * MiB, 4)]), {
        checksum: { algorithm: 'sha256', value: '0'.repeat(64) },
      })
      .catch((e: unknown) => e)
    expect(isStorageError(err, 'STORAGE_CHECKSUM_MISMATCH')).toBe(true)
    expect(sent).toContain('AbortMultipartUploadCommand')
    expect(sent).not.toContain('CompleteMultipartUploadCommand')
    expect(await files.exists('sum.bin')).toBe(false)
  }, 60_000)

  it('names the missing setting: bucket, half credentials, too small parts', async () => {
    const bad = async (s3opts: Record<string, unknown>): Promise<string> => {
      const st = createStorage({ driver: 's3', envPrefix: 'APP_', env: {}, s3: s3opts })
      const e = await st.ready().catch((x: unknown) => x)
      return (e as Error).message
    }
    expect(await bad({})).toContain('APP_STORAGE_S3_BUCKET')
    expect(await bad({ bucket: 'b', accessKeyId: 'AKIA' })).toContain('APP_STORAGE_S3_SECRET_ACCESS_KEY')
    expect(await bad({ bucket: 'b', partSize: 1024 })).toContain('APP_STORAGE_S3_PART_SIZE')
    const described = JSON.stringify(
      createStorage({
        driver: 's3',
        envPrefix: false,
        s3: { bucket: 'b', secretAccessKey: 'very-secret', accessKeyId: 'AKIAXX' },
      }).describe(),
    )
    expect(described).not.toContain('very-secret')
  })

  it('reaches the bucket in ready() and presigns URLs s3rver honours', async () => {
    await using files = disk(uniqueNamespace('mp'))
    await files.ready()
    await files.put('p.txt', 'presigned')
    const res = await fetch(await files.signedUrl('p.txt', { expiresIn: 60_000 }))
    expect(await res.text()).toBe('presigned')
  })
})
