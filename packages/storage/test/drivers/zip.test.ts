import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startS3rver } from '@beaver-kit/testkit/cache-servers'
import { describeReadOnlyStorageDriver, STORAGE_READ_FIXTURE } from '@beaver-kit/testkit/storage-read'
import { createStorage, isStorageError } from '@beaver-kit/storage'
import { createZipWriter, openZipDisk } from '@beaver-kit/storage/zip'

// Archives written by the kit's writer (yazl) and read by the zip disk (yauzl); the hostile
// ones are yazl archives with bytes patched afterwards, since yazl itself refuses such names.
let dir = ''
let fixture = ''
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'beaver-zip-'))
  fixture = join(dir, 'fixture.zip')
  const zip = await createZipWriter({ file: fixture })
  for (const file of STORAGE_READ_FIXTURE)
    await zip.add(file.path, file.path === 'c.bin' ? Readable.from([file.body]) : file.body, {
      ...file.attributes,
      compress: file.path !== 'r.txt',
    })
  await zip.close()
})
afterAll(() => rm(dir, { recursive: true, force: true }))

const signing = { key: 'k'.repeat(40), baseUrl: 'http://files.test/signed' }

describeReadOnlyStorageDriver(
  'zip',
  () => createStorage({ driver: 'zip', envPrefix: false, signing, zip: { file: fixture } }),
  {},
)

async function archive(entries: Array<[string, Buffer | string]>, compress = true): Promise<Buffer> {
  const disk = createStorage({ driver: 'memory', envPrefix: false })
  const zip = await createZipWriter({ storage: disk, path: 'a.zip' })
  for (const [path, body] of entries) await zip.add(path, body, { compress })
  await zip.close()
  const bytes = await disk.get('a.zip')
  await disk.close()
  return bytes
}

/** Replaces every occurrence of a name (local header and central directory) with one of the same length. */
function rename(zip: Buffer, from: string, to: string): Buffer {
  const out = Buffer.from(zip)
  for (let at = out.indexOf(from); at >= 0; at = out.indexOf(from, at + 1)) out.write(to, at, 'latin1')
  return out
}

async function refusal(zip: Buffer, limits: Record<string, number> = {}): Promise<unknown> {
  await using disk = createStorage({ driver: await openZipDisk({ buffer: zip, ...limits }), envPrefix: false })
  return disk.listPage().catch((err: unknown) => err)
}

describe('the zip disk refuses hostile archives, naming the entry', () => {
  it('refuses zip-slip names: "../", absolute, drive letters, backslash escapes', async () => {
    const safe = await archive([
      ['ok.txt', 'fine'],
      ['xx/evil.txt', 'evil'],
    ])
    for (const [hostile, why] of [
      ['../evil.txt', 'invalid relative path'],
      ['/x/evil.txt', 'absolute path'],
      ['C:/evil.txt', 'absolute path'],
      ['..\\evil.txt', 'invalid relative path'],
    ] as const) {
      const err = await refusal(rename(safe, 'xx/evil.txt'.slice(0, hostile.length).padEnd(hostile.length), hostile))
      expect(isStorageError(err, 'STORAGE_ARCHIVE_UNSAFE'), hostile).toBe(true)
      expect((err as Error).message, hostile).toContain(JSON.stringify(hostile.replace('\\', '/')))
      expect((err as Error).message, hostile).toContain(why)
    }
  })

  it('refuses names the kit never accepts as paths (a "." segment, "//")', async () => {
    const safe = await archive([['aa/b.txt', 'x']])
    const err = await refusal(rename(safe, 'aa/b.txt', './b.txt'.padEnd(8, 'x')))
    expect(isStorageError(err, 'STORAGE_ARCHIVE_UNSAFE')).toBe(true)
    expect((err as Error).message).toContain('"./b.txtx"')
  })

  it('refuses too many entries, too many bytes in all, and an entry that inflates too much', async () => {
    const five = await archive(['1', '2', '3', '4', '5'].map((n) => [`${n}.txt`, n]))
    const count = await refusal(five, { maxEntries: 3 })
    expect(isStorageError(count, 'STORAGE_ARCHIVE_UNSAFE')).toBe(true)
    expect((count as Error).message).toContain('5 entries, more than 3')
    const total = await refusal(
      await archive([
        ['a.bin', Buffer.alloc(600)],
        ['b.bin', Buffer.alloc(600)],
      ]),
      {
        maxTotalSize: 1000,
      },
    )
    expect((total as Error).message).toContain('"b.bin"')
    const bomb = await archive([['zeros.bin', Buffer.alloc(4 * 1024 * 1024)]])
    expect(bomb.length).toBeLessThan(40_000)
    const ratio = await refusal(bomb)
    expect(isStorageError(ratio, 'STORAGE_ARCHIVE_UNSAFE')).toBe(true)
    expect((ratio as Error).message).toMatch(/"zeros\.bin".*inflates \d+x/)
    await using allowed = createStorage({
      driver: await openZipDisk({ buffer: bomb, maxRatio: 5000 }),
      envPrefix: false,
    })
    expect((await allowed.stat('zeros.bin')).size).toBe(4 * 1024 * 1024)
  })

  it('stops an entry that inflates past the size its header declares', async () => {
    const honest = await archive([['lie.txt', 'a'.repeat(5000)]])
    const central = honest.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]))
    const lying = Buffer.from(honest)
    lying.writeUInt32LE(100, central + 24)
    await using disk = createStorage({ driver: await openZipDisk({ buffer: lying }), envPrefix: false })
    expect((await disk.stat('lie.txt')).size).toBe(100)
    const err = await disk.get('lie.txt').catch((e: unknown) => e)
    expect(isStorageError(err, 'STORAGE_ARCHIVE_UNSAFE')).toBe(true)
    expect((err as Error).message).toContain('"lie.txt"')
  })
})

describe('the zip writer', () => {
  it('streams an archive onto another disk, readable by the zip disk with its attributes', async () => {
    await using target = createStorage({ driver: 'memory', envPrefix: false })
    const zip = await createZipWriter({ storage: target, path: 'exports/out.zip' })
    await zip.add('report.json', JSON.stringify({ visits: 42 }), {
      metadata: { owner: 'ada' },
      cacheControl: 'no-store',
    })
    await zip.add('video.bin', Readable.from([Buffer.alloc(100_000, 7)]), {
      compress: false,
      contentType: 'video/x-raw',
    })
    const { size } = await zip.close()
    expect((await target.stat('exports/out.zip')).contentType).toBe('application/zip')
    expect((await target.stat('exports/out.zip')).size).toBe(size)
    await using read = createStorage({
      driver: await openZipDisk({ buffer: await target.get('exports/out.zip') }),
      envPrefix: false,
    })
    expect(await read.getJson('report.json')).toEqual({ visits: 42 })
    expect(await read.stat('report.json')).toMatchObject({ metadata: { owner: 'ada' }, cacheControl: 'no-store' })
    expect(await read.stat('video.bin')).toMatchObject({ size: 100_000, contentType: 'video/x-raw' })
  })

  it('reads an archive on another disk through byte ranges, never downloading it whole', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024)
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) & 255
    const s3 = await startS3rver('beaver-zip-ranges')
    try {
      const holders = [
        createStorage({ driver: 'local', envPrefix: false, local: { root: join(dir, 'holder') } }),
        createStorage({
          driver: 's3',
          envPrefix: false,
          s3: {
            bucket: s3.bucket,
            endpoint: s3.endpoint,
            region: s3.region,
            accessKeyId: s3.credentials.accessKeyId,
            secretAccessKey: s3.credentials.secretAccessKey,
            forcePathStyle: true,
            checksums: 'when-required',
          },
        }),
      ]
      for (const holder of holders) {
        const zip = await createZipWriter({ storage: holder, path: 'exports/a.zip' })
        await zip.add('big.bin', big, { compress: false })
        await zip.add('notes/small.txt', 'small text', { metadata: { owner: 'ada' } })
        const { size } = await zip.close()
        // Every byte the zip disk asks the holder for is counted.
        let fetched = 0
        const counted = {
          stat: (path: string) => holder.stat(path),
          async getStream(path: string, options: { start?: number; end?: number }) {
            fetched += (options.end ?? size - 1) - (options.start ?? 0) + 1
            return holder.getStream(path, options)
          },
        }
        await using archive = createStorage({
          driver: await openZipDisk({ from: { storage: counted, path: 'exports/a.zip' } }),
          envPrefix: false,
        })
        expect(await archive.getText('notes/small.txt'), holder.driver).toBe('small text')
        expect(await archive.stat('notes/small.txt')).toMatchObject({ size: 10, metadata: { owner: 'ada' } })
        const range: Buffer[] = []
        for await (const chunk of await archive.getStream('big.bin', { start: 1_000_000, end: 1_000_099 }))
          range.push(chunk as Buffer)
        expect(Buffer.concat(range).equals(big.subarray(1_000_000, 1_000_100))).toBe(true)
        expect(fetched, holder.driver).toBeLessThan(100_000)
        expect((await archive.get('big.bin')).equals(big)).toBe(true)
        await holder.close()
      }
      await using empty = createStorage({ driver: 'memory', envPrefix: false })
      await using gone = createStorage({
        driver: await openZipDisk({ from: { storage: empty, path: 'missing.zip' } }),
        envPrefix: false,
      })
      expect(await gone.exists('x').catch((err: unknown) => (err as { code?: string }).code)).toBe('STORAGE_NOT_FOUND')
    } finally {
      await s3.stop()
    }
  }, 60_000)

  it('stores nothing when aborted or when an entry body fails, and refuses bad entry paths', async () => {
    await using target = createStorage({ driver: 'memory', envPrefix: false })
    const aborted = await createZipWriter({ storage: target, path: 'a.zip' })
    await aborted.add('one.txt', 'one')
    await aborted.abort()
    expect(await target.exists('a.zip')).toBe(false)
    await expect(aborted.add('late.txt', 'x')).rejects.toThrow(/after close\(\) or abort\(\)/)

    const failing = await createZipWriter({ storage: target, path: 'b.zip' })
    const body = new Readable({ read() {} })
    body.push(Buffer.alloc(1000))
    setImmediate(() => body.destroy(new Error('source went away')))
    await expect(failing.add('broken.bin', body)).rejects.toThrow('source went away')
    await expect(failing.close()).rejects.toThrow('source went away')
    expect(await target.exists('b.zip')).toBe(false)

    const named = await createZipWriter({ file: join(dir, 'named.zip') })
    for (const bad of ['../x', '/abs', 'a\\b'])
      expect(await named.add(bad, 'x').catch((e: unknown) => isStorageError(e, 'STORAGE_PATH_INVALID')), bad).toBe(true)
    await named.abort()
    expect((await readdir(dir)).filter((f) => f.includes('zip-tmp') || f === 'named.zip')).toEqual([])
  })

  it('writes a local file in place atomically, readable by other zip tools (yauzl reads what yazl wrote)', async () => {
    const file = join(dir, 'plain.zip')
    await writeFile(file, 'old content')
    const zip = await createZipWriter({ file })
    await zip.add('x.txt', 'x')
    expect(await readFile(file, 'utf8')).toBe('old content')
    await zip.close()
    expect((await readFile(file)).subarray(0, 2).toString()).toBe('PK')
  })
})

describe('the zip driver from the environment', () => {
  it('reads BEAVER_STORAGE_ZIP_FILE, and names the variable when it is missing', async () => {
    await using disk = createStorage({
      env: { APP_STORAGE_DRIVER: 'zip', APP_STORAGE_ZIP_FILE: fixture },
      envPrefix: 'APP_',
    })
    expect(await disk.getText('a.txt')).toBe('héllo')
    expect(disk.describe().settings.find((s) => s.name === 'APP_STORAGE_ZIP_MAX_RATIO')?.value).toBe('100')
    await using missing = createStorage({ env: { APP_STORAGE_DRIVER: 'zip' }, envPrefix: 'APP_' })
    const err = await missing.ready().catch((e: unknown) => e)
    expect(isStorageError(err, 'STORAGE_OPTIONS_INVALID')).toBe(true)
    expect((err as Error).message).toContain('APP_STORAGE_ZIP_FILE')
  })
})
