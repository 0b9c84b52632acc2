// The object store of the local Cloud Storage server and the JSON shapes of Google's published
// JSON API (https://cloud.google.com/storage/docs/json_api/v1/objects): the object resource,
// the writable fields a request may set, and the error body
// `{ "error": { "code", "message", "errors": [{ "domain", "reason", "message" }] } }`.
import { createHash } from 'node:crypto'

/** An object's writable metadata, as the JSON API names it. */
export interface ObjectFields {
  contentType?: string | undefined
  cacheControl?: string | undefined
  contentDisposition?: string | undefined
  contentEncoding?: string | undefined
  contentLanguage?: string | undefined
  metadata?: Record<string, string> | undefined
}

/** One stored object (the live generation). */
export interface StoredObject extends ObjectFields {
  bucket: string
  name: string
  data: Buffer
  generation: number
  metageneration: number
  created: Date
  updated: Date
}

const WRITABLE = [
  'contentType',
  'cacheControl',
  'contentDisposition',
  'contentEncoding',
  'contentLanguage',
  'metadata',
] as const

/** An error the server answers in Google's JSON error shape (and the XML API's, for signed URLs). */
export class GcsApiError extends Error {
  readonly status: number
  readonly reason: string

  constructor(status: number, reason: string, message: string) {
    super(message)
    this.status = status
    this.reason = reason
  }

  json(): string {
    const entry = { domain: 'global', reason: this.reason, message: this.message }
    return JSON.stringify({ error: { code: this.status, message: this.message, errors: [entry] } })
  }
}

export const notFound = (what: string): GcsApiError => new GcsApiError(404, 'notFound', `No such object: ${what}`)
export const badRequest = (message: string): GcsApiError => new GcsApiError(400, 'invalid', message)

// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum Cloud Storage reports.
const CRC32C_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
  return c >>> 0
})

/** CRC32C of the bytes, base64 of its big-endian 4 bytes as the API reports `crc32c`. */
export function crc32cBase64(data: Buffer): string {
  let crc = 0xffffffff
  for (const byte of data) crc = CRC32C_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8)
  const out = Buffer.alloc(4)
  out.writeUInt32BE((crc ^ 0xffffffff) >>> 0)
  return out.toString('base64')
}

/** The writable fields of a request body (unknown and read-only fields are ignored, as the API does). */
export function writableFields(body: Record<string, unknown>): ObjectFields {
  const fields: ObjectFields = {}
  for (const key of WRITABLE) {
    const value = body[key]
    if (value === undefined || value === null) continue
    if (key === 'metadata') {
      if (typeof value !== 'object') throw badRequest('metadata must be an object')
      const metadata: Record<string, string> = {}
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) if (v !== null) metadata[k] = String(v)
      fields.metadata = metadata
    } else fields[key] = String(value)
  }
  return fields
}

/** Applies a PATCH body: a field set to null is removed; metadata merges key by key (null removes a key). */
export function patchFields(object: StoredObject, body: Record<string, unknown>): void {
  for (const key of WRITABLE) {
    if (!(key in body)) continue
    const value = body[key]
    if (key === 'metadata') {
      if (value === null) delete object.metadata
      else {
        const merged = { ...object.metadata }
        for (const [k, v] of Object.entries(value as Record<string, unknown>))
          if (v === null) delete merged[k]
          else merged[k] = String(v)
        object.metadata = merged
      }
    } else if (value === null) delete object[key]
    else object[key] = String(value)
  }
}

/** The buckets and their objects, in memory. */
export class ObjectStore {
  readonly #buckets = new Map<string, Map<string, StoredObject>>()
  #generation = Date.now() * 1000

  constructor(buckets: readonly string[]) {
    for (const b of buckets) this.#buckets.set(b, new Map())
  }

  bucket(name: string): Map<string, StoredObject> {
    const bucket = this.#buckets.get(name)
    if (!bucket) throw new GcsApiError(404, 'notFound', `The specified bucket does not exist: ${name}`)
    return bucket
  }

  get(bucket: string, name: string): StoredObject {
    const object = this.bucket(bucket).get(name)
    if (!object) throw notFound(`${bucket}/${name}`)
    return object
  }

  /** Writes a new generation, checking `ifGenerationMatch` (0: only when absent) first. */
  put(bucket: string, name: string, data: Buffer, fields: ObjectFields, query: URLSearchParams): StoredObject {
    const objects = this.bucket(bucket)
    const current = objects.get(name)
    checkPreconditions(current, query)
    const now = new Date()
    const object: StoredObject = {
      ...fields,
      bucket,
      name,
      data,
      generation: ++this.#generation,
      metageneration: 1,
      created: now,
      updated: now,
    }
    objects.set(name, object)
    return object
  }
}

/** `ifGenerationMatch` / `ifGenerationNotMatch` / `ifMetagenerationMatch` preconditions (412 when unmet). */
export function checkPreconditions(current: StoredObject | undefined, query: URLSearchParams): void {
  const unmet = (): never => {
    throw new GcsApiError(412, 'conditionNotMet', 'At least one of the pre-conditions you specified did not hold.')
  }
  const generation = query.get('ifGenerationMatch')
  if (generation !== null && String(current?.generation ?? 0) !== generation) unmet()
  const notGeneration = query.get('ifGenerationNotMatch')
  if (notGeneration !== null && String(current?.generation ?? 0) === notGeneration) unmet()
  const metageneration = query.get('ifMetagenerationMatch')
  if (metageneration !== null && String(current?.metageneration) !== metageneration) unmet()
}

/** The object resource (`storage#object`) as the JSON API returns it. */
export function objectResource(o: StoredObject, base: string): Record<string, unknown> {
  const path = `b/${encodeURIComponent(o.bucket)}/o/${encodeURIComponent(o.name)}`
  return {
    kind: 'storage#object',
    id: `${o.bucket}/${o.name}/${o.generation}`,
    selfLink: `${base}/storage/v1/${path}`,
    mediaLink: `${base}/download/storage/v1/${path}?generation=${o.generation}&alt=media`,
    name: o.name,
    bucket: o.bucket,
    generation: String(o.generation),
    metageneration: String(o.metageneration),
    contentType: o.contentType ?? 'application/octet-stream',
    storageClass: 'STANDARD',
    size: String(o.data.length),
    md5Hash: createHash('md5').update(o.data).digest('base64'),
    crc32c: crc32cBase64(o.data),
    etag: etagOf(o),
    timeCreated: o.created.toISOString(),
    updated: o.updated.toISOString(),
    timeStorageClassUpdated: o.created.toISOString(),
    ...(o.cacheControl === undefined ? {} : { cacheControl: o.cacheControl }),
    ...(o.contentDisposition === undefined ? {} : { contentDisposition: o.contentDisposition }),
    ...(o.contentEncoding === undefined ? {} : { contentEncoding: o.contentEncoding }),
    ...(o.contentLanguage === undefined ? {} : { contentLanguage: o.contentLanguage }),
    ...(o.metadata === undefined ? {} : { metadata: o.metadata }),
  }
}

export function etagOf(o: StoredObject): string {
  return Buffer.from(`${o.generation}/${o.metageneration}`).toString('base64')
}
