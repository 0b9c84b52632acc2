import { deflateRawSync, inflateRawSync } from 'node:zlib'
import type { SessionRecord } from './store.ts'

/**
 * What the cookie mode seals: the record as JSON, or (first byte 0, which JSON never starts
 * with) the JSON deflated. Only this package's key ring can make either, but a stolen key or a
 * bug must not turn a 4 KiB cookie into gigabytes: inflating stops at `maxDataBytes`.
 */
export interface CookiePayload {
  /** The bytes to seal for a record (deflated when asked and when it is smaller), and the JSON's length. */
  encode(record: SessionRecord): { bytes: Buffer; jsonBytes: number }
  /** The record in opened bytes; undefined when they are not a record or inflate past the bound. */
  decode(bytes: Buffer): SessionRecord | undefined
}

const DEFLATED = 0

export function cookiePayload(options: { compress: boolean; maxDataBytes: number }): CookiePayload {
  const { compress, maxDataBytes } = options
  return {
    encode(record) {
      const json = Buffer.from(JSON.stringify(record), 'utf8')
      if (!compress) return { bytes: json, jsonBytes: json.length }
      const deflated = deflateRawSync(json)
      const bytes = deflated.length + 1 < json.length ? Buffer.concat([Buffer.of(DEFLATED), deflated]) : json
      return { bytes, jsonBytes: json.length }
    },
    decode(bytes) {
      let json = bytes
      if (bytes[0] === DEFLATED) {
        try {
          json = inflateRawSync(bytes.subarray(1), { maxOutputLength: maxDataBytes })
        } catch {
          return undefined // corrupt, or past the bound (RangeError)
        }
      }
      try {
        const record = JSON.parse(json.toString('utf8')) as unknown
        return typeof record === 'object' && record !== null ? (record as SessionRecord) : undefined
      } catch {
        return undefined
      }
    },
  }
}
