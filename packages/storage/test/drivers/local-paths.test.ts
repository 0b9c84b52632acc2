import { readdir, readFile, symlink } from 'node:fs/promises'
import { execFileSync } from 'node:child_process'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createStorage, isStorageError, type Storage } from '@beaver-kit/storage'
import { codeOf, makeLocalFixture, removeLocalFixture } from './local-fixture.ts'

describe('the local disk keeps every path inside its root', () => {
  let base = ''
  let root = ''
  let outside = ''
  let disk: Storage
  beforeEach(async () => {
    ;({ base, root, outside, disk } = await makeLocalFixture('beaver-local-'))
  })
  afterEach(() => removeLocalFixture({ base, disk }))

  it('refuses a symlinked folder that points outside, for reads, writes, deletes and listings', async () => {
    await symlink(outside, join(root, 'link'))
    expect(await codeOf(disk.get('link/secret.txt'))).toBe('STORAGE_PATH_ESCAPE')
    expect(await codeOf(disk.stat('link/secret.txt'))).toBe('STORAGE_PATH_ESCAPE')
    expect(await codeOf(disk.exists('link/secret.txt'))).toBe('STORAGE_PATH_ESCAPE')
    expect(await codeOf(disk.getStream('link/secret.txt'))).toBe('STORAGE_PATH_ESCAPE')
    expect(await codeOf(disk.getStream('link/secret.txt', { start: 0, end: 2 }))).toBe('STORAGE_PATH_ESCAPE')
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
    expect(await codeOf(disk.getStream('file-link'))).toBe('STORAGE_PATH_ESCAPE')
    await disk.put('file-link', 'mine')
    expect(await readFile(join(outside, 'secret.txt'), 'utf8')).toBe('top secret')
    expect(await disk.getText('file-link')).toBe('mine')
  })

  it('follows a symlink that stays inside the root', async () => {
    await disk.put('real/a.txt', 'inside')
    await symlink(join(root, 'real'), join(root, 'alias'))
    expect(await disk.getText('alias/a.txt')).toBe('inside')
    await symlink(join(root, 'real', 'a.txt'), join(root, 'file-alias'))
    expect(await disk.getText('file-alias')).toBe('inside')
    const streamed: Buffer[] = []
    for await (const chunk of await disk.getStream('alias/a.txt', { start: 1, end: 3 })) streamed.push(chunk as Buffer)
    expect(Buffer.concat(streamed).toString()).toBe('nsi')
    expect(await disk.stat('alias/a.txt')).toMatchObject({ size: 6 })
    await disk.put('alias/b.txt', 'through the alias')
    expect(await readFile(join(root, 'real', 'b.txt'), 'utf8')).toBe('through the alias')
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

  it('writes a whole body at once and reads a file in one go, with the same checks as streaming', async () => {
    const seen: number[] = []
    await disk.put('whole.txt', 'x'.repeat(3000), { onProgress: (n) => seen.push(n), metadata: { a: 'b' } })
    expect(seen).toEqual([3000])
    expect((await disk.get('whole.txt')).toString()).toBe('x'.repeat(3000))
    expect(await disk.stat('whole.txt')).toMatchObject({ size: 3000, metadata: { a: 'b' } })
    await disk.put('whole.txt', new Uint8Array([1, 2, 3]))
    expect([...(await disk.get('whole.txt'))]).toEqual([1, 2, 3])
    expect((await disk.stat('whole.txt')).metadata).toEqual({})
    await disk.put('empty.txt', '')
    expect((await disk.get('empty.txt')).length).toBe(0)
    // A folder, a FIFO (opened without blocking) and a file past maxReadSize are never read.
    await disk.put('dir/inner.txt', 'i')
    expect(await codeOf(disk.get('dir'))).toBe('STORAGE_NOT_FOUND')
    execFileSync('mkfifo', [join(root, 'pipe')])
    expect(await codeOf(disk.get('pipe'))).toBe('STORAGE_NOT_FOUND')
    expect(await disk.exists('pipe')).toBe(false)
    const socket = createServer()
    await new Promise<void>((done) => socket.listen(join(root, 'sock'), done))
    expect(await codeOf(disk.get('sock'))).toBe('STORAGE_NOT_FOUND')
    expect(await disk.exists('sock')).toBe(false)
    await new Promise((done) => socket.close(done))
    await using small = createStorage({ driver: 'local', local: { root }, envPrefix: false, maxReadSize: 2999 })
    expect(await codeOf(small.get('big.txt'))).toBe('STORAGE_NOT_FOUND')
    await small.put('big.txt', 'y'.repeat(3000))
    expect(await codeOf(small.get('big.txt'))).toBe('STORAGE_TOO_LARGE')
    // Aborted once the call started: the whole body is no longer written at once, and nothing is stored.
    const controller = new AbortController()
    const pending = codeOf(disk.put('never.txt', 'n', { signal: controller.signal }))
    controller.abort(new Error('cancelled'))
    expect(await pending).toBe('STORAGE_ABORTED')
    expect(await disk.exists('never.txt')).toBe(false)
    expect(await readdir(join(root, '.beaver', 'tmp'))).toEqual([])
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
