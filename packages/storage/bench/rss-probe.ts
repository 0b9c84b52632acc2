// One large S3 transfer in a process of its own, so that its peak RSS is that transfer's and not
// the bench's (whose RSS keeps what earlier cases allocated, and holds s3rver). Run by run.ts:
//   node --conditions=@beaver-kit/source bench/rss-probe.ts <kit-up|raw-up|kit-down|raw-down>
// with BENCH_PROBE (JSON: endpoint, region, credentials, bucket, bytes, partSize, concurrency).
// Prints one JSON line: { before, peak } in bytes, RSS just before the transfer and the
// process's peak RSS (getrusage's maxrss) after it.
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { createStorage } from '@beaver-kit/storage'

export interface ProbeSettings {
  endpoint: string
  region: string
  credentials: { accessKeyId: string; secretAccessKey: string }
  bucket: string
  bytes: number
  partSize: number
  concurrency: number
}

const which = process.argv[2]
const settings = JSON.parse(process.env.BENCH_PROBE ?? '{}') as ProbeSettings
const client = new S3Client({
  endpoint: settings.endpoint,
  region: settings.region,
  credentials: settings.credentials,
  forcePathStyle: true,
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
})
const files = createStorage({
  envPrefix: false,
  driver: 's3',
  client,
  s3: { bucket: settings.bucket, partSize: settings.partSize, concurrency: settings.concurrency },
})
const chunks = (): Readable =>
  Readable.from(
    (function* () {
      for (let sent = 0; sent < settings.bytes; sent += 1024 * 1024) yield Buffer.alloc(1024 * 1024, sent & 255)
    })(),
  )
const sink = (): Writable => new Writable({ write: (_chunk, _encoding, done) => done() })
const transfers: Record<string, () => Promise<unknown>> = {
  'kit-up': () => files.put('probe/kit.bin', chunks()),
  'raw-up': () =>
    new Upload({
      client,
      partSize: settings.partSize,
      queueSize: settings.concurrency,
      params: { Bucket: settings.bucket, Key: 'probe/raw.bin', Body: chunks() },
    }).done(),
  'kit-down': async () => pipeline(await files.getStream('seed/large.bin'), sink()),
  'raw-down': async () => {
    const out = await client.send(new GetObjectCommand({ Bucket: settings.bucket, Key: 'raw/large.bin' }))
    await pipeline(out.Body as Readable, sink())
  },
}
const transfer = which === undefined ? undefined : transfers[which]
if (!transfer) throw new Error(`rss-probe: give one of ${Object.keys(transfers).join(', ')}`)
// A small request first, so the SDK's lazily loaded modules are in RSS before "before" is read.
await files.exists('probe/warm')
const before = process.memoryUsage().rss
await transfer()
// getrusage's maxrss is in KiB on Linux.
console.log(JSON.stringify({ before, peak: process.resourceUsage().maxRSS * 1024 }))
await files.close()
client.destroy()
