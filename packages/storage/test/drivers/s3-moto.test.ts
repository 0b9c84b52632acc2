// The whole conformance suite on moto's S3 server as well as on s3rver: moto stores the tags
// sent with PutObject and CreateMultipartUpload and reports x-amz-tagging-count, which s3rver
// does not, so the tags case (and tags in the parity case) run here.
import { afterAll } from 'vitest'
import { startMotoS3 } from '@beaver-kit/testkit/moto'
import { describeStorageDriver } from '@beaver-kit/testkit/storage'
import { createStorage } from '@beaver-kit/storage'

const MiB = 1024 * 1024
const moto = await startMotoS3('beaver-storage-conformance')
afterAll(() => moto?.stop())

if (moto)
  describeStorageDriver(
    's3 (moto)',
    (namespace) =>
      createStorage({
        driver: 's3',
        namespace,
        envPrefix: false,
        maxFileSize: 12 * MiB,
        s3: {
          bucket: moto.bucket,
          endpoint: moto.endpoint,
          region: moto.region,
          accessKeyId: moto.credentials.accessKeyId,
          secretAccessKey: moto.credentials.secretAccessKey,
          forcePathStyle: true,
          partSize: 5 * MiB,
          checksums: 'when-required',
        },
      }),
    { maxFileSize: 12 * MiB, multipartBytes: 11 * MiB, multipart: true, nativeSignedUrls: true, tags: true },
  )
