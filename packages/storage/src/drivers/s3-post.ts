import type { S3Client } from '@aws-sdk/client-s3'
import { importPeer } from '@beaver-kit/core'
import type { DriverPut, SignedPost } from '../driver.ts'
import { VISIBILITY } from './s3-uploads.ts'

/**
 * A presigned POST policy: the form a browser posts straight to the bucket. The policy pins
 * the key, the content type, every attribute (sent as form fields, so the object gets them as
 * a put() would give them) and a size range; S3 refuses a form that strays from it.
 */
export async function presignPost(
  client: S3Client,
  bucket: string,
  key: string,
  options: { expiresInSeconds: number; maxBytes: number; attributes: DriverPut['attributes'] },
): Promise<SignedPost> {
  const { createPresignedPost } = await importPeer(
    '@aws-sdk/s3-presigned-post',
    () => import('@aws-sdk/s3-presigned-post'),
    'presigned POST uploads of the s3 storage driver',
  )
  const { contentType, cacheControl, contentDisposition, metadata, visibility } = options.attributes
  const fields: Record<string, string> = {
    'Content-Type': contentType,
    ...(cacheControl === undefined ? {} : { 'Cache-Control': cacheControl }),
    ...(contentDisposition === undefined ? {} : { 'Content-Disposition': contentDisposition }),
    [`x-amz-meta-${VISIBILITY}`]: visibility,
  }
  for (const [name, value] of Object.entries(metadata ?? {})) fields[`x-amz-meta-${name}`] = value
  const post = await createPresignedPost(client, {
    Bucket: bucket,
    Key: key,
    Fields: fields,
    Conditions: [
      ['content-length-range', 0, options.maxBytes],
      ...Object.entries(fields).map(([name, value]) => ({ [name]: value })),
    ],
    Expires: options.expiresInSeconds,
  })
  return { url: post.url, fields: post.fields }
}
