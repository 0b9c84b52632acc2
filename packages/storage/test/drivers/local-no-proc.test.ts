import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createStorage, isStorageError, type Storage } from '@beaver-kit/storage'
import type * as LocalFiles from '../../src/drivers/local-files.ts'

// Where /proc/self/fd cannot say where a descriptor is (off Linux, /proc masked), the local
// driver checks paths with realpath before opening them: the same refusals must hold there.
vi.mock('../../src/drivers/local-files.ts', async (importOriginal) => ({
  ...(await importOriginal<typeof LocalFiles>()),
  descriptorPathsWork: () => Promise.resolve(false),
}))

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p
  } catch (err) {
    return isStorageError(err) ? err.code : `other: ${String(err)}`
  }
  return undefined
}

describe('the local disk without descriptor paths (realpath first)', () => {
  let base = ''
  let root = ''
  let outside = ''
  let disk: Storage
  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'beaver-local-noproc-'))
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

  it('refuses links that point outside and follows those that stay inside', async () => {
    await symlink(outside, join(root, 'link'))
    await symlink(join(outside, 'secret.txt'), join(root, 'file-link'))
    for (const path of ['link/secret.txt', 'file-link']) {
      expect(await codeOf(disk.get(path))).toBe('STORAGE_PATH_ESCAPE')
      expect(await codeOf(disk.getStream(path))).toBe('STORAGE_PATH_ESCAPE')
      expect(await codeOf(disk.stat(path))).toBe('STORAGE_PATH_ESCAPE')
    }
    expect(await codeOf(disk.put('link/planted.txt', 'x'))).toBe('STORAGE_PATH_ESCAPE')
    expect(await codeOf(disk.delete('link/secret.txt'))).toBe('STORAGE_PATH_ESCAPE')
    expect(await readdir(outside)).toEqual(['secret.txt'])
    await disk.put('real/a.txt', 'inside', { metadata: { k: 'v' } })
    await symlink(join(root, 'real'), join(root, 'alias'))
    expect(await disk.getText('alias/a.txt')).toBe('inside')
    expect(await disk.stat('real/a.txt')).toMatchObject({ size: 6, metadata: { k: 'v' } })
    await disk.put('alias/b.txt', 'via alias')
    expect(await readFile(join(root, 'real', 'b.txt'), 'utf8')).toBe('via alias')
  })
})
