// Strict codecs. Node's own base64url decoder skips characters it does not know and accepts
// both alphabets, so a token could be altered without changing what it decodes to; JOSE wants
// one canonical encoding, so every decoder here refuses anything else.

const B64URL_VALUE = new Int8Array(128).fill(-1)
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
for (let i = 0; i < 64; i++) B64URL_VALUE[B64URL.charCodeAt(i)] = i

/**
 * True when `s` is canonical unpadded base64url: only the url-safe alphabet, a possible length,
 * and zero bits in the unused tail of the last character.
 */
export function isStrictBase64url(s: string): boolean {
  const n = s.length
  const rem = n & 3
  if (rem === 1) return false
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c > 127 || B64URL_VALUE[c] === -1) return false
  }
  if (rem === 0 || n === 0) return true
  const last = B64URL_VALUE[s.charCodeAt(n - 1)] as number
  // 2 leftover chars carry 12 bits for 8 (4 unused), 3 carry 18 bits for 16 (2 unused).
  return rem === 2 ? (last & 0x0f) === 0 : (last & 0x03) === 0
}

/**
 * Decodes canonical base64url, or returns undefined. Fast path for the JWT hot loop: Node's
 * decoder skips characters outside both base64 alphabets, so any such character makes the
 * output shorter than the length implies; `+` and `/` (which it accepts) are refused
 * explicitly, and the unused bits of the last character must be zero.
 */
export function decodeBase64url(s: string): Buffer | undefined {
  const n = s.length
  const rem = n & 3
  if (rem === 1 || s.includes('+') || s.includes('/')) return undefined
  const buf = Buffer.from(s, 'base64url')
  if (buf.length !== (n >> 2) * 3 + (rem === 0 ? 0 : rem - 1)) return undefined
  if (rem !== 0) {
    const last = B64URL_VALUE[s.charCodeAt(n - 1)] as number
    if ((rem === 2 ? last & 0x0f : last & 0x03) !== 0) return undefined
  }
  return buf
}

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

/** RFC 4648 base32 without padding (the alphabet authenticator apps expect). */
export function base32Encode(data: Uint8Array): string {
  let out = ''
  let bits = 0
  let value = 0
  for (const byte of data) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31]
  return out
}

/**
 * Decodes base32 as users paste it: case-insensitive, spaces, dashes and `=` padding ignored.
 * Returns undefined on any other character.
 */
export function base32Decode(input: string): Buffer | undefined {
  const s = input.replace(/[\s=-]/g, '').toUpperCase()
  const out: number[] = []
  let bits = 0
  let value = 0
  for (const ch of s) {
    const v = B32.indexOf(ch)
    if (v < 0) return undefined
    value = ((value << 5) | v) & 0xffff
    bits += 5
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff)
      bits -= 8
    }
  }
  return Buffer.from(out)
}

/** Standard base64 without padding, as PHC strings use it. */
export function toPhcBase64(data: Uint8Array): string {
  return Buffer.from(data).toString('base64').replace(/=+$/, '')
}

/** Decodes PHC base64 (standard alphabet, no padding) strictly, or returns undefined. */
export function fromPhcBase64(s: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]*$/.test(s) || (s.length & 3) === 1) return undefined
  const buf = Buffer.from(s, 'base64')
  return toPhcBase64(buf) === s ? buf : undefined
}
