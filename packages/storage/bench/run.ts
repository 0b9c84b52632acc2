// Side-by-side benchmark of @beaver-kit/storage on the kit's one harness (@beaver-kit/testkit/bench):
//   local: put and get of 1 KiB files against node:fs writeFile/readFile (the floor), and a
//   streamed upload and download of LARGE bytes against node:fs streams (createWriteStream /
//   createReadStream through pipeline), with the peak RSS of the kit's large transfers
//   s3 (s3rver started here): put and get of 1 KiB against raw @aws-sdk/client-s3, and a
//   streamed upload of LARGE bytes (multipart, 8 MiB parts) against raw @aws-sdk/lib-storage;
//   peak RSS during the kit's large uploads is reported (bounded by part size x concurrency).
// Run: npm run bench -w @beaver-kit/storage   (BENCH_QUICK=1 for a short smoke run that writes nothing)
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { isQuick, runBench } from '@beaver-kit/testkit/bench'
import { startS3rver } from '@beaver-kit/testkit/cache-servers'
import { createStorage } from '@beaver-kit/storage'

const QUICK = isQuick()
const KiB = Buffer.alloc(1024, 7)
const LARGE = (QUICK ? 16 : 64) * 1024 * 1024
const PART = 8 * 1024 * 1024
const root = await mkdtemp(join(tmpdir(), 'beaver-storage-bench-'))
const s3 = await startS3rver('bench')
const clientConfig = {
  endpoint: s3.endpoint,
  region: s3.region,
  credentials: s3.credentials,
  forcePathStyle: true,
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
} as const
const client = new S3Client(clientConfig)

const local = createStorage({ envPrefix: false, driver: 'local', local: { root: join(root, 'kit') } })
const remote = createStorage({ envPrefix: false, driver: 's3', client, s3: { bucket: s3.bucket, partSize: PART } })
const rawDir = join(root, 'raw')
await writeFile(join(root, 'seed'), '')
await local.put('seed/1k.bin', KiB)
await remote.put('seed/1k.bin', KiB)
await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'raw/1k.bin', Body: KiB }))
await import('node:fs/promises').then((fs) => fs.mkdir(rawDir, { recursive: true }))
await writeFile(join(rawDir, '1k.bin'), KiB)

let n = 0
const chunks = (): Readable =>
  Readable.from(
    (function* () {
      for (let sent = 0; sent < LARGE; sent += 1024 * 1024) yield Buffer.alloc(1024 * 1024, sent & 255)
    })(),
  )
let peakRss = 0
const sampleRss = (): void => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss)
}
const rssTimer = setInterval(sampleRss, 20)
const rssBefore = process.memoryUsage().rss

/** A sink that drops what it gets (downloads are measured up to the consumer, not a disk). */
const sink = (): Writable => new Writable({ write: (_chunk, _encoding, done) => done() })
await local.put('seed/large.bin', chunks())
await pipeline(chunks(), createWriteStream(join(rawDir, 'large.bin')))
// Peak RSS growth while one large local transfer runs, above the level before it, per contender.
const peaks = new Map<string, number>()
async function measured(who: string, run: () => Promise<unknown>): Promise<void> {
  const before = process.memoryUsage().rss
  const sample = (): void => void peaks.set(who, Math.max(peaks.get(who) ?? 0, process.memoryUsage().rss - before))
  const timer = setInterval(sample, 10)
  try {
    await run()
  } finally {
    clearInterval(timer)
  }
}

async function readBody(body: unknown): Promise<number> {
  let total = 0
  for await (const c of body as AsyncIterable<Buffer>) total += c.length
  return total
}

try {
  await runBench({
    package: 'storage',
    url: import.meta.url,
    rounds: 3,
    cases: [
      {
        name: 'local put 1 KiB',
        contenders: [
          { contender: 'beaver-kit', fn: () => local.put(`put/${n++ & 1023}.bin`, KiB) },
          {
            contender: 'floor',
            fn: () => writeFile(join(rawDir, `${n++ & 1023}.bin`), KiB),
          },
        ],
      },
      {
        name: 'local get 1 KiB',
        contenders: [
          { contender: 'beaver-kit', fn: () => local.get('seed/1k.bin') },
          { contender: 'floor', fn: () => readFile(join(rawDir, '1k.bin')) },
        ],
      },
      {
        name: `local streamed upload ${LARGE / 1024 / 1024} MiB (MiB/s)`,
        opsPerCall: LARGE / 1024 / 1024,
        contenders: [
          { contender: 'beaver-kit', fn: () => measured('kit', () => local.put('large-up.bin', chunks())) },
          {
            contender: 'node:fs streams',
            fn: () => measured('fs', () => pipeline(chunks(), createWriteStream(join(rawDir, 'large-up.bin')))),
          },
        ],
      },
      {
        name: `local streamed download ${LARGE / 1024 / 1024} MiB (MiB/s)`,
        opsPerCall: LARGE / 1024 / 1024,
        contenders: [
          {
            contender: 'beaver-kit',
            fn: () => measured('kit', async () => pipeline(await local.getStream('seed/large.bin'), sink())),
          },
          {
            contender: 'node:fs streams',
            fn: () => measured('fs', () => pipeline(createReadStream(join(rawDir, 'large.bin')), sink())),
          },
        ],
      },
      {
        name: 's3 put 1 KiB',
        contenders: [
          { contender: 'beaver-kit', fn: () => remote.put(`put/${n++ & 1023}.bin`, KiB) },
          {
            contender: '@aws-sdk/client-s3',
            fn: () => client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `raw/${n++ & 1023}.bin`, Body: KiB })),
          },
        ],
      },
      {
        name: 's3 get 1 KiB',
        contenders: [
          { contender: 'beaver-kit', fn: () => remote.get('seed/1k.bin') },
          {
            contender: '@aws-sdk/client-s3',
            fn: async () =>
              readBody((await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: 'raw/1k.bin' }))).Body),
          },
        ],
      },
      {
        name: `s3 streamed upload ${LARGE / 1024 / 1024} MiB (MiB/s)`,
        opsPerCall: LARGE / 1024 / 1024,
        contenders: [
          { contender: 'beaver-kit', fn: () => remote.put('large.bin', chunks()) },
          {
            contender: '@aws-sdk/lib-storage',
            fn: () =>
              new Upload({
                client,
                partSize: PART,
                queueSize: 4,
                params: { Bucket: s3.bucket, Key: 'raw-large.bin', Body: chunks() },
              }).done(),
          },
        ],
      },
    ],
    goals: [
      { goal: 'local put 1 KiB ≥ 0.95x node:fs', case: 'local put 1 KiB', over: 'floor', target: 0.95 },
      { goal: 'local get 1 KiB ≥ 0.95x node:fs', case: 'local get 1 KiB', over: 'floor', target: 0.95 },
      {
        goal: 'local streamed upload ≥ 0.95x node:fs streams',
        case: `local streamed upload ${LARGE / 1024 / 1024} MiB (MiB/s)`,
        over: 'node:fs streams',
        target: 0.95,
      },
      {
        goal: 'local streamed download ≥ 0.95x node:fs streams',
        case: `local streamed download ${LARGE / 1024 / 1024} MiB (MiB/s)`,
        over: 'node:fs streams',
        target: 0.95,
      },
      { goal: 's3 put 1 KiB ≥ 0.95x client-s3', case: 's3 put 1 KiB', over: '@aws-sdk/client-s3', target: 0.95 },
      { goal: 's3 get 1 KiB ≥ 0.95x client-s3', case: 's3 get 1 KiB', over: '@aws-sdk/client-s3', target: 0.95 },
      {
        goal: 's3 large upload ≥ 0.95x lib-storage',
        case: `s3 streamed upload ${LARGE / 1024 / 1024} MiB (MiB/s)`,
        over: '@aws-sdk/lib-storage',
        target: 0.95,
      },
    ],
    notes: () => [
      `peak RSS growth during one ${LARGE / 1024 / 1024} MiB local transfer: beaver-kit ${Math.round((peaks.get('kit') ?? 0) / 1024 / 1024)} MiB, node:fs streams ${Math.round((peaks.get('fs') ?? 0) / 1024 / 1024)} MiB (the source allocates 1 MiB chunks; neither holds the file)`,
      `peak RSS during the run: ${Math.round(peakRss / 1024 / 1024)} MiB (${Math.round(rssBefore / 1024 / 1024)} MiB before); large uploads are ${LARGE / 1024 / 1024} MiB in ${PART / 1024 / 1024} MiB parts, 4 at once`,
      'S3 figures are against s3rver on loopback (a file-system server in the same process), so they compare request overhead, not network throughput',
    ],
  })
} finally {
  clearInterval(rssTimer)
  await local.close()
  await remote.close()
  client.destroy()
  await s3.stop()
  await rm(root, { recursive: true, force: true })
}
