import { generateKeyPairSync } from 'node:crypto'
import { afterAll, beforeAll } from 'vitest'
import { startGcsServer, type LocalGcs } from '@beaver-kit/testkit/gcs-server'
import { describeStorageDriver } from '@beaver-kit/testkit/storage'
import { createStorage } from '@beaver-kit/storage'

const KiB = 1024
const bucket = 'beaver-storage'
const clientEmail = 'kit-test@beaver-test.iam.gserviceaccount.com'
// A throwaway service account key made for this run: the server trusts its public half.
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
let gcs: LocalGcs
beforeAll(async () => {
  gcs = await startGcsServer({ buckets: [bucket], signers: new Map([[clientEmail, publicKey]]) })
})
afterAll(() => gcs?.stop())

describeStorageDriver(
  'gcs',
  (namespace) =>
    createStorage({
      driver: 'gcs',
      namespace,
      envPrefix: false,
      maxFileSize: 2048 * KiB,
      gcs: {
        bucket,
        projectId: 'beaver-test',
        apiEndpoint: gcs.apiEndpoint,
        clientEmail,
        privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        chunkSize: 256 * KiB,
      },
    }),
  { maxFileSize: 2048 * KiB, multipartBytes: 1000 * KiB + 3, multipart: true, nativeSignedUrls: true, tags: true },
)
