// Presigned POST policies of the s3 driver, posted to testkit's local S3 POST endpoint, which
// enforces the policy as AWS documents it for Signature Version 4 (and accepts AWS's own
// published example, see testkit's s3-post-server.test.ts). s3rver and moto store a POST
// without reading its policy, so they cannot show that a form outside it is refused; this does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { S3Client } from '@aws-sdk/client-s3'
import { startS3PostServer, type LocalS3Post } from '@beaver-kit/testkit/s3-post-server'
import { createStorage, type Storage } from '@beaver-kit/storage'

let server: LocalS3Post
let client: S3Client
let files: Storage
/** The endpoint's clock runs this many ms ahead of the real one. */
let ahead = 0

beforeAll(async () => {
  server = await startS3PostServer({ bucket: 'beaver-forms', now: () => new Date(Date.now() + ahead) })
  client = new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    credentials: server.credentials,
    forcePathStyle: true,
  })
  files = createStorage({ driver: 's3', client, envPrefix: false, s3: { bucket: server.bucket } })
})
afterAll(async () => {
  await files?.close()
  client?.destroy()
  await server?.stop()
})

const photo = (path = 'forms/photo.png'): Promise<{ url: string; fields: Record<string, string> }> =>
  files.signedPost(path, {
    contentType: 'image/png',
    cacheControl: 'max-age=60',
    metadata: { owner: 'u-9' },
    maxSize: 1000,
    expiresIn: '5m',
  })

async function send(
  post: { url: string; fields: Record<string, string> },
  change: Record<string, string> = {},
  size = 10,
): Promise<{ status: number; code: string | undefined }> {
  const form = new FormData()
  for (const [name, value] of Object.entries({ ...post.fields, ...change })) form.append(name, value)
  form.append('file', new Blob([Buffer.alloc(size, 7)], { type: 'image/png' }), 'photo.png')
  const res = await fetch(post.url, { method: 'POST', body: form })
  return { status: res.status, code: /<Code>([^<]*)<\/Code>/.exec(await res.text())?.[1] }
}

/** The form's field of that name, whatever its case (the SDK writes X-Amz-Signature). */
const nameOf = (fields: Record<string, string>, name: string): string =>
  Object.keys(fields).find((k) => k.toLowerCase() === name)!

describe('presigned POST on an endpoint that enforces the policy', () => {
  it('stores a form posted as signed, with every attribute put() would give', async () => {
    const post = await photo()
    expect(post.url).toBe(`${server.endpoint}/${server.bucket}`)
    expect(await send(post, {}, 1000)).toEqual({ status: 204, code: undefined })
    expect(server.objects.get('forms/photo.png')).toMatchObject({
      contentType: 'image/png',
      headers: { 'cache-control': 'max-age=60' },
      metadata: { owner: 'u-9', 'beaver-visibility': 'private' },
    })
    expect(server.objects.get('forms/photo.png')?.body.length).toBe(1000)
  })

  it.each([
    ['a file over maxSize', {}, 1001, 400, 'EntityTooLarge'],
    ['another key', { key: 'forms/other.png' }, 10, 403, 'AccessDenied'],
    ['another Content-Type', { 'Content-Type': 'text/html' }, 10, 403, 'AccessDenied'],
    ['other metadata', { 'x-amz-meta-owner': 'u-1' }, 10, 403, 'AccessDenied'],
    ['public visibility', { 'x-amz-meta-beaver-visibility': 'public' }, 10, 403, 'AccessDenied'],
    ['a field the policy does not name', { 'x-amz-meta-role': 'admin' }, 10, 403, 'AccessDenied'],
  ] as const)('refuses %s', async (_what, change, size, status, code) => {
    const before = server.objects.size
    const post = await photo('forms/refused.png')
    expect(await send(post, change, size)).toEqual({ status, code })
    expect(server.objects.has('forms/refused.png')).toBe(false)
    expect(server.objects.size).toBe(before)
  })

  it('refuses a form whose signature was altered', async () => {
    const post = await photo('forms/refused.png')
    const name = nameOf(post.fields, 'x-amz-signature')
    const signature = post.fields[name]!
    const altered = (signature[0] === 'a' ? 'b' : 'a') + signature.slice(1)
    expect(await send(post, { [name]: altered })).toEqual({ status: 403, code: 'SignatureDoesNotMatch' })
    expect(server.objects.has('forms/refused.png')).toBe(false)
  })

  it('refuses a form whose policy was altered to allow more, though the signature is the original', async () => {
    const post = await photo('forms/refused.png')
    const name = nameOf(post.fields, 'policy')
    const policy = JSON.parse(Buffer.from(post.fields[name]!, 'base64').toString()) as { conditions: unknown[] }
    policy.conditions = policy.conditions.map((c) =>
      Array.isArray(c) && c[0] === 'content-length-range' ? ['content-length-range', 0, 10_000] : c,
    )
    const widened = Buffer.from(JSON.stringify(policy)).toString('base64')
    expect(await send(post, { [name]: widened }, 5000)).toEqual({ status: 403, code: 'SignatureDoesNotMatch' })
  })

  it('refuses a form posted after its policy expired', async () => {
    const post = await photo('forms/late.png')
    ahead = 5 * 60_000 + 2000
    try {
      expect(await send(post)).toEqual({ status: 403, code: 'AccessDenied' })
      expect(server.objects.has('forms/late.png')).toBe(false)
    } finally {
      ahead = 0
    }
    // The same form within its time is taken: the clock alone refused it.
    expect(await send(post)).toEqual({ status: 204, code: undefined })
    expect(server.objects.has('forms/late.png')).toBe(true)
  })
})
