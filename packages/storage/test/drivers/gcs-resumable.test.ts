import { generateKeyPairSync } from 'node:crypto'
import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Storage } from '@google-cloud/storage'
import { startGcsServer, type LocalGcs } from '@beaver-kit/testkit/gcs-server'
import { uniqueNamespace } from '@beaver-kit/testkit'
import { createStorage, isStorageError } from '@beaver-kit/storage'
import { gcsDriver } from '@beaver-kit/storage/gcs'

const KiB = 1024
const bucket = 'beaver-resumable'
const clientEmail = 'kit-resumable@beaver-test.iam.gserviceaccount.com'
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
let gcs: LocalGcs
beforeAll(async () => {
  gcs = await startGcsServer({ buckets: [bucket], signers: new Map([[clientEmail, publicKey]]) })
})
afterAll(() => gcs?.stop())

function disk(namespace: string, extra: Record<string, unknown> = {}) {
  return createStorage({
    driver: 'gcs',
    namespace,
    envPrefix: false,
    gcs: { bucket, projectId: 'p', apiEndpoint: gcs.apiEndpoint, chunkSize: 256 * KiB, ...extra },
  })
}

describe('gcs resumable uploads', () => {
  it('creates the session with every attribute and sends 256 KiB chunks, the last one with the total', async () => {
    const ns = uniqueNamespace('gcs')
    await using files = disk(ns)
    gcs.requests.length = 0
    const body = Readable.from([Buffer.alloc(300 * KiB, 1), Buffer.alloc(300 * KiB, 2)])
    const result = await files.put('video.bin', body, {
      contentType: 'video/mp4',
      cacheControl: 'max-age=600',
      contentDisposition: 'attachment',
      metadata: { owner: 'u-42' },
    })
    expect(result).toMatchObject({ multipart: true, size: 600 * KiB })
    expect(
      gcs.requests.filter((r) => r.startsWith('POST /upload/')).map((r) => r.includes('uploadType=resumable')),
    ).toEqual([true])
    expect(gcs.requests.filter((r) => r.startsWith('PUT /upload/'))).toHaveLength(3)
    const stored = gcs.objects(bucket).get(`${ns}/video.bin`)
    expect(stored).toMatchObject({
      contentType: 'video/mp4',
      cacheControl: 'max-age=600',
      contentDisposition: 'attachment',
      metadata: { owner: 'u-42', 'beaver-visibility': 'private' },
    })
    expect(stored?.data.length).toBe(600 * KiB)
  })

  it('never finalizes a failed body: the session is cancelled and no object exists', async () => {
    const ns = uniqueNamespace('gcs')
    await using files = disk(ns)
    let i = 0
    const body = new Readable({
      read() {
        if (i++ < 4) this.push(Buffer.alloc(200 * KiB, 1))
        else this.destroy(new Error('the client went away'))
      },
    })
    const err = await files.put('broken.bin', body).catch((e: unknown) => e)
    expect((err as Error).message).toContain('the client went away')
    expect(gcs.requests.some((r) => r.startsWith('DELETE /upload/'))).toBe(true)
    expect(gcs.openSessions()).toBe(0)
    expect(await files.exists('broken.bin')).toBe(false)
  })

  it('reports a refused upload (no such bucket) as a driver error, one request or resumable', async () => {
    await using files = createStorage({
      driver: 'gcs',
      envPrefix: false,
      gcs: { bucket: 'no-such-bucket', projectId: 'p', apiEndpoint: gcs.apiEndpoint, chunkSize: 256 * KiB },
    })
    for (const body of [Buffer.alloc(10), Buffer.alloc(600 * KiB)]) {
      const err = await files.put('x.bin', body).catch((e: unknown) => e)
      expect(isStorageError(err, 'STORAGE_DRIVER')).toBe(true)
    }
  })

  it('presigns V4 URLs that the server checks against the key, and refuses them tampered', async () => {
    await using files = disk(uniqueNamespace('gcs'), { clientEmail, privateKey: pem.replace(/\n/g, '\\n') })
    await files.put('s.txt', 'signed')
    const url = await files.signedUrl('s.txt', { expiresIn: 60_000 })
    expect(new URL(url).searchParams.get('X-Goog-Algorithm')).toBe('GOOG4-RSA-SHA256')
    expect(await (await fetch(url)).text()).toBe('signed')
    const forged = url.replace(/X-Goog-Signature=[0-9a-f]{8}/, 'X-Goog-Signature=00000000')
    const refused = await fetch(forged)
    expect(refused.status).toBe(403)
    expect(await refused.text()).toContain('<Code>SignatureDoesNotMatch</Code>')
  })

  it('names the missing setting, keeps the key out of describe(), and refuses signing without a key', async () => {
    const message = async (g: Record<string, unknown>): Promise<string> =>
      (
        (await createStorage({ driver: 'gcs', envPrefix: 'APP_', env: {}, gcs: g })
          .ready()
          .catch((x: unknown) => x)) as Error
      ).message
    expect(await message({})).toContain('APP_STORAGE_GCS_BUCKET')
    expect(await message({ bucket, clientEmail })).toContain('APP_STORAGE_GCS_PRIVATE_KEY')
    expect(await message({ bucket, privateKey: 'k' })).toContain('APP_STORAGE_GCS_CLIENT_EMAIL')
    expect(await message({ bucket, chunkSize: 1000 })).toContain('APP_STORAGE_GCS_CHUNK_SIZE')
    const described = JSON.stringify(
      createStorage({ driver: 'gcs', envPrefix: false, gcs: { bucket, clientEmail, privateKey: pem } }).describe(),
    )
    expect(described).not.toContain('PRIVATE KEY')
    await using unsigned = disk(uniqueNamespace('gcs'))
    const err = await unsigned.signedUrl('x.txt').catch((e: unknown) => e)
    expect(isStorageError(err, 'STORAGE_UNSUPPORTED')).toBe(true)
    expect((err as Error).message).toContain('BEAVER_STORAGE_GCS_PRIVATE_KEY')
    expect(gcsDriver.peers).toEqual(['@google-cloud/storage'])
  })

  it('reuses a client it is given and reaches the bucket in ready()', async () => {
    const client = new Storage({ apiEndpoint: gcs.apiEndpoint, projectId: 'p' })
    await using files = createStorage({ driver: 'gcs', envPrefix: false, client, gcs: { bucket } })
    await files.ready()
    await files.put('c.txt', 'client')
    const [data] = await client.bucket(bucket).file('c.txt').download()
    expect(data.toString()).toBe('client')
    await using missing = createStorage({ driver: 'gcs', envPrefix: false, client, gcs: { bucket: 'nope' } })
    expect(await missing.ready().catch((e: unknown) => (e as { code?: unknown }).code)).toBe(404)
  })
})
