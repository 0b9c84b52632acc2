// Object uploads of the local Cloud Storage server, as Google documents them
// (https://cloud.google.com/storage/docs/uploads-downloads): `uploadType=media` (the body is the
// object), `uploadType=multipart` (multipart/related: the JSON resource, then the media), and
// `uploadType=resumable` sessions: the POST answers a session URI in Location; each PUT carries
// `Content-Range: bytes first-last/total` (total `*` while unknown), non-final chunks being
// multiples of 256 KiB; an unfinished session answers 308 with `Range: bytes=0-<last persisted>`
// (no Range when nothing is persisted); `bytes */total` only asks the status; DELETE cancels (499).
import { randomBytes } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import {
  badRequest,
  GcsApiError,
  writableFields,
  type ObjectFields,
  type ObjectStore,
  type StoredObject,
} from './objects.ts'

const CHUNK_MULTIPLE = 256 * 1024

/** What an upload request ends with: an object, or the 308 of an unfinished session. */
export type UploadOutcome = { object: StoredObject } | { incomplete: { persisted: number } } | { cancelled: true }

interface Session {
  bucket: string
  name: string
  fields: ObjectFields
  query: URLSearchParams
  chunks: Buffer[]
  persisted: number
}

function jsonBody(raw: Buffer): Record<string, unknown> {
  if (raw.length === 0) return {}
  try {
    const parsed: unknown = JSON.parse(raw.toString('utf8'))
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>
  } catch {
    // answered below
  }
  throw badRequest('The request body is not a JSON object.')
}

/** The two parts of a multipart/related body: the JSON resource and the media with its type. */
function splitRelated(
  contentType: string,
  body: Buffer,
): { resource: Record<string, unknown>; media: Buffer; type?: string } {
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1]
  if (!boundary) throw badRequest('A multipart upload needs Content-Type: multipart/related; boundary=...')
  const delimiter = Buffer.from(`--${boundary}`)
  const parts: { headers: string; body: Buffer }[] = []
  let at = body.indexOf(delimiter)
  while (at >= 0) {
    const start = at + delimiter.length
    if (body.subarray(start, start + 2).toString() === '--') break
    const next = body.indexOf(delimiter, start)
    if (next < 0) break
    const part = body.subarray(start, next)
    const split = part.indexOf('\r\n\r\n')
    if (split < 0) throw badRequest('A multipart part has no header block.')
    // Each part starts after the delimiter's CRLF and ends before the next delimiter's CRLF.
    parts.push({ headers: part.subarray(0, split).toString('latin1'), body: part.subarray(split + 4, part.length - 2) })
    at = next
  }
  if (parts.length !== 2) throw badRequest(`A multipart upload has 2 parts (metadata, media); got ${parts.length}.`)
  const type = /content-type:\s*([^\r\n]+)/i.exec(parts[1]!.headers)?.[1]?.trim()
  return { resource: jsonBody(parts[0]!.body), media: parts[1]!.body, ...(type ? { type } : {}) }
}

function nameOf(query: URLSearchParams, resource: Record<string, unknown>): string {
  const name = query.get('name') ?? (typeof resource.name === 'string' ? resource.name : undefined)
  if (!name) throw new GcsApiError(400, 'required', 'Required parameter: name')
  return name
}

/** Uploads for one server: starts and continues resumable sessions, stores media and multipart bodies. */
export class Uploads {
  readonly #sessions = new Map<string, Session>()
  readonly store: ObjectStore
  readonly base: () => string

  constructor(store: ObjectStore, base: () => string) {
    this.store = store
    this.base = base
  }

  /** POST /upload/storage/v1/b/{bucket}/o?uploadType=... */
  insert(
    bucket: string,
    query: URLSearchParams,
    req: IncomingMessage,
    body: Buffer,
  ): { object: StoredObject } | { location: string } {
    this.store.bucket(bucket)
    const uploadType = query.get('uploadType')
    if (uploadType === 'media') {
      const type = req.headers['content-type']
      return { object: this.store.put(bucket, nameOf(query, {}), body, type ? { contentType: type } : {}, query) }
    }
    if (uploadType === 'multipart') {
      const { resource, media, type } = splitRelated(req.headers['content-type'] ?? '', body)
      const fields = writableFields(resource)
      if (fields.contentType === undefined && type) fields.contentType = type
      return { object: this.store.put(bucket, nameOf(query, resource), media, fields, query) }
    }
    if (uploadType === 'resumable') {
      const resource = jsonBody(body)
      const fields = writableFields(resource)
      const declared = req.headers['x-upload-content-type']
      if (fields.contentType === undefined && typeof declared === 'string') fields.contentType = declared
      const id = randomBytes(16).toString('hex')
      const name = nameOf(query, resource)
      this.#sessions.set(id, { bucket, name, fields, query, chunks: [], persisted: 0 })
      const params = new URLSearchParams({ uploadType: 'resumable', name, upload_id: id })
      return { location: `${this.base()}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?${params}` }
    }
    throw badRequest(`Unknown uploadType: ${String(uploadType)}`)
  }

  /** PUT (a chunk or a status query) or DELETE (cancel) on a session URI. */
  resume(method: string, query: URLSearchParams, contentRange: string | undefined, body: Buffer): UploadOutcome {
    const id = query.get('upload_id') ?? ''
    const session = this.#sessions.get(id)
    if (!session) throw new GcsApiError(404, 'notFound', 'No such upload session (finished, cancelled or unknown).')
    if (method === 'DELETE') {
      this.#sessions.delete(id)
      return { cancelled: true }
    }
    const range = /^bytes (?:(\d+)-(\d+|\*)|\*)\/(\d+|\*)$/.exec(contentRange ?? `bytes */${body.length}`)
    if (!range) throw badRequest(`Invalid Content-Range: ${String(contentRange)}`)
    const total = range[3] === '*' ? undefined : Number(range[3])
    if (range[1] !== undefined) {
      const first = Number(range[1])
      const open = range[2] === '*'
      if (!open && Number(range[2]) - first + 1 !== body.length)
        throw badRequest('Content-Range does not match the length of the body.')
      if (first > session.persisted)
        throw badRequest(`The chunk starts at ${first}; ${session.persisted} bytes are persisted.`)
      const fresh = body.subarray(session.persisted - first)
      const final = total !== undefined ? first + body.length === total : open
      if (!final && body.length % CHUNK_MULTIPLE !== 0)
        throw badRequest(`A chunk other than the last must be a multiple of ${CHUNK_MULTIPLE} bytes.`)
      session.chunks.push(fresh)
      session.persisted += fresh.length
    }
    const finished = total !== undefined ? session.persisted === total : range[2] === '*'
    if (total !== undefined && session.persisted > total) throw badRequest('More bytes than the declared total.')
    if (!finished) return { incomplete: { persisted: session.persisted } }
    this.#sessions.delete(id)
    const data = Buffer.concat(session.chunks, session.persisted)
    return { object: this.store.put(session.bucket, session.name, data, session.fields, session.query) }
  }

  /** Sessions not finished nor cancelled (tests check a failed upload left none behind, or one). */
  get open(): number {
    return this.#sessions.size
  }
}
