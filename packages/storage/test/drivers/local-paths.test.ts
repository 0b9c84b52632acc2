import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createStorage, isStorageError, type Storage } from '@beaver-kit/storage'

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p
  } catch (err) {
    return isStorageError(err) ? err.code : `other: ${String(err)}`
  }
  return undefined
}

describe('the local disk keeps every path inside its root', () => {
  let base = ''
  let root = ''
  let outside = ''
  let disk: Storage
  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'beaver-local-'))
    root = join(base, 'root')
    outside = join(base, 'outside')
    await mkdir(root, { recursive: true })
    await mkdir(outside, { recursive: true })
    await writeFile(join(outside, 'secret.txt'), 'top secret')
    disk = createStorage({ driver: 'local', local: { root }, envPrefix: false })
  })
  afterEach(async () => {
    await disk.close()
    await rm(base, { recursive: true, force: true })
  })

  it('refuses a symlinked folder that points outside, for reads, writes, deletes and listings', async () => {
    await symlink(outside, join(root, 'link'))
    expect(await codeOf(disk.get('link/secret.txt'))).toBe('STORAGE_PATH_ESCAPE')
    expect(await codeOf(disk.stat('link/secret.txt'))).toBe('STORAGE_PATH_ESCAPE')
    expect(await codeOf(disk.put('link/planted.txt', 'x'))).toBe('STORAGE_PATH_ESCAPE')
    expect(await codeOf(disk.put('link/deep/er/planted.txt', 'x'))).toBe('STORAGE_PATH_ESCAPE')
    expect(await codeOf(disk.delete('link/secret.txt'))).toBe('STORAGE_PATH_ESCAPE')
    expect(await readdir(outside)).toEqual(['secret.txt'])
    expect(await readFile(join(outside, 'secret.txt'), 'utf8')).toBe('top secret')
    const listed: string[] = []
    for await (const e of disk.list()) listed.push(e.path)
    expect(listed).toEqual([])
  })

  it('refuses a symlinked file that points outside, and replaces (never follows) it on write', async () => {
    await symlink(join(outside, 'secret.txt'), join(root, 'file-link'))
    expect(await codeOf(disk.get('file-link'))).toBe('STORAGE_PATH_ESCAPE')
    await disk.put('file-link', 'mine')
    expect(await readFile(join(outside, 'secret.txt'), 'utf8')).toBe('top secret')
    expect(await disk.getText('file-link')).toBe('mine')
  })

  it('follows a symlink that stays inside the root', async () => {
    await disk.put('real/a.txt', 'inside')
    await symlink(join(root, 'real'), join(root, 'alias'))
    expect(await disk.getText('alias/a.txt')).toBe('inside')
  })

  it('refuses its own folder, and leaves no temp file after a failed write', async () => {
    expect(await codeOf(disk.put('.beaver/tmp/x', 'x'))).toBe('STORAGE_PATH_INVALID')
    expect(await codeOf(disk.get('.beaver/meta/x.json'))).toBe('STORAGE_PATH_INVALID')
    const failing = new Readable({ read() {} })
    failing.push(Buffer.alloc(10_000))
    setImmediate(() => failing.destroy(new Error('gone')))
    await expect(disk.put('f.bin', failing)).rejects.toThrow()
    expect(await readdir(join(root, '.beaver', 'tmp'))).toEqual([])
    expect(await disk.exists('f.bin')).toBe(false)
  })

  it('refuses a path through a file, naming the path', async () => {
    await disk.put('file.txt', 'x')
    const err = await disk.put('file.txt/child', 'y').catch((e: unknown) => e)
    expect(isStorageError(err, 'STORAGE_DRIVER')).toBe(true)
    expect((err as Error).message).toContain('file.txt/child')
  })

  it('creates the root on first write, under .data/storage by default', async () => {
    const fresh = join(base, 'later', 'made')
    await using d = createStorage({ driver: 'local', local: { root: fresh }, envPrefix: false })
    await d.ready()
    await d.put('x.txt', 'x')
    expect(await readFile(join(fresh, 'x.txt'), 'utf8')).toBe('x')
    const described = createStorage({ envPrefix: false }).describe()
    expect(described.settings.find((s) => s.name === 'STORAGE_LOCAL_ROOT')?.value).toBe('.data/storage')
    expect(described.state.driver).toBe('local')
  })
})
