// Content sniffing by magic bytes: only signatures strong enough that a text file cannot start
// with them by accident (so a plain-text upload is never taken for a binary type).
interface Signature {
  type: string
  offset: number
  bytes: Buffer
}

const sig = (type: string, offset: number, bytes: string | number[]): Signature => ({
  type,
  offset,
  bytes: typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : Buffer.from(bytes),
})

const SIGNATURES: readonly Signature[] = [
  sig('image/png', 0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  sig('image/jpeg', 0, [0xff, 0xd8, 0xff]),
  sig('image/gif', 0, 'GIF87a'),
  sig('image/gif', 0, 'GIF89a'),
  sig('image/webp', 8, 'WEBP'),
  sig('image/avif', 4, 'ftypavif'),
  sig('video/mp4', 4, 'ftypisom'),
  sig('video/mp4', 4, 'ftypmp4'),
  sig('video/webm', 0, [0x1a, 0x45, 0xdf, 0xa3]),
  sig('application/pdf', 0, '%PDF-'),
  sig('application/zip', 0, [0x50, 0x4b, 0x03, 0x04]),
  sig('application/gzip', 0, [0x1f, 0x8b, 0x08]),
  sig('application/wasm', 0, [0x00, 0x61, 0x73, 0x6d]),
]

/** Bytes needed from the start of a body to sniff it. */
export const SNIFF_BYTES = Math.max(...SIGNATURES.map((s) => s.offset + s.bytes.length))

/** The type the first bytes of a body prove, or undefined when no signature matches. */
export function sniffType(head: Buffer): string | undefined {
  for (const { type, offset, bytes } of SIGNATURES)
    if (head.length >= offset + bytes.length && head.subarray(offset, offset + bytes.length).equals(bytes)) return type
  return undefined
}

/** True when the type has a signature here, so its content can be checked. */
export function hasSignature(type: string): boolean {
  return SIGNATURES.some((s) => s.type === type)
}
