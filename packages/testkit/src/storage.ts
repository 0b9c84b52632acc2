// The storage conformance suite: every @beaver-kit/storage driver runs all of it against its
// real backend. The subject is typed structurally so the testkit does not depend on the package.
import { Readable } from 'node:stream'
import { createHash } from 'node:crypto'
import { expect, it } from 'vitest'
import { isBeaverError } from '@beaver-kit/core'
import { defineConformanceSuite } from './conformance.ts'
import { eventually } from './eventually.ts'

type Visibility = 'public' | 'private'
interface Attrs {
  contentType?: string
  cacheControl?: string
  contentDisposition?: string
  metadata?: Record<string, string>
  visibility?: Visibility
}
interface Stat {
  path: string
  size: number
  lastModified: Date
  etag?: string | undefined
  contentType: string
  cacheControl?: string | undefined
  contentDisposition?: string | undefined
  metadata: Record<string, string>
  visibility: Visibility
  tags?: Record<string, string> | undefined
}
type Entry = { type: 'file'; path: string; size: number } | { type: 'folder'; path: string }

/** What the suite needs from a storage (the public API of `@beaver-kit/storage`'s `Storage`). */
export interface StorageSubject {
  readonly driver: string
  put(
    path: string,
    body: unknown,
    options?: Attrs & {
      checksum?: { algorithm: 'sha256' | 'md5' | 'crc32'; value: string }
      signal?: AbortSignal
      size?: number
      tags?: Record<string, string>
    },
  ): Promise<{ path: string; size: number; multipart: boolean }>
  get(path: string): Promise<Buffer>
  getText(path: string): Promise<string>
  getJson<T = unknown>(path: string): Promise<T>
  getStream(path: string, options?: { start?: number; end?: number }): Promise<Readable>
  stat(path: string): Promise<Stat>
  exists(path: string): Promise<boolean>
  getTags(path: string): Promise<Record<string, string>>
  setTags(path: string, tags: Record<string, string>): Promise<void>
  delete(path: string): Promise<boolean>
  deleteMany(paths: readonly string[]): Promise<number>
  list(prefix?: string, options?: { recursive?: boolean; limit?: number }): AsyncIterable<Entry>
  listPage(
    prefix?: string,
    options?: { recursive?: boolean; limit?: number; cursor?: string },
  ): Promise<{ entries: Entry[]; cursor?: string | undefined }>
  copy(from: string, to: string): Promise<void>
  move(from: string, to: string): Promise<void>
  setVisibility(path: string, visibility: Visibility): Promise<void>
  signedUrl(
    path: string,
    options?: { method?: 'GET' | 'PUT'; expiresIn?: number | string; contentType?: string },
  ): Promise<string>
  handleSignedRequest(request: Request): Promise<Response>
  close(): Promise<void>
}

export interface StorageSuiteOptions {
  /** The subject was built with maxFileSize set to this many bytes. */
  maxFileSize: number
  /** Bytes that make this driver upload in parts (more than its part size); small for drivers without multipart. */
  multipartBytes: number
  /** True when the driver uploads multipartBytes in parts (the parity case then compares a real multipart upload). */
  multipart: boolean
  /** True when signed URLs are presigned by the backend (fetched directly); else served by handleSignedRequest. */
  nativeSignedUrls: boolean
  /** Headers a presigned PUT needs besides content-type (Azure: `x-ms-blob-type: BlockBlob`). */
  signedPutHeaders?: Record<string, string>
  /**
   * True when the driver has object tags (the tags case round-trips them and the parity case
   * compares them); false when it must refuse them with STORAGE_UNSUPPORTED; `{ skip }` when
   * the server under test cannot show them (the case is reported skipped with that reason).
   */
  tags: boolean | { skip: string }
}

/** The kit error code a promise rejects with (undefined when it resolves). */
export async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p
  } catch (err) {
    return isBeaverError(err) ? err.code : `not a kit error: ${String(err)}`
  }
  return undefined
}

async function all(it: AsyncIterable<Entry>): Promise<string[]> {
  const out: string[] = []
  for await (const e of it) out.push(e.path)
  return out
}

function bytes(n: number, seed = 7): Buffer {
  const b = Buffer.allocUnsafe(n)
  let x = seed
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff
    b[i] = x >>> 16
  }
  return b
}

/** A stream of `total` bytes in 64 KiB chunks that never says its length (like a request body). */
function unknownLength(data: Buffer): Readable {
  let at = 0
  return new Readable({
    read() {
      if (at >= data.length) return this.push(null)
      this.push(data.subarray(at, at + 65_536))
      at += 65_536
    },
  })
}

async function fetchSigned(s: StorageSubject, native: boolean, url: string, init?: RequestInit): Promise<Response> {
  return native ? fetch(url, init) : s.handleSignedRequest(new Request(url, init))
}

/**
 * The shared storage cases: round trips of every body type, attributes, ranges, listings and
 * pagination, copy/move, path attacks, size limits, failed and aborted bodies leaving nothing,
 * checksums, metadata parity between single and multipart uploads, signed URLs.
 * @example describeStorageDriver('memory', (ns) => createStorage({ driver: 'memory', namespace: ns, ... }), { ... })
 */
export const describeStorageDriver = defineConformanceSuite<StorageSubject, StorageSuiteOptions>('storage', (ctx) => {
  const s = (): StorageSubject => ctx.subject()

  it('round-trips strings, bytes, Node streams and web streams', async () => {
    expect((await s().put('a.txt', 'héllo')).size).toBe(6)
    expect(await s().getText('a.txt')).toBe('héllo')
    await s().put('b.bin', new Uint8Array([0, 1, 2, 255]))
    expect([...(await s().get('b.bin'))]).toEqual([0, 1, 2, 255])
    const data = bytes(200_000)
    expect((await s().put('c.bin', unknownLength(data))).size).toBe(data.length)
    expect((await s().get('c.bin')).equals(data)).toBe(true)
    await s().put('d.json', new Blob(['{"ok":true}']).stream())
    expect(await s().getJson('d.json')).toEqual({ ok: true })
    await s().put('empty', '')
    expect((await s().get('empty')).length).toBe(0)
  })

  it('says what is missing, and deleting a missing file is not an error', async () => {
    expect(await s().exists('nope.txt')).toBe(false)
    expect(await codeOf(s().get('nope.txt'))).toBe('STORAGE_NOT_FOUND')
    expect(await codeOf(s().getStream('nope.txt'))).toBe('STORAGE_NOT_FOUND')
    expect(await codeOf(s().stat('nope.txt'))).toBe('STORAGE_NOT_FOUND')
    expect(await s().delete('nope.txt')).toBe(false)
    await s().put('here.txt', 'x')
    expect(await s().exists('here.txt')).toBe(true)
    expect(await s().delete('here.txt')).toBe(true)
    expect(await s().exists('here.txt')).toBe(false)
  })

  it('stores content type, cache-control, disposition, metadata and visibility, and replaces them on overwrite', async () => {
    await s().put('doc/report.pdf', 'pdf', {
      contentType: 'application/x-report',
      cacheControl: 'public, max-age=60',
      contentDisposition: 'attachment; filename="r.pdf"',
      metadata: { owner: 'u-1', 'trace-id': 'abc' },
      visibility: 'public',
    })
    const st = await s().stat('doc/report.pdf')
    expect(st).toMatchObject({
      path: 'doc/report.pdf',
      size: 3,
      contentType: 'application/x-report',
      cacheControl: 'public, max-age=60',
      contentDisposition: 'attachment; filename="r.pdf"',
      metadata: { owner: 'u-1', 'trace-id': 'abc' },
      visibility: 'public',
    })
    expect(st.lastModified).toBeInstanceOf(Date)
    await s().put('doc/report.pdf', 'again')
    const after = await s().stat('doc/report.pdf')
    expect(after).toMatchObject({ size: 5, contentType: 'application/pdf', metadata: {}, visibility: 'private' })
    expect(after.cacheControl).toBeUndefined()
    await s().put('plain', 'p')
    expect((await s().stat('plain')).contentType).toBe('application/octet-stream')
  })

  it('serves byte ranges', async () => {
    await s().put('r.txt', '0123456789')
    const read = async (o: { start?: number; end?: number }): Promise<string> => {
      const chunks: Buffer[] = []
      for await (const c of await s().getStream('r.txt', o)) chunks.push(c as Buffer)
      return Buffer.concat(chunks).toString()
    }
    expect(await read({ start: 2, end: 4 })).toBe('234')
    expect(await read({ start: 7 })).toBe('789')
    expect(await read({})).toBe('0123456789')
    expect(await codeOf(s().getStream('r.txt', { start: 5, end: 2 }))).toBe('STORAGE_OPTIONS_INVALID')
  })

  it('lists recursively or one level with folders, in byte order, page by page', async () => {
    const paths = ['img/a.png', 'img/b.png', 'img/sub/c.png', 'imgx.txt', 'docs/été 1.txt', 'z.txt']
    for (const p of paths) await s().put(p, p)
    expect(await all(s().list())).toEqual([...paths].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))))
    expect(await all(s().list('img/'))).toEqual(['img/a.png', 'img/b.png', 'img/sub/c.png'])
    expect(await all(s().list('img'))).toEqual(['img/a.png', 'img/b.png', 'img/sub/c.png', 'imgx.txt'])
    expect(await all(s().list('img/', { recursive: false }))).toEqual(['img/a.png', 'img/b.png', 'img/sub/'])
    const top = []
    for await (const e of s().list('', { recursive: false })) top.push(`${e.type}:${e.path}`)
    expect(top).toEqual(['folder:docs/', 'folder:img/', 'file:imgx.txt', 'file:z.txt'])
    const first = await s().listPage('img/', { limit: 2 })
    expect(first.entries.map((e) => e.path)).toEqual(['img/a.png', 'img/b.png'])
    expect(first.cursor).toBeTruthy()
    const second = await s().listPage('img/', { limit: 2, cursor: first.cursor! })
    expect(second.entries.map((e) => e.path)).toEqual(['img/sub/c.png'])
    expect(second.cursor).toBeUndefined()
    expect(await all(s().list('', { limit: 3 }))).toHaveLength(3)
    const file = (await s().listPage('img/sub/')).entries[0]
    expect(file).toMatchObject({ type: 'file', path: 'img/sub/c.png', size: 13 })
    expect(await all(s().list('nothing/'))).toEqual([])
  })

  it('copies with attributes, moves, and refuses a missing source', async () => {
    await s().put('src.txt', 'data', { metadata: { k: 'v' }, cacheControl: 'no-store', contentType: 'text/x-custom' })
    await s().copy('src.txt', 'dir/copy.txt')
    expect(await s().getText('dir/copy.txt')).toBe('data')
    expect(await s().stat('dir/copy.txt')).toMatchObject({
      metadata: { k: 'v' },
      cacheControl: 'no-store',
      contentType: 'text/x-custom',
    })
    await s().move('src.txt', 'moved.txt')
    expect(await s().exists('src.txt')).toBe(false)
    expect(await s().stat('moved.txt')).toMatchObject({ metadata: { k: 'v' }, size: 4 })
    expect(await codeOf(s().copy('missing.txt', 'x.txt'))).toBe('STORAGE_NOT_FOUND')
    expect(await codeOf(s().move('missing.txt', 'x.txt'))).toBe('STORAGE_NOT_FOUND')
    expect(await s().deleteMany(['moved.txt', 'dir/copy.txt', 'missing.txt'])).toBe(2)
  })

  it('changes visibility without touching the bytes or the other attributes', async () => {
    await s().put('v.txt', 'v', { metadata: { a: 'b' } })
    await s().setVisibility('v.txt', 'public')
    expect(await s().stat('v.txt')).toMatchObject({ visibility: 'public', metadata: { a: 'b' } })
    expect(await s().getText('v.txt')).toBe('v')
    expect(await codeOf(s().setVisibility('none.txt', 'public'))).toBe('STORAGE_NOT_FOUND')
  })

  it('refuses paths that could escape or confuse: "..", absolute, backslash, NUL, "//", overlong', async () => {
    const bad = [
      '../x',
      'a/../../x',
      '..',
      '/etc/passwd',
      'C:/x',
      'a\\..\\x',
      'a\0b',
      'a//b',
      './a',
      'a/',
      '',
      'x'.repeat(5000),
      'tab\tname',
    ]
    for (const p of bad) {
      expect(await codeOf(s().put(p, 'x')), p).toBe('STORAGE_PATH_INVALID')
      expect(await codeOf(s().get(p)), p).toBe('STORAGE_PATH_INVALID')
      expect(await codeOf(s().delete(p)), p).toBe('STORAGE_PATH_INVALID')
    }
    expect(await codeOf(s().copy('ok.txt', '../x'))).toBe('STORAGE_PATH_INVALID')
    expect(await codeOf(all(s().list('../')))).toBe('STORAGE_PATH_INVALID')
    expect(await all(s().list())).toEqual([])
  })

  it('refuses a body over maxFileSize, known or streamed, and stores nothing', async () => {
    const big = bytes(ctx.options.maxFileSize + 1)
    expect(await codeOf(s().put('big.bin', big))).toBe('STORAGE_TOO_LARGE')
    expect(await codeOf(s().put('big.bin', unknownLength(big)))).toBe('STORAGE_TOO_LARGE')
    expect(await s().exists('big.bin')).toBe(false)
  })

  it('leaves no object (and keeps the old one) when the body fails or is aborted mid-upload', async () => {
    await s().put('keep.txt', 'old')
    const failing = new Readable({ read() {} })
    failing.push(bytes(100_000))
    setImmediate(() => failing.destroy(new Error('client went away')))
    await expect(s().put('keep.txt', failing)).rejects.toThrow()
    expect(await s().getText('keep.txt')).toBe('old')
    await expect(
      s().put(
        'fresh.txt',
        Readable.from([Buffer.from('x')]).compose(async function* (src) {
          for await (const c of src) yield c
          throw new Error('boom')
        }),
      ),
    ).rejects.toThrow()
    expect(await s().exists('fresh.txt')).toBe(false)
    const controller = new AbortController()
    const slow = new Readable({ read() {} })
    slow.push(bytes(50_000))
    const pending = s().put('aborted.txt', slow, { signal: controller.signal })
    setImmediate(() => controller.abort(new Error('user cancelled')))
    await expect(pending).rejects.toThrow()
    slow.destroy()
    expect(await s().exists('aborted.txt')).toBe(false)
    expect(await all(s().list())).toEqual(['keep.txt'])
  })

  it('verifies a checksum end to end: a match stores, a mismatch stores nothing', async () => {
    const data = bytes(70_000)
    const sha = createHash('sha256').update(data).digest()
    await s().put('sum.bin', unknownLength(data), { checksum: { algorithm: 'sha256', value: sha.toString('hex') } })
    expect((await s().get('sum.bin')).equals(data)).toBe(true)
    await s().put('sum64.bin', data, { checksum: { algorithm: 'sha256', value: sha.toString('base64') } })
    const wrong = createHash('sha256').update('other').digest('hex')
    expect(
      await codeOf(s().put('bad.bin', unknownLength(data), { checksum: { algorithm: 'sha256', value: wrong } })),
    ).toBe('STORAGE_CHECKSUM_MISMATCH')
    expect(await codeOf(s().put('bad.bin', 'x', { checksum: { algorithm: 'crc32', value: '00000000' } }))).toBe(
      'STORAGE_CHECKSUM_MISMATCH',
    )
    expect(await s().exists('bad.bin')).toBe(false)
  })

  it('keeps identical attributes whether a file went up in one request or in parts', async () => {
    const attrs = {
      contentType: 'video/x-beaver',
      cacheControl: 'private, max-age=5',
      contentDisposition: 'inline',
      metadata: { origin: 'camera-7', checksum: 'abc123' },
      visibility: 'public' as const,
    }
    const tags = ctx.options.tags === true ? { tags: { source: 'camera 7', 'batch:id': 'a+b=c/d' } } : {}
    const large = bytes(ctx.options.multipartBytes)
    const single = await s().put('one.bin', 'small body', { ...attrs, ...tags })
    const parts = await s().put('parts.bin', unknownLength(large), { ...attrs, ...tags })
    expect(single.multipart).toBe(false)
    expect(parts.multipart).toBe(ctx.options.multipart)
    expect(parts.size).toBe(large.length)
    const a = await s().stat('one.bin')
    const b = await s().stat('parts.bin')
    const pick = (x: Stat): Record<string, unknown> => ({
      contentType: x.contentType,
      cacheControl: x.cacheControl,
      contentDisposition: x.contentDisposition,
      metadata: x.metadata,
      visibility: x.visibility,
      ...(ctx.options.tags === true ? { tags: x.tags } : {}),
    })
    expect(pick(b)).toEqual(pick(a))
    expect(pick(a)).toEqual({ ...attrs, ...tags })
    expect(b.size).toBe(large.length)
    const back = createHash('sha256')
      .update(await s().get('parts.bin'))
      .digest('hex')
    expect(back).toBe(createHash('sha256').update(large).digest('hex'))
  }, 60_000)

  const tagsOption = ctx.options.tags
  ctx.itIf(typeof tagsOption !== 'object', typeof tagsOption === 'object' ? tagsOption.skip : '')(
    'object tags: stored with the upload, read by stat() and getTags(), replaced by setTags(), copied; refused where the driver has none',
    async () => {
      if (tagsOption === false) {
        expect(await codeOf(s().put('t/x.txt', 'x', { tags: { a: 'b' } }))).toBe('STORAGE_UNSUPPORTED')
        expect(await s().exists('t/x.txt')).toBe(false)
        await s().put('t/y.txt', 'y')
        expect(await codeOf(s().getTags('t/y.txt'))).toBe('STORAGE_UNSUPPORTED')
        expect(await codeOf(s().setTags('t/y.txt', { a: 'b' }))).toBe('STORAGE_UNSUPPORTED')
        expect((await s().stat('t/y.txt')).tags).toBeUndefined()
        return
      }
      const tags = { project: 'beaver', 'cost center': 'r+d=1 / 2' }
      await s().put('t/one.txt', 'one', { tags, metadata: { a: 'b' } })
      expect((await s().stat('t/one.txt')).tags).toEqual(tags)
      expect(await s().getTags('t/one.txt')).toEqual(tags)
      await s().put('t/plain.txt', 'p')
      expect((await s().stat('t/plain.txt')).tags).toEqual({})
      expect(await s().getTags('t/plain.txt')).toEqual({})
      await s().setTags('t/one.txt', { stage: 'done' })
      expect(await s().getTags('t/one.txt')).toEqual({ stage: 'done' })
      expect(await s().stat('t/one.txt')).toMatchObject({ metadata: { a: 'b' }, tags: { stage: 'done' } })
      expect(await s().getText('t/one.txt')).toBe('one')
      await s().copy('t/one.txt', 't/copy.txt')
      expect((await s().stat('t/copy.txt')).tags).toEqual({ stage: 'done' })
      await s().setVisibility('t/copy.txt', 'public')
      expect(await s().stat('t/copy.txt')).toMatchObject({ visibility: 'public', tags: { stage: 'done' } })
      await s().setTags('t/one.txt', {})
      expect((await s().stat('t/one.txt')).tags).toEqual({})
      await s().put('t/copy.txt', 'over')
      expect(await s().getTags('t/copy.txt')).toEqual({})
      expect(await codeOf(s().setTags('t/missing.txt', { a: 'b' }))).toBe('STORAGE_NOT_FOUND')
      expect(await codeOf(s().getTags('t/missing.txt'))).toBe('STORAGE_NOT_FOUND')
      const eleven = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, 'v']))
      expect(await codeOf(s().put('t/bad.txt', 'x', { tags: eleven }))).toBe('STORAGE_OPTIONS_INVALID')
      expect(await codeOf(s().put('t/bad.txt', 'x', { tags: { 'a#b': 'v' } }))).toBe('STORAGE_OPTIONS_INVALID')
      expect(await codeOf(s().setTags('t/plain.txt', { ok: 'semi;colon' }))).toBe('STORAGE_OPTIONS_INVALID')
      expect(await s().exists('t/bad.txt')).toBe(false)
      expect(await s().getTags('t/plain.txt')).toEqual({})
    },
  )

  it('signs download and upload URLs that grant exactly one method on one path', async () => {
    const native = ctx.options.nativeSignedUrls
    await s().put('signed/file.txt', 'secret bytes', { contentType: 'text/plain' })
    const url = await s().signedUrl('signed/file.txt', { expiresIn: '5m' })
    const res = await fetchSigned(s(), native, url)
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('secret bytes')
    const tampered = url.replace('file.txt', 'other.txt')
    expect((await fetchSigned(s(), native, tampered)).status).toBeGreaterThanOrEqual(400)
    const up = await s().signedUrl('signed/upload.txt', { method: 'PUT', contentType: 'text/plain' })
    const put = await fetchSigned(s(), native, up, {
      method: 'PUT',
      body: 'uploaded',
      headers: { 'content-type': 'text/plain', ...ctx.options.signedPutHeaders },
    })
    expect(put.status).toBeLessThan(300)
    expect(await s().getText('signed/upload.txt')).toBe('uploaded')
    if (!native) {
      const expired = await s().signedUrl('signed/file.txt', { expiresIn: 1 })
      await eventually(async () => expect((await fetchSigned(s(), native, expired)).status).toBe(403), {
        timeoutMs: 5000,
      })
      expect((await fetchSigned(s(), native, url, { method: 'PUT', body: 'x' })).status).toBe(403)
    }
  })
})
