import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { cached, createStorage, isStorageError, readOnly, validated, type StorageDriver } from '@beaver-kit/storage'
import { MemoryDisk } from '@beaver-kit/storage/memory'

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p
  } catch (err) {
    return isStorageError(err) ? err.code : String(err)
  }
  return undefined
}

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 1])
const PDF = Buffer.from('%PDF-1.7\n%âãÏÓ\n1 0 obj')
const signing = { key: 's'.repeat(40), baseUrl: 'http://files.test/s' }

/** A memory disk seen through plain functions, some replaced (to count or delay calls). */
function through(disk: MemoryDisk, replace: Partial<StorageDriver> = {}): StorageDriver {
  return {
    name: disk.name,
    capabilities: disk.capabilities,
    put: (k, i) => disk.put(k, i),
    getStream: (k, o) => disk.getStream(k, o),
    stat: (k) => disk.stat(k),
    delete: (k) => disk.delete(k),
    list: (p, o) => disk.list(p, o),
    copy: (a, b) => disk.copy(a, b),
    setVisibility: (k, v) => disk.setVisibility(k, v),
    ...replace,
  }
}

/** A memory disk that counts the reads that reach it. */
function counting(): { disk: StorageDriver; calls: { stat: number; getStream: number } } {
  const disk = new MemoryDisk()
  const calls = { stat: 0, getStream: 0 }
  const counted = through(disk, {
    stat: (key) => (calls.stat++, disk.stat(key)),
    getStream: (key, o) => (calls.getStream++, disk.getStream(key, o)),
  })
  return { calls, disk: counted }
}

describe('read-only', () => {
  it('serves reads and refuses every write before it reaches the disk', async () => {
    const inner = new MemoryDisk()
    await inner.put('a.txt', {
      body: Readable.from([Buffer.from('seeded')]),
      attributes: { contentType: 'text/plain', visibility: 'private' },
    })
    const files = createStorage({ envPrefix: false, driver: readOnly(inner), signing })
    expect(files.driver).toBe('read-only(memory)')
    expect(await files.getText('a.txt')).toBe('seeded')
    expect(await files.exists('a.txt')).toBe(true)
    expect((await files.listPage()).entries.map((e) => e.path)).toEqual(['a.txt'])
    for (const write of [
      files.put('b.txt', 'x'),
      files.delete('a.txt'),
      files.deleteMany(['a.txt']),
      files.copy('a.txt', 'c.txt'),
      files.move('a.txt', 'c.txt'),
      files.setVisibility('a.txt', 'public'),
      files.signedUrl('a.txt', { method: 'PUT' }),
    ])
      expect(await codeOf(write)).toBe('STORAGE_READ_ONLY')
    const url = await files.signedUrl('a.txt')
    expect(await (await files.handleSignedRequest(new Request(url))).text()).toBe('seeded')
    expect(await inner.stat('b.txt')).toBeUndefined()
    expect(await files.getText('a.txt')).toBe('seeded')
  })
})

describe('validation', () => {
  const files = createStorage({
    envPrefix: false,
    driver: validated(new MemoryDisk(), { maxSize: 1000, allowedTypes: ['image/png', 'image/jpeg', 'text/*'] }),
    signing,
  })

  it('accepts an allowed type whose bytes match it', async () => {
    await files.put('ok.png', PNG)
    await files.put('note.txt', 'just text')
    await files.put('streamed.png', Readable.from([PNG.subarray(0, 3), PNG.subarray(3, 9), PNG.subarray(9)]))
    expect((await files.get('streamed.png')).equals(PNG)).toBe(true)
  })

  it('refuses a type not allowed, content of another type, and too much, leaving no object', async () => {
    expect(await codeOf(files.put('doc.pdf', PDF))).toBe('STORAGE_REJECTED')
    // A PDF sent as a PNG, and a PNG sent as text: the magic bytes decide.
    expect(await codeOf(files.put('fake.png', PDF))).toBe('STORAGE_REJECTED')
    expect(await codeOf(files.put('fake.txt', PNG))).toBe('STORAGE_REJECTED')
    expect(await codeOf(files.put('short.png', Buffer.from([0x89, 0x50])))).toBe('STORAGE_REJECTED')
    expect(await codeOf(files.put('big.png', Buffer.concat([PNG, Buffer.alloc(2000)])))).toBe('STORAGE_TOO_LARGE')
    const unknownLength = Readable.from([PNG, Buffer.alloc(600), Buffer.alloc(600)])
    expect(await codeOf(files.put('streamed-big.png', unknownLength))).toBe('STORAGE_TOO_LARGE')
    for (const p of ['doc.pdf', 'fake.png', 'fake.txt', 'short.png', 'big.png', 'streamed-big.png'])
      expect(await files.exists(p)).toBe(false)
  })

  it('checks uploads through signed URLs too', async () => {
    const url = await files.signedUrl('up.png', { method: 'PUT', contentType: 'image/png' })
    const refused = await files.handleSignedRequest(
      new Request(url, { method: 'PUT', body: PDF, headers: { 'content-type': 'image/png' } }),
    )
    expect(refused.status).toBe(415)
    expect(await files.exists('up.png')).toBe(false)
    const accepted = await files.handleSignedRequest(
      new Request(url, { method: 'PUT', body: PNG, headers: { 'content-type': 'image/png' } }),
    )
    expect(accepted.status).toBe(201)
  })
})

describe('cache', () => {
  it('answers stat and small reads from memory, and drops what a write touches', async () => {
    const { disk, calls } = counting()
    let now = 0
    const files = createStorage({
      envPrefix: false,
      driver: cached(disk, { ttlMs: 1000, maxFileBytes: 100, now: () => now }),
    })
    await files.put('a.txt', 'first')
    expect(await files.getText('a.txt')).toBe('first')
    expect(await files.getText('a.txt')).toBe('first')
    expect((await files.stat('a.txt')).size).toBe(5)
    expect(await files.exists('missing.txt')).toBe(false)
    expect(await files.exists('missing.txt')).toBe(false)
    expect(calls).toEqual({ stat: 2, getStream: 1 })
    const range: Buffer[] = []
    for await (const c of await files.getStream('a.txt', { start: 1, end: 3 })) range.push(c as Buffer)
    expect(Buffer.concat(range).toString()).toBe('irs')
    await files.put('a.txt', 'second')
    expect(await files.getText('a.txt')).toBe('second')
    await files.put('missing.txt', 'now here')
    expect(await files.exists('missing.txt')).toBe(true)
    await files.copy('a.txt', 'b.txt')
    expect(await files.getText('b.txt')).toBe('second')
    await files.setVisibility('b.txt', 'public')
    expect((await files.stat('b.txt')).visibility).toBe('public')
    await files.delete('b.txt')
    expect(await files.exists('b.txt')).toBe(false)
    // Past the TTL the disk is asked again.
    const before = calls.stat
    now += 1001
    await files.stat('a.txt')
    expect(calls.stat).toBe(before + 1)
  })

  it('streams large files from the disk and stays within its bounds', async () => {
    const { disk, calls } = counting()
    const files = createStorage({ envPrefix: false, driver: cached(disk, { maxEntries: 2, maxFileBytes: 10 }) })
    await files.put('large.bin', Buffer.alloc(50))
    await files.get('large.bin')
    await files.get('large.bin')
    expect(calls.getStream).toBe(2)
    for (const name of ['1', '2', '3']) await files.put(name, name)
    for (const name of ['1', '2', '3']) await files.get(name)
    const reads = calls.getStream
    await files.get('1')
    expect(calls.getStream).toBe(reads + 1)
    await files.get('3')
    expect(calls.getStream).toBe(reads + 1)
    await files.close()
  })

  it('never stores what a read saw while a write of the same file ran', async () => {
    const inner = new MemoryDisk()
    let release: () => void = () => undefined
    const gate = new Promise<void>((resolve) => (release = resolve))
    const slowStat = through(inner, {
      stat: async (key) => {
        const answer = await inner.stat(key)
        await gate
        return answer
      },
    })
    const files = createStorage({ envPrefix: false, driver: cached(slowStat) })
    const racing = files.exists('r.txt')
    await files.put('r.txt', 'written')
    release()
    expect(await racing).toBe(false)
    expect(await files.exists('r.txt')).toBe(true)
  })
})

describe('any wrapper', () => {
  it('rewrites the file for visibility on a disk without setVisibility, and passes ready, close and presigning through', async () => {
    const inner = new MemoryDisk()
    let readied = 0
    let closed = 0
    const { setVisibility: _none, ...plain } = through(inner, {
      capabilities: { ...inner.capabilities, signedUrls: true },
      signedUrl: async (key) => `https://presigned.test/${key}`,
      ready: async () => void readied++,
      close: async () => void closed++,
    })
    const files = createStorage({ envPrefix: false, driver: cached(plain) })
    await files.put('v.txt', 'bytes', { metadata: { a: 'b' } })
    await files.setVisibility('v.txt', 'public')
    expect(await inner.stat('v.txt')).toMatchObject({ visibility: 'public', metadata: { a: 'b' }, size: 5 })
    expect(await codeOf(files.setVisibility('none.txt', 'public'))).toBe('STORAGE_NOT_FOUND')
    expect(await files.signedUrl('v.txt')).toBe('https://presigned.test/v.txt')
    await files.ready()
    const wrapped = cached(plain)
    await wrapped.close?.()
    expect([readied, closed]).toEqual([1, 1])
  })
})
