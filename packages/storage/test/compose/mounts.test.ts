import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isStorageError, createStorage, mountDisks, readOnly, type Storage } from '@beaver-kit/storage'
import { LocalDisk } from '@beaver-kit/storage/local'
import { MemoryDisk } from '@beaver-kit/storage/memory'

let root = ''
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'beaver-storage-mounts-'))
})
afterAll(() => rm(root, { recursive: true, force: true }))

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p
  } catch (err) {
    return isStorageError(err) ? err.code : String(err)
  }
  return undefined
}

async function paths(it: AsyncIterable<{ type: string; path: string }>): Promise<string[]> {
  const out: string[] = []
  for await (const e of it) out.push(`${e.type === 'folder' ? 'dir' : 'file'}:${e.path}`)
  return out
}

function disks(name: string): { files: Storage; main: MemoryDisk; avatars: MemoryDisk; local: LocalDisk } {
  const main = new MemoryDisk()
  const avatars = new MemoryDisk()
  const local = new LocalDisk({ root: join(root, name) })
  const files = createStorage({
    envPrefix: false,
    driver: mountDisks({ '/': main, '/avatars': avatars, 'media/tmp/': local }),
    signing: { key: 's'.repeat(40), baseUrl: 'http://files.test/s' },
  })
  return { files, main, avatars, local }
}

describe('mounts', () => {
  it('routes each path to the deepest mount, with the mount point taken off', async () => {
    const { files, main, avatars } = disks('route')
    await files.put('avatars/1.png', 'one', { metadata: { user: 'u1' } })
    await files.put('media/tmp/upload.bin', 'tmp')
    await files.put('readme.txt', 'root')
    expect(await avatars.stat('1.png')).toMatchObject({ size: 3, metadata: { user: 'u1' } })
    expect(await readFile(join(root, 'route', 'upload.bin'), 'utf8')).toBe('tmp')
    expect(await main.stat('readme.txt')).toBeDefined()
    expect(await main.stat('avatars/1.png')).toBeUndefined()
    expect(await files.getText('avatars/1.png')).toBe('one')
    expect(await files.delete('media/tmp/upload.bin')).toBe(true)
    expect(await files.exists('media/tmp/upload.bin')).toBe(false)
    expect(await codeOf(files.put('avatars', 'x'))).toBe('STORAGE_NOT_MOUNTED')
  })

  it('copies and moves across mounts by streaming, keeping attributes', async () => {
    const { files, avatars } = disks('copy')
    await files.put('incoming/a.png', Buffer.alloc(200_000, 1), { contentType: 'image/png', metadata: { k: 'v' } })
    await files.copy('incoming/a.png', 'avatars/a.png')
    expect(await files.stat('avatars/a.png')).toMatchObject({
      size: 200_000,
      contentType: 'image/png',
      metadata: { k: 'v' },
    })
    await files.move('avatars/a.png', 'media/tmp/a.png')
    expect(await avatars.stat('a.png')).toBeUndefined()
    expect((await files.get('media/tmp/a.png')).equals(Buffer.alloc(200_000, 1))).toBe(true)
    // Within one mount, the disk's own copy.
    await files.copy('incoming/a.png', 'incoming/b.png')
    expect(await files.exists('incoming/b.png')).toBe(true)
    expect(await codeOf(files.move('nothing.png', 'avatars/x.png'))).toBe('STORAGE_NOT_FOUND')
  })

  it('keeps the source when a cross-mount move fails', async () => {
    const files = createStorage({
      envPrefix: false,
      driver: mountDisks({
        '/': new MemoryDisk(),
        '/archive': readOnly(new MemoryDisk()),
        '/small': new MemoryDisk({ maxBytes: 10 }),
      }),
    })
    await files.put('doc.txt', 'a document')
    expect(await codeOf(files.move('doc.txt', 'archive/doc.txt'))).toBe('STORAGE_READ_ONLY')
    await files.put('big.txt', 'more than ten bytes')
    expect(await codeOf(files.move('big.txt', 'small/big.txt'))).toBe('STORAGE_TOO_LARGE')
    expect(await files.getText('big.txt')).toBe('more than ten bytes')
    expect(await files.getText('doc.txt')).toBe('a document')
    expect(await files.exists('small/big.txt')).toBe(false)
  })

  it('carries tags across mounts, and refuses to move a tagged file to a disk without tags', async () => {
    const tagless = new MemoryDisk()
    Object.defineProperty(tagless, 'capabilities', { value: { ...tagless.capabilities, tags: false } })
    const files = createStorage({
      envPrefix: false,
      driver: mountDisks({
        '/': new MemoryDisk(),
        '/local': new LocalDisk({ root: join(root, 'tags') }),
        '/plain': tagless,
      }),
    })
    await files.put('doc.txt', 'tagged', { tags: { project: 'beaver' } })
    await files.copy('doc.txt', 'local/doc.txt')
    expect(await files.getTags('local/doc.txt')).toEqual({ project: 'beaver' })
    expect(await codeOf(files.move('doc.txt', 'plain/doc.txt'))).toBe('STORAGE_UNSUPPORTED')
    expect(await files.exists('plain/doc.txt')).toBe(false)
    expect(await files.getTags('doc.txt')).toEqual({ project: 'beaver' })
    await files.setTags('doc.txt', {})
    await files.move('doc.txt', 'plain/doc.txt')
    expect(await files.getText('plain/doc.txt')).toBe('tagged')
    expect(await codeOf(files.getTags('plain/doc.txt'))).toBe('STORAGE_UNSUPPORTED')
    expect(await codeOf(files.put('plain/x.txt', 'x', { tags: { a: 'b' } }))).toBe('STORAGE_UNSUPPORTED')
    expect(await files.exists('plain/x.txt')).toBe(false)
  })

  it('lists across mounts in byte order, mount points as folders, page by page', async () => {
    const { files, main } = disks('list')
    // A file the root disk holds under a mount point is hidden by the mount.
    await main.put('avatars/hidden.png', {
      body: Readable.from([Buffer.from('x')]),
      attributes: { contentType: 'image/png', visibility: 'private' },
    })
    for (const p of [
      'a.txt',
      'avatars/1.png',
      'avatars/2.png',
      'b.txt',
      'media/cover.jpg',
      'media/tmp/t1',
      'media/tmp/t2',
      'z.txt',
    ])
      await files.put(p, p)
    const all = [
      'a.txt',
      'avatars/1.png',
      'avatars/2.png',
      'b.txt',
      'media/cover.jpg',
      'media/tmp/t1',
      'media/tmp/t2',
      'z.txt',
    ]
    expect(await paths(files.list())).toEqual(all.map((p) => `file:${p}`))
    expect(await paths(files.list('', { recursive: false }))).toEqual([
      'file:a.txt',
      'dir:avatars/',
      'file:b.txt',
      'dir:media/',
      'file:z.txt',
    ])
    expect(await paths(files.list('media/', { recursive: false }))).toEqual(['file:media/cover.jpg', 'dir:media/tmp/'])
    expect(await paths(files.list('media/tmp/'))).toEqual(['file:media/tmp/t1', 'file:media/tmp/t2'])
    expect(await paths(files.list('av'))).toEqual(['file:avatars/1.png', 'file:avatars/2.png'])
    // Pages of two walk every mount without losing or repeating an entry.
    const seen: string[] = []
    let cursor: string | undefined
    do {
      const page = await files.listPage('', { limit: 2, ...(cursor ? { cursor } : {}) })
      expect(page.entries.length).toBeLessThanOrEqual(2)
      seen.push(...page.entries.map((e) => e.path))
      cursor = page.cursor
    } while (cursor)
    expect(seen).toEqual(all)
  })

  it('signs with the backend where the mount can, with the kit elsewhere, and refuses paths no disk holds', async () => {
    const presigning = Object.assign(new MemoryDisk(), {
      capabilities: { signedUrls: true, nativeCopy: true, ranges: true, multipart: false },
      signedUrl: async (key: string) => `https://cdn.test/${key}`,
    })
    const files = createStorage({
      envPrefix: false,
      driver: mountDisks({ '/cdn': presigning, '/local': new MemoryDisk() }),
      signing: { key: 's'.repeat(40), baseUrl: 'http://files.test/s' },
    })
    expect(await files.signedUrl('cdn/a.png')).toBe('https://cdn.test/a.png')
    const kit = await files.signedUrl('local/a.png')
    expect(kit.startsWith('http://files.test/s/local/a.png?')).toBe(true)
    expect(await codeOf(files.put('other/a.png', 'x'))).toBe('STORAGE_NOT_MOUNTED')
    expect(await paths(files.list('', { recursive: false }))).toEqual(['dir:cdn/', 'dir:local/'])
    await files.ready()
    await files.close()
  })

  it('refuses a bad mount table', () => {
    expect(() => mountDisks({})).toThrow(/at least one mount/)
    expect(() => mountDisks({ '/a': new MemoryDisk(), 'a/': new MemoryDisk() })).toThrow(/given twice/)
    expect(() => mountDisks({ '/a/../b': new MemoryDisk() })).toThrow(/refused/)
  })
})
