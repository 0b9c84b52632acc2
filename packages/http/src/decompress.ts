import type { Transform } from 'node:stream'
import zlib from 'node:zlib'

type Decode = (
  input: Buffer,
  options: zlib.ZlibOptions,
  callback: (error: Error | null, result: Buffer) => void,
) => void

const zstd = (zlib as { zstdDecompress?: Decode }).zstdDecompress
const createZstd = (zlib as { createZstdDecompress?: () => Transform }).createZstdDecompress

// `deflate` is meant to be zlib-wrapped, but some servers send it raw: try both.
const inflateAny: Decode = (input, options, callback) => {
  zlib.inflate(input, options, (error, result) => {
    if (error === null || (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') callback(error, result)
    else zlib.inflateRaw(input, options, callback)
  })
}

const decoders: Record<string, Decode> = {
  __proto__: null as unknown as Decode,
  gzip: zlib.gunzip,
  'x-gzip': zlib.gunzip,
  deflate: inflateAny,
  br: zlib.brotliDecompress,
  ...(zstd ? { zstd } : {}),
}

const streamDecoders: Record<string, () => Transform> = {
  __proto__: null as unknown as () => Transform,
  gzip: () => zlib.createGunzip(),
  'x-gzip': () => zlib.createGunzip(),
  deflate: () => zlib.createInflate(),
  br: () => zlib.createBrotliDecompress(),
  ...(createZstd ? { zstd: createZstd } : {}),
}

/** The Accept-Encoding the client sends when decompression is on. */
export const ACCEPT_ENCODING = zstd ? 'gzip, deflate, br, zstd' : 'gzip, deflate, br'

/** Whether `encoding` (one content-coding, lower-case) can be decoded. */
export function canDecode(encoding: string): boolean {
  return encoding in decoders
}

/** Decodes a whole body; the output may not exceed `maxBytes` (a zip bomb fails with ERR_BUFFER_TOO_LARGE). */
export function decodeBody(encoding: string, input: Buffer, maxBytes: number): Promise<Buffer> {
  const decode = decoders[encoding]!
  return new Promise((resolve, reject) => {
    decode(input, { maxOutputLength: Math.max(1, maxBytes) }, (error, result) =>
      error ? reject(error) : resolve(result),
    )
  })
}

/** A decoding stream for `encoding`. */
export function decodeStream(encoding: string): Transform {
  return streamDecoders[encoding]!()
}
