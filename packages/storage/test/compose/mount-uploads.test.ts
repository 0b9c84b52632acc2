// Multipart control through mounts: initiate, parts (from the process and by presigned URL),
// listParts, complete, abort, pending uploads and cleanup go to the disk the path is mounted
// on, with the mount point taken off. The S3 mount runs on moto (s3rver lacks ListParts,
// ListMultipartUploads and AbortMultipartUpload).
import { afterAll, describe, expect, it } from 'vitest'
import { startMotoS3 } from '@beaver-kit/testkit/moto'
import { createStorage, isStorageError, mountDisks, type Storage, type StorageDriver } from '@beaver-kit/storage'
import { MemoryDisk } from '@beaver-kit/storage/memory'
import { s3Driver } from '@beaver-kit/storage/s3'

const MiB = 1024 * 1024
const moto = await startMotoS3('beaver-storage-mount-uploads')
const opened: Storage[] = []
afterAll(async () => {
  for (const s of opened) await s.close()
  await moto?.stop()
})

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p
  } catch (err) {
    return isStorageError(err) ? err.code : String(err)
  }
  return undefined
}

async function mounted(): Promise<{ files: Storage; direct: Storage }> {
  const s3 = {
    bucket: moto!.bucket,
    endpoint: moto!.endpoint,
    region: moto!.region,
    accessKeyId: moto!.credentials.accessKeyId,
    secretAccessKey: moto!.credentials.secretAccessKey,
    forcePathStyle: true,
    checksums: 'when-required' as const,
  }
  const disk: StorageDriver = await s3Driver.create(s3, { variable: (s) => `BEAVER_STORAGE_${s}` })
  const files = createStorage({ envPrefix: false, driver: mountDisks({ '/': new MemoryDisk(), '/media/big': disk }) })
  const direct = createStorage({ envPrefix: false, driver: 's3', s3 })
  opened.push(files, direct)
  return { files, direct }
}

describe.runIf(moto)('chunked uploads through mounts', () => {
  it('routes initiate, parts, part URLs, listParts and complete to the mounted disk, without its mount point', async () => {
    const { files, direct } = await mounted()
    const upload = await files.uploads.initiate('media/big/clip.bin', {
      contentType: 'video/x-beaver',
      metadata: { origin: 'camera-7' },
      tags: { project: 'beaver' },
    })
    await files.uploads.uploadPart(upload, 1, Buffer.alloc(5 * MiB, 1))
    const url = await files.uploads.partUrl(upload, 2)
    const sent = await fetch(url, { method: 'PUT', body: Buffer.alloc(10, 2) })
    expect(sent.status).toBe(200)
    expect((await files.uploads.listParts(upload)).map((p) => [p.partNumber, p.size])).toEqual([
      [1, 5 * MiB],
      [2, 10],
    ])
    const done = await files.uploads.complete(upload)
    expect(done).toMatchObject({ path: 'media/big/clip.bin', size: 5 * MiB + 10 })
    expect(await files.stat('media/big/clip.bin')).toMatchObject({
      contentType: 'video/x-beaver',
      metadata: { origin: 'camera-7' },
      tags: { project: 'beaver' },
    })
    // On the S3 disk itself the file sits at the key without the mount point.
    expect((await direct.stat('clip.bin')).size).toBe(5 * MiB + 10)
    expect(await direct.exists('media/big/clip.bin')).toBe(false)
  }, 60_000)

  it('lists pending uploads with their mounted paths, aborts and cleans them up through the mounts', async () => {
    const { files, direct } = await mounted()
    const kept = await files.uploads.initiate('media/big/keep.bin')
    const stale = await files.uploads.initiate('media/big/old/stale.bin')
    expect((await direct.uploads.listPending()).map((u) => u.path).sort()).toEqual(['keep.bin', 'old/stale.bin'])
    expect((await files.uploads.listPending()).map((u) => u.path).sort()).toEqual([
      'media/big/keep.bin',
      'media/big/old/stale.bin',
    ])
    expect((await files.uploads.listPending('media/big/old/')).map((u) => u.uploadId)).toEqual([stale.uploadId])
    expect(await files.uploads.listPending('elsewhere/')).toEqual([])
    await files.uploads.abort(kept)
    expect(await codeOf(files.uploads.listParts(kept))).toBe('STORAGE_UPLOAD_INVALID')
    const initiated = (await files.uploads.listPending())[0]!.initiated.getTime()
    expect(await files.uploads.cleanup({ olderThan: '1h', prefix: 'media/', now: initiated + 7200_000 })).toBe(1)
    expect(await files.uploads.listPending()).toEqual([])
  }, 60_000)

  it('refuses multipart control on a mount whose disk has none, naming the mount', async () => {
    const { files } = await mounted()
    const err = await files.uploads.initiate('notes/a.bin').catch((e: unknown) => e)
    expect(isStorageError(err, 'STORAGE_UNSUPPORTED')).toBe(true)
    expect((err as Error).message).toContain('mounted at "/"')
    expect(await codeOf(files.uploads.listParts({ path: 'notes/a.bin', uploadId: 'x' }))).toBe('STORAGE_UNSUPPORTED')
    const none = createStorage({ envPrefix: false, driver: mountDisks({ '/': new MemoryDisk() }) })
    expect(await codeOf(none.uploads.initiate('a.bin'))).toBe('STORAGE_UNSUPPORTED')
  })
})
