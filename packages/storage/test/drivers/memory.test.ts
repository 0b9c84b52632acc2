import { describeStorageDriver } from '@beaver-kit/testkit/storage'
import { createStorage } from '@beaver-kit/storage'

const signing = { key: 'k'.repeat(40), baseUrl: 'http://files.test/signed' }

describeStorageDriver(
  'memory',
  (namespace) => createStorage({ driver: 'memory', namespace, envPrefix: false, maxFileSize: 1024 * 1024, signing }),
  { maxFileSize: 1024 * 1024, multipartBytes: 300_000, multipart: false, nativeSignedUrls: false, tags: true },
)
