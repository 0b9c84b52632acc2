// The folders the local driver's escape tests work in: a root the disk serves and, beside it,
// an outside folder holding secret.txt that no path through the disk may reach.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createStorage, isStorageError, type Storage } from '@beaver-kit/storage'

export interface LocalFixture {
  base: string
  root: string
  outside: string
  disk: Storage
}

/** A fresh temp folder with root/ and outside/secret.txt, and a local disk on root. */
export async function makeLocalFixture(prefix: string): Promise<LocalFixture> {
  const base = await mkdtemp(join(tmpdir(), prefix))
  const root = join(base, 'root')
  const outside = join(base, 'outside')
  await mkdir(root, { recursive: true })
  await mkdir(outside, { recursive: true })
  await writeFile(join(outside, 'secret.txt'), 'top secret')
  return { base, root, outside, disk: createStorage({ driver: 'local', local: { root }, envPrefix: false }) }
}

export async function removeLocalFixture(fixture: Pick<LocalFixture, 'base' | 'disk'>): Promise<void> {
  await fixture.disk.close()
  await rm(fixture.base, { recursive: true, force: true })
}

/** The error code a storage call rejected with, `other: ...` for any other error, undefined if it resolved. */
export async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p
  } catch (err) {
    return isStorageError(err) ? err.code : `other: ${String(err)}`
  }
  return undefined
}
