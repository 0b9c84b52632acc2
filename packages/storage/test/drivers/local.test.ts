import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll } from 'vitest'
import { describeStorageDriver } from '@beaver-kit/testkit/storage'
import { createStorage } from '@beaver-kit/storage'

let root = ''
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'beaver-storage-'))
})
afterAll(() => rm(root, { recursive: true, force: true }))

const signing = { key: 'k'.repeat(40), baseUrl: 'http://files.test/signed' }

describeStorageDriver(
  'local',
  (namespace) =>
    createStorage({ driver: 'local', local: { root }, namespace, envPrefix: false, maxFileSize: 1024 * 1024, signing }),
  { maxFileSize: 1024 * 1024, multipartBytes: 300_000, multipart: false, nativeSignedUrls: false, tags: true },
)
