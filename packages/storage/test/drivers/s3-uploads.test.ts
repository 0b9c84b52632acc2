// Resumable chunked uploads on S3: s3rver runs the part upload, browser-direct part URLs and
// completion; moto (which, unlike s3rver, implements ListParts, ListMultipartUploads and
// AbortMultipartUpload) runs resume, abort and the cleanup of stale uploads.
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { S3Client } from '@aws-sdk/client-s3'
import { startS3rver, type LocalS3 } from '@beaver-kit/testkit/cache-servers'
import { startMotoS3, type MotoS3 } from '@beaver-kit/testkit/moto'
import { uniqueNamespace } from '@beaver-kit/testkit'
import { createStorage, isStorageError, type Storage } from '@beaver-kit/storage'

const MiB = 1024 * 1024
let s3: LocalS3
// Started while the file is collected: whether the moto cases run depends on it.
const moto: MotoS3 | undefined = await startMotoS3('beaver-storage-uploads')
const clients: S3Client[] = []
beforeAll(async () => {
  s3 = await startS3rver('beaver-storage-uploads')
})
afterAll(async () => {
  for (const c of clients) c.destroy()
  await Promise.all([s3?.stop(), moto?.stop()])
})

function on(
  server: {
    endpoint: string
    region: string
    credentials: { accessKeyId: string; secretAccessKey: string }
    bucket: string
  },
  namespace: string,
): Storage {
  const client = new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    credentials: server.credentials,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  })
  clients.push(client)
  return createStorage({ driver: 's3', client, namespace, envPrefix: false, s3: { bucket: server.bucket } })
}

function bytes(n: number, seed: number): Buffer {
  return Buffer.alloc(n, seed)
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p
  } catch (err) {
    return isStorageError(err) ? err.code : String(err)
  }
  return undefined
}

const attrs = {
  contentType: 'video/x-beaver',
  cacheControl: 'private, max-age=5',
  metadata: { origin: 'camera-7' },
  visibility: 'public' as const,
}

describe('chunked uploads on s3rver', () => {
  it('uploads parts from the process and from a browser (presigned part URLs), then completes with the attributes of initiate', async () => {
    const files = on(s3, uniqueNamespace('up'))
    const upload = await files.uploads.initiate('videos/clip.bin', attrs)
    const first = bytes(5 * MiB, 1)
    const second = bytes(5 * MiB, 2)
    const last = bytes(1234, 3)
    const p1 = await files.uploads.uploadPart(upload, 1, first)
    // What a browser does: PUT the bytes to the presigned URL, read the ETag header back.
    const url = await files.uploads.partUrl(upload, 2, { expiresIn: '10m' })
    const res = await fetch(url, { method: 'PUT', body: second })
    expect(res.status).toBe(200)
    const p2 = { partNumber: 2, etag: res.headers.get('etag') ?? '' }
    const p3 = await files.uploads.uploadPart(upload, 3, Readable.from([last]), { size: last.length })
    const done = await files.uploads.complete(upload, [p3, p1, p2])
    expect(done).toMatchObject({ path: 'videos/clip.bin', size: 10 * MiB + 1234 })
    const whole = Buffer.concat([first, second, last])
    expect(
      createHash('sha256')
        .update(await files.get('videos/clip.bin'))
        .digest('hex'),
    ).toBe(createHash('sha256').update(whole).digest('hex'))
    await files.put('videos/single.bin', 'one request', attrs)
    const pick = (s: Awaited<ReturnType<Storage['stat']>>) => ({
      contentType: s.contentType,
      cacheControl: s.cacheControl,
      metadata: s.metadata,
      visibility: s.visibility,
    })
    expect(pick(await files.stat('videos/clip.bin'))).toEqual(pick(await files.stat('videos/single.bin')))
    await files.close()
  }, 60_000)

  it('refuses bad part numbers, empty completions and drivers without multipart control', async () => {
    const files = on(s3, uniqueNamespace('up'))
    const upload = await files.uploads.initiate('x.bin')
    expect(await codeOf(files.uploads.uploadPart(upload, 0, 'x'))).toBe('STORAGE_OPTIONS_INVALID')
    expect(await codeOf(files.uploads.partUrl(upload, 10_001))).toBe('STORAGE_OPTIONS_INVALID')
    expect(await codeOf(files.uploads.complete(upload, []))).toBe('STORAGE_UPLOAD_INVALID')
    expect(await codeOf(files.uploads.initiate('../x'))).toBe('STORAGE_PATH_INVALID')
    const memory = createStorage({ driver: 'memory', envPrefix: false })
    expect(await codeOf(memory.uploads.initiate('a.bin'))).toBe('STORAGE_UNSUPPORTED')
    await files.close()
  })
})

describe('presigned POST policy on s3rver', () => {
  // s3rver stores a multipart/form-data POST but does not check its policy or signature, so
  // this proves the form and the attributes it carries on a real S3 implementation; that a form
  // outside the policy is refused is proven in s3-post.test.ts, on testkit's endpoint that
  // enforces the policy as AWS documents it (moto 5.2.1 does not check policies either).
  it('gives a form a browser posts straight to the bucket, with every attribute of put()', async () => {
    const files = on(s3, uniqueNamespace('post'))
    const post = await files.signedPost('forms/photo.png', {
      contentType: 'image/png',
      cacheControl: 'max-age=60',
      metadata: { owner: 'u-9' },
      maxSize: 1000,
      expiresIn: '5m',
    })
    expect(post.fields).toMatchObject({ 'Content-Type': 'image/png', 'x-amz-meta-owner': 'u-9' })
    const policy = JSON.parse(Buffer.from(post.fields.Policy!, 'base64').toString()) as { conditions: unknown[] }
    expect(policy.conditions).toContainEqual(['content-length-range', 0, 1000])
    const form = new FormData()
    for (const [name, value] of Object.entries(post.fields)) form.append(name, value)
    form.append('file', new Blob([Buffer.from('png bytes')], { type: 'image/png' }), 'photo.png')
    const res = await fetch(post.url, { method: 'POST', body: form })
    expect(res.status).toBeLessThan(300)
    expect(await files.getText('forms/photo.png')).toBe('png bytes')
    expect(await files.stat('forms/photo.png')).toMatchObject({
      contentType: 'image/png',
      cacheControl: 'max-age=60',
      metadata: { owner: 'u-9' },
      visibility: 'private',
    })
    const memory = createStorage({ driver: 'memory', envPrefix: false })
    expect(await codeOf(memory.signedPost('a.png'))).toBe('STORAGE_UNSUPPORTED')
    await files.close()
  })
})

describe.runIf(moto)('chunked uploads on moto: resume, abort, cleanup', () => {
  it('resumes from the parts S3 already has, and completes with them', async () => {
    const files = on(moto!, uniqueNamespace('resume'))
    const upload = await files.uploads.initiate('big/file.bin', attrs)
    await files.uploads.uploadPart(upload, 1, bytes(5 * MiB, 4))
    // The process restarts: all it kept is { path, uploadId }.
    const kept = JSON.parse(JSON.stringify(upload)) as typeof upload
    const have = await files.uploads.listParts(kept)
    expect(have).toMatchObject([{ partNumber: 1, size: 5 * MiB }])
    await files.uploads.uploadPart(kept, 2, bytes(100, 5))
    const done = await files.uploads.complete(kept)
    expect(done.size).toBe(5 * MiB + 100)
    expect(await files.stat('big/file.bin')).toMatchObject({ metadata: { origin: 'camera-7' }, visibility: 'public' })
    await files.close()
  }, 60_000)

  it('aborts, lists pending uploads under a prefix, and cleans up those older than a bound', async () => {
    const ns = uniqueNamespace('clean')
    const files = on(moto!, ns)
    const stale = await files.uploads.initiate('tmp/stale.bin')
    await files.uploads.uploadPart(stale, 1, 'some bytes')
    const other = await files.uploads.initiate('keep/other.bin')
    const dropped = await files.uploads.initiate('tmp/dropped.bin')
    await files.uploads.abort(dropped)
    expect(await codeOf(files.uploads.listParts(dropped))).toBe('STORAGE_UPLOAD_INVALID')
    const pending = await files.uploads.listPending()
    expect(pending.map((u) => u.path).sort()).toEqual(['keep/other.bin', 'tmp/stale.bin'])
    expect(pending[0]!.initiated).toBeInstanceOf(Date)
    // moto reports one fixed initiation time for every upload, so the clock is set from it:
    // half an hour after it nothing is older than an hour; two hours after, the ones under tmp/ are.
    const initiated = pending[0]!.initiated.getTime()
    expect(await files.uploads.cleanup({ olderThan: '1h', now: initiated + 1800_000 })).toBe(0)
    expect(await files.uploads.cleanup({ olderThan: '1h', prefix: 'tmp/', now: initiated + 7200_000 })).toBe(1)
    expect((await files.uploads.listPending()).map((u) => u.uploadId)).toEqual([other.uploadId])
    expect(await files.exists('tmp/stale.bin')).toBe(false)
    await files.close()
  }, 60_000)
})

describe.runIf(moto)('object tags on S3 (moto)', () => {
  it('sends the same tags with a single upload, a multipart upload and a chunked upload, and reads them back', async () => {
    const files = on(moto!, uniqueNamespace('tags'))
    const tags = { project: 'beaver', 'cost center': 'r+d=1 / 2' }
    await files.put('one.bin', 'small', { tags })
    expect((await files.put('parts.bin', Readable.from([bytes(9 * MiB, 6)]), { tags })).multipart).toBe(true)
    expect((await files.put('parts2.bin', Readable.from([bytes(9 * MiB, 7)]))).multipart).toBe(true)
    const upload = await files.uploads.initiate('chunked.bin', { tags })
    await files.uploads.complete(upload, [await files.uploads.uploadPart(upload, 1, 'one part')])
    for (const path of ['one.bin', 'parts.bin', 'chunked.bin']) {
      expect(await files.getTags(path), path).toEqual(tags)
      expect((await files.stat(path)).tags, path).toEqual(tags)
    }
    expect(await files.getTags('parts2.bin')).toEqual({})
    expect(await codeOf(files.getTags('missing.bin'))).toBe('STORAGE_NOT_FOUND')
    expect(await codeOf(files.uploads.initiate('bad.bin', { tags: { 'a#b': 'c' } }))).toBe('STORAGE_OPTIONS_INVALID')
    await files.close()
  }, 60_000)
})
