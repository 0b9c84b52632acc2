import { importPeer } from '@beaver-kit/core'
import { CacheError } from './errors.ts'

/**
 * Turns values into bytes and back. Drivers that store bytes (Redis, database, memory in
 * serialized mode) see only the output of `serialize`. `serialize` never returns an empty
 * array: an empty stored value is the negative-cache marker.
 */
export interface Serializer {
  readonly name: string
  serialize(value: unknown): Uint8Array
  /**
   * Optional: the same output as text, for a text format whose bytes are its UTF-8 encoding.
   * Drivers that declare `capabilities.text` then get the string and skip an encode/decode.
   */
  serializeText?(value: unknown): string
  deserialize(bytes: Uint8Array): unknown
  /**
   * Optional: `deserialize` from the UTF-8 decoding of the bytes, for a text format. Drivers
   * that can answer text (`getText`/`getManyText`) then hand over the string their client
   * decoded, and the bytes are never materialised twice. Formats that need the bytes
   * (msgpack, raw) leave it out and keep the byte path.
   */
  deserializeText?(text: string): unknown
}

const TAG = '$t'
const MAX_DEPTH = 1000
// A document holding tags is written as {"$t":"beaver","v":<value>}, and only such a document
// is revived: JSON another client wrote (which may hold user data with a "$t" key) reads back
// as the plain data it is, never as a BigInt, Map or Set it happens to spell.
const DOCUMENT = 'beaver'
const DOCUMENT_START = `{"${TAG}":"${DOCUMENT}","v":`

function fail(message: string, cause?: unknown): never {
  throw new CacheError('CACHE_SERIALIZE', message, cause === undefined ? {} : { cause })
}

function tag(type: string, v: unknown): Record<string, unknown> {
  return { [TAG]: type, v }
}

// Copy-on-write walk: returns the same object when nothing needs a tag, so plain JSON data
// costs one traversal and no allocation before JSON.stringify.
function encode(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object') {
    switch (typeof value) {
      case 'number':
        if (Number.isFinite(value)) return Object.is(value, -0) ? tag('Number', '-0') : value
        return tag('Number', String(value))
      case 'bigint':
        return tag('BigInt', value.toString())
      default:
        return value
    }
  }
  if (depth > MAX_DEPTH)
    fail(`The value nests deeper than ${MAX_DEPTH} levels or has a cycle; the json serializer cannot store it.`)
  if (value instanceof Date) return tag('Date', Number.isNaN(value.getTime()) ? null : value.toISOString())
  if (value instanceof Uint8Array)
    return tag('Bytes', Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64'))
  if (value instanceof Map) {
    const pairs: unknown[] = []
    for (const [k, v] of value) pairs.push([encode(k, depth + 1), encode(v, depth + 1)])
    return tag('Map', pairs)
  }
  if (value instanceof Set) {
    const items: unknown[] = []
    for (const v of value) items.push(encode(v, depth + 1))
    return tag('Set', items)
  }
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i]
      const next = encode(item, depth + 1)
      if (next !== item && copy === undefined) copy = value.slice(0, i)
      if (copy !== undefined) copy.push(next)
    }
    return copy ?? value
  }
  const toJSON = (value as { toJSON?: unknown }).toJSON
  if (typeof toJSON === 'function') return encode(toJSON.call(value), depth + 1)
  let copy: Record<string, unknown> | undefined
  const keys = Object.keys(value)
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string
    const item = (value as Record<string, unknown>)[key]
    const next = encode(item, depth + 1)
    if (next !== item && copy === undefined) {
      copy = {}
      for (let j = 0; j < i; j++) copy[keys[j] as string] = (value as Record<string, unknown>)[keys[j] as string]
    }
    if (copy !== undefined) copy[key] = next
  }
  const out = copy ?? value
  // A user object that itself has a "$t" key is stored as its entries, so it never reads back as a tag.
  return Object.hasOwn(value, TAG) ? tag('Object', Object.entries(out)) : out
}

function revive(this: unknown, _key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value
  const t = (value as Record<string, unknown>)[TAG]
  if (typeof t !== 'string') return value
  const v = (value as Record<string, unknown>).v
  switch (t) {
    case 'Date':
      return new Date(v === null ? Number.NaN : (v as string))
    case 'BigInt':
      return BigInt(v as string)
    case 'Number':
      return Number(v)
    case 'Bytes':
      return new Uint8Array(Buffer.from(v as string, 'base64'))
    case 'Map':
      return new Map(v as Array<[unknown, unknown]>)
    case 'Set':
      return new Set(v as unknown[])
    case 'Object':
      return Object.fromEntries(v as Array<[string, unknown]>)
    default:
      return value
  }
}

/** Decodes UTF-8 without copying when the bytes are already a Buffer (what ioredis returns). */
export function utf8(bytes: Uint8Array): string {
  return Buffer.isBuffer(bytes)
    ? bytes.toString('utf8')
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')
}

function jsonText(value: unknown): string {
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') {
    fail(
      `The json serializer cannot store a value of type ${typeof value}; cache null, or use getOrSet's negative caching for "not found".`,
    )
  }
  try {
    const encoded = encode(value, 0)
    // The walk copies only what needs a tag: the same value back means plain JSON.
    return JSON.stringify(encoded === value ? value : { [TAG]: DOCUMENT, v: encoded })
  } catch (err) {
    if (err instanceof CacheError) throw err
    fail(`The value could not be serialized to JSON: ${(err as Error).message}`, err)
  }
}

function parseJson(text: string): unknown {
  try {
    // Only the kit's own tagged document is revived; one character tells most values apart.
    if (text.charCodeAt(2) === 36 /* $ */ && text.startsWith(DOCUMENT_START))
      return (JSON.parse(text, revive) as { v: unknown }).v
    return JSON.parse(text)
  } catch (err) {
    throw new CacheError(
      'CACHE_DESERIALIZE',
      `Stored bytes are not valid JSON (${Buffer.byteLength(text)} bytes); was the entry written with another serializer?`,
      { cause: err },
    )
  }
}

/**
 * JSON that round-trips Date, BigInt, Map, Set, Uint8Array, NaN/±Infinity/-0 and objects
 * with a `$t` key. Plain data is plain JSON (readable from any language); a value with special
 * types is the document `{"$t":"beaver","v":...}` whose special values are tagged objects
 * `{"$t":"Date","v":"2024-01-01T00:00:00.000Z"}` (see the README). Tags are revived only
 * inside such a document: JSON written by another client is read as plain data.
 */
export const jsonSerializer: Serializer = Object.freeze({
  name: 'json',
  serialize(value: unknown): Uint8Array {
    return Buffer.from(jsonText(value), 'utf8')
  },
  serializeText: jsonText,
  deserialize(bytes: Uint8Array): unknown {
    return parseJson(utf8(bytes))
  },
  deserializeText: parseJson,
})

/** Raw bytes: the value must be a Uint8Array (a Buffer is one) and reads back as a Buffer. */
export const rawSerializer: Serializer = Object.freeze({
  name: 'raw',
  serialize(value: unknown): Uint8Array {
    if (!(value instanceof Uint8Array))
      fail(
        `The raw serializer stores Uint8Array values only, got ${value === null ? 'null' : typeof value}; use the json serializer for other values.`,
      )
    if (value.byteLength === 0)
      fail('The raw serializer cannot store an empty Uint8Array: an empty stored value marks a negative-cache entry.')
    return value
  },
  deserialize(bytes: Uint8Array): unknown {
    return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  },
})

/**
 * MessagePack through the optional peer `msgpackr`: compact, and Date, Set, BigInt and
 * Uint8Array round-trip; a Map reads back as a plain object (a msgpack map), so use json
 * when Map identity matters. Loaded on first use.
 * @example const cache = createCache({ serializer: await msgpackSerializer() })
 */
export async function msgpackSerializer(): Promise<Serializer> {
  const { Packr } = await importPeer('msgpackr', () => import('msgpackr'), 'the msgpack cache serializer')
  // Plain maps (no records extension), so other languages read the bytes as ordinary msgpack.
  const packr = new Packr({ moreTypes: true, useRecords: false, mapsAsObjects: true, useBigIntExtension: true })
  return Object.freeze({
    name: 'msgpack',
    serialize(value: unknown): Uint8Array {
      if (value === undefined)
        fail('The msgpack serializer cannot store undefined; cache null, or use negative caching for "not found".')
      try {
        return packr.pack(value)
      } catch (err) {
        fail(`The value could not be serialized with msgpack: ${(err as Error).message}`, err)
      }
    },
    deserialize(bytes: Uint8Array): unknown {
      try {
        return packr.unpack(bytes)
      } catch (err) {
        throw new CacheError(
          'CACHE_DESERIALIZE',
          `Stored bytes are not valid msgpack (${bytes.byteLength} bytes); was the entry written with another serializer?`,
          { cause: err },
        )
      }
    },
  })
}
