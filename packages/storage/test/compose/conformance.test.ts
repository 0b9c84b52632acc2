// The whole storage conformance suite over each decorator and over mounts, on memory and local
// disks: a wrapped disk must behave exactly like a plain one wherever the wrapper applies.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll } from 'vitest'
import { createKeyRing, generateKeyRingEntry } from '@beaver-kit/krypto'
import { describeStorageDriver } from '@beaver-kit/testkit/storage'
import { cached, createStorage, encrypted, mountDisks, validated, type StorageDriver } from '@beaver-kit/storage'
import { LocalDisk } from '@beaver-kit/storage/local'
import { MemoryDisk } from '@beaver-kit/storage/memory'

let root = ''
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'beaver-storage-compose-'))
})
afterAll(() => rm(root, { recursive: true, force: true }))

const signing = { key: 'k'.repeat(40), baseUrl: 'http://files.test/signed' }
const maxFileSize = 1024 * 1024
const suite = { maxFileSize, multipartBytes: 300_000, multipart: false, nativeSignedUrls: false, tags: true }
const keys = createKeyRing([generateKeyRingEntry('old'), generateKeyRingEntry('now')].reverse())
const over = (driver: StorageDriver, namespace: string) =>
  createStorage({ driver, namespace, envPrefix: false, maxFileSize, signing })

describeStorageDriver(
  'encrypted memory',
  (ns) => over(encrypted(new MemoryDisk(), { keys, segmentSize: 4096 }), ns),
  suite,
)
describeStorageDriver('encrypted local', (ns) => over(encrypted(new LocalDisk({ root }), { keys }), ns), suite)
describeStorageDriver(
  'validated memory',
  (ns) => over(validated(new MemoryDisk(), { maxSize: maxFileSize, sniff: false }), ns),
  suite,
)
// A driver without object tags (a third-party one, say): tags are refused with a typed error,
// directly and through mounts.
class TaglessMemory extends MemoryDisk {
  override readonly capabilities = { ...new MemoryDisk().capabilities, tags: false }
  override async stat(key: string): ReturnType<MemoryDisk['stat']> {
    const stat = await super.stat(key)
    if (!stat) return undefined
    const { tags: _none, ...rest } = stat
    return rest
  }
}
describeStorageDriver('memory without tags', (ns) => over(new TaglessMemory(), ns), { ...suite, tags: false })
describeStorageDriver(
  'mounts (without tags)',
  (ns) => over(mountDisks({ '/': new MemoryDisk(), [`/${ns}`]: new TaglessMemory() }), ns),
  { ...suite, tags: false },
)
describeStorageDriver('cached memory', (ns) => over(cached(new MemoryDisk()), ns), suite)
describeStorageDriver(
  'cached local',
  (ns) => over(cached(new LocalDisk({ root }), { maxFileBytes: 100_000 }), ns),
  suite,
)
// Everything under the namespace routed to the root mount, and everything to a mount of its own.
describeStorageDriver(
  'mounts (root)',
  (ns) => over(mountDisks({ '/': new MemoryDisk(), '/elsewhere': new MemoryDisk() }), ns),
  suite,
)
describeStorageDriver(
  'mounts (mounted)',
  (ns) =>
    over(mountDisks({ '/': new MemoryDisk(), [`/${ns}`]: new LocalDisk({ root: join(root, 'mounted', ns) }) }), ns),
  suite,
)
