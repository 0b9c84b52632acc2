import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { S3Client, HeadObjectCommand } from '@aws-sdk/client-s3'
import { describeCacheDriver } from '@beaver-kit/testkit/cache'
import { startS3rver, type LocalS3 } from '@beaver-kit/testkit/cache-servers'
import { uniqueNamespace } from '@beaver-kit/testkit'
import { createCache } from '@beaver-kit/cache'
import { type S3Store, s3Driver } from '@beaver-kit/cache/s3'

// s3rver implements the S3 REST API on the local file system; started here, stopped after.
// It keeps each object in a file named after its (percent-encoded) key, so file-name limits
// (255 bytes) apply: the tests hash keys beyond 150 bytes (real S3 takes 1,024, the default).
let server: LocalS3
let client: S3Client
beforeAll(async () => {
  server = await startS3rver()
  client = new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    credentials: server.credentials,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  })
})
afterAll(async () => {
  client?.destroy()
  await server?.stop()
})

const make = (ns: string, extra: Record<string, unknown> = {}): ReturnType<typeof createCache> =>
  createCache({
    envPrefix: false,
    namespace: ns,
    driver: 's3',
    s3: { bucket: server.bucket, client, prefix: 'cache/', maxKeyBytes: 150, ...extra },
  })

describeCacheDriver('s3 (s3rver)', (ns) => make(ns), { shared: true, increment: false, query: false, shortTtlMs: 200 })

describe('s3 specifics', () => {
  it('keeps the expiry in object metadata and uploads large values in parts with the metadata set at creation', async () => {
    const ns = uniqueNamespace('s3')
    const store = (await s3Driver.create(
      { bucket: server.bucket, client, multipartThreshold: 5 * 1024 * 1024 },
      undefined as never,
    )) as S3Store
    const big = new Uint8Array(11 * 1024 * 1024)
    for (let i = 0; i < big.length; i += 4096) big[i] = i % 251
    await store.set(ns, 'big', big, 3_600_000)
    expect(store.multipartUploads).toBe(1)
    const head = await client.send(new HeadObjectCommand({ Bucket: server.bucket, Key: store.objectKey(ns, 'big') }))
    expect(Number(head.Metadata?.['beaver-expires-at'])).toBeGreaterThan(Date.now())
    const back = (await store.get(ns, 'big')) as Uint8Array
    expect(back.byteLength).toBe(big.byteLength)
    expect(Buffer.from(back).equals(Buffer.from(big))).toBe(true)
    expect(await store.ttl(ns, 'big')).toBeGreaterThan(3_500_000)
    await store.clear(ns)
    expect(await store.get(ns, 'big')).toBeUndefined()
  })

  it('works as the cold tier under memory', async () => {
    const ns = uniqueNamespace('s3t')
    const overS3 = (): ReturnType<typeof createCache> =>
      createCache({
        envPrefix: false,
        namespace: ns,
        driver: 'tiered',
        tiered: { tiers: ['memory', 's3'] },
        s3: { bucket: server.bucket, client },
      })
    const tiered = overS3()
    await tiered.set('k', { v: 1 })
    const fresh = overS3()
    expect(await fresh.get('k')).toEqual({ v: 1 })
    const m = fresh.stats().tiers
    expect(m?.tiers.map((t) => [t.name, t.totals.hits, t.totals.writes])).toEqual([
      ['memory', 0, 1],
      ['s3', 1, 0],
    ])
    await tiered.clear()
    await tiered.close()
    await fresh.close()
  })
})
