// The read part of the storage conformance suite, for read-only disks (a zip archive, a disk
// behind a read-only decorator): the subject is built already holding STORAGE_READ_FIXTURE, and
// every read case of the full suite runs against it; every write must fail with STORAGE_READ_ONLY.
import { createHash } from 'node:crypto'
import { expect, it } from 'vitest'
import { defineConformanceSuite } from './conformance.ts'
import { codeOf, type StorageSubject } from './storage.ts'

/** One file a read-only subject must hold, with the attributes it was written with. */
export interface ReadFixtureFile {
  path: string
  body: Buffer
  attributes?: {
    contentType?: string
    cacheControl?: string
    contentDisposition?: string
    metadata?: Record<string, string>
    visibility?: 'public' | 'private'
  }
}

function pseudoRandom(n: number): Buffer {
  const b = Buffer.allocUnsafe(n)
  let x = 11
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff
    b[i] = x >>> 16
  }
  return b
}

const tree = ['img/a.png', 'img/b.png', 'img/sub/c.png', 'imgx.txt', 'docs/été 1.txt', 'z.txt']

/** What a read-only subject is built holding (write it with the disk's own writer, or copy it in). */
export const STORAGE_READ_FIXTURE: readonly ReadFixtureFile[] = [
  { path: 'a.txt', body: Buffer.from('héllo') },
  { path: 'b.bin', body: Buffer.from([0, 1, 2, 255]) },
  { path: 'c.bin', body: pseudoRandom(200_000) },
  { path: 'd.json', body: Buffer.from('{"ok":true}') },
  { path: 'empty', body: Buffer.alloc(0) },
  { path: 'r.txt', body: Buffer.from('0123456789') },
  {
    path: 'doc/report.pdf',
    body: Buffer.from('pdf'),
    attributes: {
      contentType: 'application/x-report',
      cacheControl: 'public, max-age=60',
      contentDisposition: 'attachment; filename="r.pdf"',
      metadata: { owner: 'u-1', 'trace-id': 'abc' },
      visibility: 'public',
    },
  },
  ...tree.map((path) => ({ path, body: Buffer.from(path) })),
]

const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b))

async function paths(it: AsyncIterable<{ path: string }>): Promise<string[]> {
  const out: string[] = []
  for await (const e of it) out.push(e.path)
  return out
}

/**
 * Runs the read cases of the storage suite on a read-only subject that holds
 * STORAGE_READ_FIXTURE: reads of every body, missing files, attributes, ranges, listings and
 * pagination, path refusals, kit-signed download URLs, and writes refused with STORAGE_READ_ONLY.
 * @example describeReadOnlyStorageDriver('zip', () => createStorage({ driver: 'zip', zip: { file } }), {})
 */
export const describeReadOnlyStorageDriver = defineConformanceSuite<StorageSubject, Record<string, never>>(
  'storage (read-only)',
  (ctx) => {
    const s = (): StorageSubject => ctx.subject()

    it('reads every file back byte for byte, as bytes, text, JSON and streams', async () => {
      for (const file of STORAGE_READ_FIXTURE) {
        expect((await s().get(file.path)).equals(file.body), file.path).toBe(true)
        const chunks: Buffer[] = []
        for await (const c of await s().getStream(file.path)) chunks.push(c as Buffer)
        expect(createHash('sha256').update(Buffer.concat(chunks)).digest('hex'), file.path).toBe(
          createHash('sha256').update(file.body).digest('hex'),
        )
      }
      expect(await s().getText('a.txt')).toBe('héllo')
      expect(await s().getJson('d.json')).toEqual({ ok: true })
      expect(await s().exists('c.bin')).toBe(true)
    })

    it('says what is missing', async () => {
      expect(await s().exists('nope.txt')).toBe(false)
      expect(await codeOf(s().get('nope.txt'))).toBe('STORAGE_NOT_FOUND')
      expect(await codeOf(s().getStream('nope.txt'))).toBe('STORAGE_NOT_FOUND')
      expect(await codeOf(s().stat('nope.txt'))).toBe('STORAGE_NOT_FOUND')
      expect(await codeOf(s().stat('img'))).toBe('STORAGE_NOT_FOUND')
    })

    it('reports sizes and the attributes the files were written with', async () => {
      const st = await s().stat('doc/report.pdf')
      expect(st).toMatchObject({ path: 'doc/report.pdf', size: 3, ...STORAGE_READ_FIXTURE[6]!.attributes })
      expect(st.lastModified).toBeInstanceOf(Date)
      expect(await s().stat('c.bin')).toMatchObject({ size: 200_000, metadata: {}, visibility: 'private' })
      expect((await s().stat('img/a.png')).contentType).toBe('image/png')
      expect((await s().stat('empty')).contentType).toBe('application/octet-stream')
    })

    it('serves byte ranges, of small and large files', async () => {
      const read = async (path: string, o: { start?: number; end?: number }): Promise<Buffer> => {
        const chunks: Buffer[] = []
        for await (const c of await s().getStream(path, o)) chunks.push(c as Buffer)
        return Buffer.concat(chunks)
      }
      expect((await read('r.txt', { start: 2, end: 4 })).toString()).toBe('234')
      expect((await read('r.txt', { start: 7 })).toString()).toBe('789')
      expect((await read('r.txt', { end: 0 })).toString()).toBe('0')
      const big = STORAGE_READ_FIXTURE[2]!.body
      expect((await read('c.bin', { start: 150_000, end: 170_000 })).equals(big.subarray(150_000, 170_001))).toBe(true)
      expect(await codeOf(s().getStream('r.txt', { start: 5, end: 2 }))).toBe('STORAGE_OPTIONS_INVALID')
    })

    it('lists recursively or one level with folders, in byte order, page by page', async () => {
      const all = STORAGE_READ_FIXTURE.map((f) => f.path).sort(byteOrder)
      expect(await paths(s().list())).toEqual(all)
      expect(await paths(s().list('img/'))).toEqual(['img/a.png', 'img/b.png', 'img/sub/c.png'])
      expect(await paths(s().list('img'))).toEqual(['img/a.png', 'img/b.png', 'img/sub/c.png', 'imgx.txt'])
      expect(await paths(s().list('img/', { recursive: false }))).toEqual(['img/a.png', 'img/b.png', 'img/sub/'])
      const top: string[] = []
      for await (const e of s().list('', { recursive: false })) top.push(`${e.type}:${e.path}`)
      expect(top).toContain('folder:docs/')
      expect(top).toContain('file:z.txt')
      expect(top.filter((t) => t.includes('/', t.indexOf(':') + 1) && t.startsWith('file'))).toEqual([])
      const first = await s().listPage('img/', { limit: 2 })
      expect(first.entries.map((e) => e.path)).toEqual(['img/a.png', 'img/b.png'])
      const second = await s().listPage('img/', { limit: 2, cursor: first.cursor! })
      expect(second.entries.map((e) => e.path)).toEqual(['img/sub/c.png'])
      expect(second.cursor).toBeUndefined()
      expect((await s().listPage('img/sub/')).entries[0]).toMatchObject({
        type: 'file',
        path: 'img/sub/c.png',
        size: 13,
      })
      expect(await paths(s().list('nothing/'))).toEqual([])
    })

    it('refuses paths that could escape or confuse', async () => {
      for (const p of ['../x', 'a/../../x', '/etc/passwd', 'a\\..\\x', 'a\0b', 'a//b', './a', ''])
        expect(await codeOf(s().get(p)), p).toBe('STORAGE_PATH_INVALID')
      expect(await codeOf(paths(s().list('../')))).toBe('STORAGE_PATH_INVALID')
    })

    it('refuses every write with STORAGE_READ_ONLY and changes nothing', async () => {
      expect(await codeOf(s().put('new.txt', 'x'))).toBe('STORAGE_READ_ONLY')
      expect(await codeOf(s().put('a.txt', 'overwrite'))).toBe('STORAGE_READ_ONLY')
      expect(await codeOf(s().delete('a.txt'))).toBe('STORAGE_READ_ONLY')
      expect(await codeOf(s().deleteMany(['a.txt']))).toBe('STORAGE_READ_ONLY')
      expect(await codeOf(s().copy('a.txt', 'copy.txt'))).toBe('STORAGE_READ_ONLY')
      expect(await codeOf(s().move('a.txt', 'moved.txt'))).toBe('STORAGE_READ_ONLY')
      expect(await codeOf(s().setVisibility('a.txt', 'public'))).toBe('STORAGE_READ_ONLY')
      expect(await s().getText('a.txt')).toBe('héllo')
      expect(await s().exists('new.txt')).toBe(false)
      expect(await s().exists('copy.txt')).toBe(false)
      expect(await paths(s().list())).toHaveLength(STORAGE_READ_FIXTURE.length)
    })

    it('signs download URLs served by handleSignedRequest; an upload URL is refused', async () => {
      const url = await s().signedUrl('r.txt', { expiresIn: '5m' })
      const res = await s().handleSignedRequest(new Request(url))
      expect(res.status).toBe(200)
      expect(await res.text()).toBe('0123456789')
      expect((await s().handleSignedRequest(new Request(url.replace('r.txt', 'a.txt')))).status).toBe(403)
      const up = await s().signedUrl('up.txt', { method: 'PUT' })
      const put = await s().handleSignedRequest(new Request(up, { method: 'PUT', body: 'x' }))
      expect(put.status).toBeGreaterThanOrEqual(400)
      expect(await s().exists('up.txt')).toBe(false)
    })
  },
)
