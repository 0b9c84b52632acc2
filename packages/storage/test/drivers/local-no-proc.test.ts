import { readdir, readFile, symlink } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Storage } from '@beaver-kit/storage'
import { codeOf, makeLocalFixture, removeLocalFixture } from './local-fixture.ts'
import type * as LocalFiles from '../../src/drivers/local-files.ts'

// Where /proc/self/fd cannot say where a descriptor is (off Linux, /proc masked), the local
// driver checks paths with realpath before opening them: the same refusals must hold there.
vi.mock('../../src/drivers/local-files.ts', async (importOriginal) => ({
  ...(await importOriginal<typeof LocalFiles>()),
  descriptorPathsWork: () => Promise.resolve(false),
}))

describe('the local disk without descriptor paths (realpath first)', () => {
  let base = ''
  let root = ''
  let outside = ''
  let disk: Storage
  beforeEach(async () => {
    ;({ base, root, outside, disk } = await makeLocalFixture('beaver-local-noproc-'))
  })
  afterEach(() => removeLocalFixture({ base, disk }))

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
