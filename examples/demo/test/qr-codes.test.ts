import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startS3rver, type LocalS3 } from '@beaver-kit/testkit/cache-servers'
import { harness, shorten, type Harness } from './helpers.ts'

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

/** Follows GET /links/:code/qr to its signed URL and fetches the PNG. */
async function qrOf(h: Harness, qrUrl: string): Promise<{ signed: string; res: Response }> {
  const redirect = await fetch(qrUrl, { redirect: 'manual' })
  expect(redirect.status).toBe(302)
  const signed = redirect.headers.get('location') ?? ''
  return { signed, res: await fetch(signed) }
}

describe('Beaver Links: a QR code per link', () => {
  let h: Harness | undefined
  const root = mkdtempSync(join(tmpdir(), 'beaver-links-qr-'))
  let s3: LocalS3
  beforeAll(async () => {
    s3 = await startS3rver('beaver-links-qr')
  })
  afterEach(async () => {
    await h?.close()
    h = undefined
  })
  afterAll(async () => {
    await s3?.stop()
    rmSync(root, { recursive: true, force: true })
  })

  it('stores a PNG on the local disk and serves it through a kit-signed URL, until the link is deleted', async () => {
    h = await harness({ fetchTitles: false }, {}, { BEAVER_STORAGE_LOCAL_ROOT: root })
    const { status, body } = await shorten(h.app, 'https://example.org/qr')
    expect(status).toBe(201)
    const { code, qrUrl, deleteUrl } = body as { code: string; qrUrl: string; deleteUrl: string }
    expect(qrUrl).toBe(`${h.app.url}/links/${code}/qr`)
    expect(existsSync(join(root, 'qr', `${code}.png`))).toBe(true)
    const { signed, res } = await qrOf(h, qrUrl)
    expect(signed.startsWith(`${h.app.url}/files/qr/${code}.png?`)).toBe(true)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('image/png')
    const png = Buffer.from(await res.arrayBuffer())
    expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true)
    expect((await fetch(signed, { method: 'HEAD' })).headers.get('content-length')).toBe(String(png.length))
    expect((await fetch(signed.replace(/signature=[^&]+/, 'signature=AAAA'))).status).toBe(403)
    expect((await fetch(`${h.app.url}/files/qr/${code}.png`)).status).toBe(403)
    expect((await fetch(`${h.app.url}/links/nope1234/qr`, { redirect: 'manual' })).status).toBe(404)
    expect((await fetch(deleteUrl, { method: 'DELETE' })).status).toBe(200)
    expect(existsSync(join(root, 'qr', `${code}.png`))).toBe(false)
    expect((await fetch(signed)).status).toBe(404)
  })

  it('draws the PNG again when it is missing', async () => {
    h = await harness({ fetchTitles: false }, {}, { BEAVER_STORAGE_LOCAL_ROOT: root })
    const { body } = await shorten(h.app, 'https://example.org/again')
    const { code, qrUrl } = body as { code: string; qrUrl: string }
    const first = Buffer.from(await (await qrOf(h, qrUrl)).res.arrayBuffer())
    expect(h.app.describe().find((d) => d.package === 'storage')?.state).toMatchObject({ driver: 'local' })
    // Lost (or a link made before QR codes existed): the endpoint draws it again.
    rmSync(join(root, 'qr', `${code}.png`))
    const { res } = await qrOf(h, qrUrl)
    expect(Buffer.from(await res.arrayBuffer()).equals(first)).toBe(true)
  })

  it('stores on S3 by environment alone, and hands out a presigned S3 URL', async () => {
    h = await harness(
      { fetchTitles: false },
      {},
      {
        BEAVER_STORAGE_DRIVER: 's3',
        BEAVER_STORAGE_S3_BUCKET: s3.bucket,
        BEAVER_STORAGE_S3_ENDPOINT: s3.endpoint,
        BEAVER_STORAGE_S3_REGION: s3.region,
        BEAVER_STORAGE_S3_ACCESS_KEY_ID: s3.credentials.accessKeyId,
        BEAVER_STORAGE_S3_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
        BEAVER_STORAGE_S3_FORCE_PATH_STYLE: 'true',
        BEAVER_STORAGE_S3_CHECKSUMS: 'when-required',
      },
    )
    const { body } = await shorten(h.app, 'https://example.org/s3')
    const { code, qrUrl } = body as { code: string; qrUrl: string }
    const { signed, res } = await qrOf(h, qrUrl)
    expect(signed.startsWith(`${s3.endpoint}/${s3.bucket}/qr/${code}.png?`)).toBe(true)
    expect(signed).toContain('X-Amz-Signature=')
    expect(res.status).toBe(200)
    expect(
      Buffer.from(await res.arrayBuffer())
        .subarray(0, 8)
        .equals(PNG_SIGNATURE),
    ).toBe(true)
  })
})
