import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { createKeyRing, generateKeyRingEntry } from '@beaver-kit/krypto'
import { createStorage, encrypted, isStorageError, type Storage, type StorageDriver } from '@beaver-kit/storage'
import { MemoryDisk } from '@beaver-kit/storage/memory'

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p
  } catch (err) {
    return isStorageError(err) ? err.code : String(err)
  }
  return undefined
}

const SEGMENT = 1024
const SEALED = SEGMENT + 16
const oldKey = generateKeyRingEntry('k-2025')
const newKey = generateKeyRingEntry('k-2026')

function data(n: number): Buffer {
  return Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + 7) & 255))
}

async function raw(disk: MemoryDisk, key: string): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of (await disk.getStream(key, {}))!) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

/** Replaces the stored bytes of a file, keeping its attributes (what an attacker with bucket access can do). */
async function overwrite(disk: MemoryDisk, key: string, bytes: Buffer): Promise<void> {
  const { size: _s, lastModified: _l, etag: _e, ...attributes } = (await disk.stat(key))!
  await disk.put(key, { body: Readable.from([bytes]), attributes })
}

function setup(keys = createKeyRing([newKey, oldKey])): { inner: MemoryDisk; files: Storage; requested: string[] } {
  const inner = new MemoryDisk()
  const requested: string[] = []
  const watched: StorageDriver = Object.assign(Object.create(null) as object, {
    name: inner.name,
    capabilities: inner.capabilities,
    put: inner.put.bind(inner),
    stat: inner.stat.bind(inner),
    delete: inner.delete.bind(inner),
    list: inner.list.bind(inner),
    copy: inner.copy.bind(inner),
    setVisibility: inner.setVisibility.bind(inner),
    getStream: (key: string, o: { start?: number; end?: number }) => {
      requested.push(`${o.start ?? 0}-${o.end ?? ''}`)
      return inner.getStream(key, o)
    },
  })
  return {
    inner,
    requested,
    files: createStorage({ envPrefix: false, driver: encrypted(watched, { keys, segmentSize: SEGMENT }) }),
  }
}

async function range(files: Storage, path: string, start: number, end?: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of await files.getStream(path, { start, ...(end === undefined ? {} : { end }) }))
    chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

describe('encryption', () => {
  it('stores only ciphertext, in segments, and reports the plaintext size and attributes', async () => {
    const { inner, files } = setup()
    const plain = data(5000)
    await files.put('secret.bin', plain, { metadata: { owner: 'u1' } })
    const stored = await raw(inner, 'secret.bin')
    expect(stored.length).toBe(5000 + 5 * 16)
    expect(stored.includes(plain.subarray(0, 64))).toBe(false)
    expect((await inner.stat('secret.bin'))!.metadata['beaver-encryption']).toMatch(/^v1\.k-2026\.1024\./)
    expect(await files.stat('secret.bin')).toMatchObject({ size: 5000, metadata: { owner: 'u1' } })
    expect((await files.get('secret.bin')).equals(plain)).toBe(true)
    // A whole number of segments and an empty file round-trip too.
    await files.put('exact.bin', data(2 * SEGMENT))
    expect((await files.get('exact.bin')).equals(data(2 * SEGMENT))).toBe(true)
    await files.put('empty', '')
    expect((await files.get('empty')).length).toBe(0)
  })

  it('decrypts only the segments a range touches', async () => {
    const { files, requested } = setup()
    const plain = data(10 * SEGMENT + 100)
    await files.put('big.bin', plain)
    requested.length = 0
    expect((await range(files, 'big.bin', 2100, 2200)).equals(plain.subarray(2100, 2201))).toBe(true)
    expect(requested).toEqual([`${2 * SEALED}-${3 * SEALED - 1}`])
    expect((await range(files, 'big.bin', 10 * SEGMENT + 50)).equals(plain.subarray(10 * SEGMENT + 50))).toBe(true)
    expect((await range(files, 'big.bin', 1000, 1030)).equals(plain.subarray(1000, 1031))).toBe(true)
    expect(requested[2]).toBe(`0-${2 * SEALED - 1}`)
    expect((await range(files, 'big.bin', 999_999)).length).toBe(0)
  })

  it('detects altered, truncated, reordered and moved ciphertext', async () => {
    const { inner, files } = setup()
    const plain = data(3 * SEGMENT + 10)
    await files.put('f.bin', plain)
    const good = await raw(inner, 'f.bin')
    const flipped = Buffer.from(good)
    flipped[SEALED + 5]! ^= 1
    const cases: [string, Buffer][] = [
      ['altered', flipped],
      ['truncated after a segment', good.subarray(0, 3 * SEALED)],
      ['cut inside a segment', good.subarray(0, good.length - 4)],
      [
        'reordered',
        Buffer.concat([good.subarray(SEALED, 2 * SEALED), good.subarray(0, SEALED), good.subarray(2 * SEALED)]),
      ],
    ]
    for (const [name, bytes] of cases) {
      await overwrite(inner, 'f.bin', bytes)
      expect(await codeOf(files.get('f.bin')), name).toBe('STORAGE_TAMPERED')
    }
    // The path is authenticated: the same bytes under another name do not open.
    await overwrite(inner, 'f.bin', good)
    await inner.copy('f.bin', 'other.bin')
    expect(await codeOf(files.get('other.bin'))).toBe('STORAGE_TAMPERED')
    expect((await files.get('f.bin')).equals(plain)).toBe(true)
    // A copy through the decorator re-encrypts for the new path.
    await files.copy('f.bin', 'copied.bin')
    expect((await files.get('copied.bin')).equals(plain)).toBe(true)
    // So is the header.
    const header = (await inner.stat('f.bin'))!.metadata['beaver-encryption']!
    const { size: _s, lastModified: _l, etag: _e, ...attributes } = (await inner.stat('f.bin'))!
    const salt = header.split('.')[3]!
    const otherSalt = createHash('sha256').update(salt).digest().subarray(0, 16).toString('base64url')
    await inner.put('f.bin', {
      body: Readable.from([good]),
      attributes: { ...attributes, metadata: { 'beaver-encryption': header.replace(salt, otherSalt) } },
    })
    expect(await codeOf(files.get('f.bin'))).toBe('STORAGE_TAMPERED')
  })

  it('reads files of older keys after a rotation, and refuses unknown keys and plain files', async () => {
    const before = setup(createKeyRing([oldKey]))
    await before.files.put('old.txt', 'written with the old key')
    const stored = await raw(before.inner, 'old.txt')
    const { size: _s, lastModified: _l, etag: _e, ...attributes } = (await before.inner.stat('old.txt'))!
    const after = setup(createKeyRing([newKey, oldKey]))
    await after.inner.put('old.txt', { body: Readable.from([stored]), attributes })
    expect(await after.files.getText('old.txt')).toBe('written with the old key')
    const other = setup(createKeyRing([newKey]))
    await other.inner.put('old.txt', { body: Readable.from([stored]), attributes })
    expect(await codeOf(other.files.get('old.txt'))).toBe('STORAGE_TAMPERED')
    await other.inner.put('plain.txt', {
      body: Readable.from([Buffer.from('plain')]),
      attributes: { contentType: 'text/plain', visibility: 'private' },
    })
    expect(await codeOf(other.files.get('plain.txt'))).toBe('STORAGE_TAMPERED')
    expect(await codeOf(other.files.stat('plain.txt'))).toBe('STORAGE_TAMPERED')
    await other.inner.put('bad-header.txt', {
      body: Readable.from([Buffer.from('x')]),
      attributes: { contentType: 'text/plain', visibility: 'private', metadata: { 'beaver-encryption': 'v9.x' } },
    })
    expect(await codeOf(other.files.get('bad-header.txt'))).toBe('STORAGE_TAMPERED')
  })

  it('refuses a segment size out of bounds', () => {
    const keys = createKeyRing([newKey])
    expect(() => encrypted(new MemoryDisk(), { keys, segmentSize: 100 })).toThrow(/segmentSize/)
  })
})
