import { afterAll, beforeAll } from 'vitest'
import { BlobServiceClient } from '@azure/storage-blob'
import { startAzurite, type LocalAzurite } from '@beaver-kit/testkit/azurite'
import { describeStorageDriver } from '@beaver-kit/testkit/storage'
import { createStorage } from '@beaver-kit/storage'

const MiB = 1024 * 1024
const container = 'beaver-storage'
let azurite: LocalAzurite
beforeAll(async () => {
  azurite = await startAzurite()
  await BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(container).create()
}, 30_000)
afterAll(() => azurite?.stop())

describeStorageDriver(
  'azure',
  (namespace) =>
    createStorage({
      driver: 'azure',
      namespace,
      envPrefix: false,
      maxFileSize: 4 * MiB,
      azure: { container, connectionString: azurite.connectionString, blockSize: MiB, concurrency: 2 },
    }),
  {
    maxFileSize: 4 * MiB,
    multipartBytes: 3 * MiB + 5,
    multipart: true,
    nativeSignedUrls: true,
    signedPutHeaders: { 'x-ms-blob-type': 'BlockBlob' },
    tags: true,
  },
)
