import { randomBytes } from 'node:crypto'
import { Readable, type Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { MAX_SEGMENT_SIZE, createKeyRing, generateKeyRingEntry } from '../src/index.ts'

const ring = createKeyRing(`${generateKeyRingEntry('k1')},${generateKeyRingEntry('k2')}`)
const HEADER = 2 + 2 + 4 + 16 // version, kid length, "k1", segment size, salt

async function run(source: Iterable<Buffer> | AsyncIterable<Buffer>, transform: Transform): Promise<Buffer> {
  const out: Buffer[] = []
  await pipeline(Readable.from(source), transform, async function* (chunks) {
    for await (const c of chunks) out.push(c as Buffer)
    yield* []
  })
  return Buffer.concat(out)
}

const chunks = (data: Buffer, size: number): Buffer[] => {
  const out: Buffer[] = []
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size))
  return out
}

/** A stream header for key k1 declaring `segment` bytes per segment, then `junk` bytes, counting what was read. */
function hostile(segment: number, junk: number, read: { bytes: number }): AsyncGenerator<Buffer> {
  const header = Buffer.alloc(HEADER)
  header[0] = 2
  header[1] = 2
  header.write('k1', 2, 'latin1')
  header.writeUInt32BE(segment, 4)
  return (async function* () {
    read.bytes += header.length
    yield header
    const chunk = randomBytes(64 * 1024)
    for (let sent = 0; sent < junk; sent += chunk.length) {
      read.bytes += chunk.length
      yield chunk
    }
  })()
}

describe('streaming', () => {
  afterEach(() => {
    vi.restoreAllMocks()
  })

  it.each([0, 1, 63, 64, 65, 640, 1000])('round-trips %i bytes across 64-byte segments and odd chunking', async (n) => {
    const data = randomBytes(n)
    const enc = await run(chunks(data, 7), ring.encryptStream({ segmentSize: 64, associatedData: 'file:1' }))
    expect(await run(chunks(enc, 13), ring.decryptStream({ associatedData: 'file:1' }))).toEqual(data)
  })

  it('detects truncation, reordered segments, a changed byte and the wrong associated data', async () => {
    const data = randomBytes(300)
    const enc = await run([data], ring.encryptStream({ segmentSize: 64 }))
    const seg = 64 + 16
    const dec = (buf: Buffer, ad?: string) =>
      run([buf], ring.decryptStream(ad === undefined ? {} : { associatedData: ad }))
    await expect(dec(enc.subarray(0, HEADER + seg * 2))).rejects.toMatchObject({ code: 'KRYPTO_TAMPERED' })
    const swapped = Buffer.concat([
      enc.subarray(0, HEADER),
      enc.subarray(HEADER + seg, HEADER + 2 * seg),
      enc.subarray(HEADER, HEADER + seg),
      enc.subarray(HEADER + 2 * seg),
    ])
    await expect(dec(swapped)).rejects.toMatchObject({ code: 'KRYPTO_TAMPERED' })
    const flipped = Buffer.from(enc)
    flipped[HEADER + 5] = (flipped[HEADER + 5] as number) ^ 1
    await expect(dec(flipped)).rejects.toMatchObject({ code: 'KRYPTO_TAMPERED' })
    const salt = Buffer.from(enc)
    salt[HEADER - 1] = (salt[HEADER - 1] as number) ^ 1
    await expect(dec(salt)).rejects.toMatchObject({ code: 'KRYPTO_TAMPERED' })
    await expect(dec(enc, 'other')).rejects.toMatchObject({ code: 'KRYPTO_TAMPERED' })
    await expect(dec(enc.subarray(0, 3))).rejects.toMatchObject({ code: 'KRYPTO_ENVELOPE_MALFORMED' })
    await expect(run([], ring.decryptStream())).rejects.toMatchObject({ code: 'KRYPTO_ENVELOPE_MALFORMED' })
  })

  it('bounds the segment size on both sides (1 MiB)', async () => {
    expect(MAX_SEGMENT_SIZE).toBe(1024 * 1024)
    expect(() => ring.encryptStream({ segmentSize: MAX_SEGMENT_SIZE + 1 })).toThrow(
      expect.objectContaining({ code: 'KRYPTO_INVALID_ARGUMENT' }),
    )
    const data = randomBytes(MAX_SEGMENT_SIZE + 10)
    const enc = await run([data], ring.encryptStream({ segmentSize: MAX_SEGMENT_SIZE }))
    expect(await run(chunks(enc, 100_000), ring.decryptStream())).toEqual(data)
  })

  it('refuses a header declaring huge segments before buffering anything behind it', async () => {
    const read = { bytes: 0 }
    await expect(run(hostile(0xffffffff, 50 * 1024 * 1024, read), ring.decryptStream())).rejects.toMatchObject({
      code: 'KRYPTO_ENVELOPE_MALFORMED',
      message: expect.stringContaining('declares segments of 4294967295 bytes'),
    })
    // The header plus whatever the pipeline had read ahead, never the 50 MB.
    expect(read.bytes).toBeLessThan(2 * 1024 * 1024)
  })

  it('stops at the first segment of 50 MB of junk behind a plausible header', async () => {
    const read = { bytes: 0 }
    await expect(run(hostile(MAX_SEGMENT_SIZE, 50 * 1024 * 1024, read), ring.decryptStream())).rejects.toMatchObject({
      code: 'KRYPTO_TAMPERED',
    })
    expect(read.bytes).toBeLessThan(4 * 1024 * 1024)
  })

  it('buffers linearly: small input chunks are not re-concatenated into the whole buffer each time', async () => {
    const data = randomBytes(256 * 1024)
    const enc = await run([data], ring.encryptStream({ segmentSize: 64 * 1024 }))
    const concat = vi.spyOn(Buffer, 'concat')
    expect(await run(chunks(enc, 1024), ring.decryptStream())).toEqual(data)
    const copied = concat.mock.results.reduce(
      (sum, r) => sum + (r.type === 'return' ? (r.value as Buffer).length : 0),
      0,
    )
    // Each byte is joined at most a few times (segment assembly, the cipher's output, the test's
    // own result); re-concatenating the buffer on every 1 KiB chunk would copy ~32x the input.
    expect(copied).toBeLessThan(4 * enc.length)
  })
})
