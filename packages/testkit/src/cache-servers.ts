// Local stand-ins for cloud stores, started in-process on a free loopback port by the cache
// tests and stopped after: dynalite (DynamoDB) and s3rver (S3). Both are devDependencies of
// @beaver-kit/cache, imported here lazily so other packages never load them.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo, Server } from 'node:net'

/** Imports a module that ships no type declarations (the caller states its shape). */
function importUntyped(name: string): Promise<unknown> {
  return import(name) as Promise<unknown>
}

/** A running local server: where to point the SDK, and how to stop it. */
export interface LocalCloudServer {
  /** `http://127.0.0.1:<port>` */
  endpoint: string
  /** Test credentials the server accepts. */
  credentials: { accessKeyId: string; secretAccessKey: string }
  region: string
  stop(): Promise<void>
}

/**
 * Starts dynalite (an in-memory DynamoDB implementation on LevelDB/memdown) on a free port.
 * @example const ddb = await startDynalite(); new DynamoDBClient({ endpoint: ddb.endpoint, region: ddb.region, credentials: ddb.credentials })
 */
export async function startDynalite(): Promise<LocalCloudServer> {
  const { default: dynalite } = (await importUntyped('dynalite')) as { default: (o: Record<string, unknown>) => Server }
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  return {
    endpoint: `http://127.0.0.1:${port}`,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    region: 'us-east-1',
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

/** s3rver plus the bucket created for the test. */
export interface LocalS3 extends LocalCloudServer {
  bucket: string
}

/**
 * Starts s3rver (an S3 implementation on the file system) on a free port, in a temporary
 * directory removed on stop, with one bucket.
 */
export async function startS3rver(bucket = 'beaver-test'): Promise<LocalS3> {
  const { default: S3rver } = (await importUntyped('s3rver')) as {
    default: new (o: Record<string, unknown>) => { run(): Promise<AddressInfo>; close(): Promise<void> }
  }
  const directory = await mkdtemp(join(tmpdir(), 'beaver-s3rver-'))
  const server = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  })
  const address = await server.run()
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    region: 'us-east-1',
    bucket,
    async stop() {
      await server.close()
      await rm(directory, { recursive: true, force: true })
    },
  }
}
