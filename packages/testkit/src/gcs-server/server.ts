// A local server for Google Cloud Storage's JSON API, written from Google's published reference
// (https://cloud.google.com/storage/docs/json_api/v1) so @google-cloud/storage can be tested
// without the network: objects insert (media, multipart, resumable), get (resource, or
// alt=media with Range), list (prefix, delimiter, pageToken, maxResults, startOffset), delete,
// patch, copyTo, rewriteTo, compose; bucket get; and XML API GET/HEAD/PUT of V4-signed URLs.
// Not covered: ACLs, IAM, versioning (only the live generation is kept), notifications, HMAC.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { once } from 'node:events'
import { createHash, type KeyObject } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import {
  badRequest,
  checkPreconditions,
  crc32cBase64,
  etagOf,
  GcsApiError,
  objectResource,
  ObjectStore,
  patchFields,
  writableFields,
  type StoredObject,
} from './objects.ts'
import { Uploads } from './uploads.ts'
import { verifySignedRequest, xmlError } from './signed-urls.ts'

/** A running local Cloud Storage server. */
export interface LocalGcs {
  /** Give it to the client as `apiEndpoint`: `http://127.0.0.1:<port>`. */
  apiEndpoint: string
  /** The stored objects of a bucket (for assertions). */
  objects(bucket: string): ReadonlyMap<string, StoredObject>
  /** Resumable sessions neither finished nor cancelled. */
  openSessions(): number
  /** Every request as `METHOD path?query`, for assertions on what a client sent. */
  readonly requests: string[]
  stop(): Promise<void>
}

export interface GcsServerOptions {
  buckets: readonly string[]
  /** Service accounts whose V4 signed URLs are honoured: client e-mail → RSA public key. */
  signers?: ReadonlyMap<string, KeyObject>
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk)
  return Buffer.concat(chunks)
}

function json(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {}
  const parsed: unknown = JSON.parse(body.toString('utf8'))
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw badRequest('Expected a JSON object.')
  return parsed as Record<string, unknown>
}

function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body)
  res.writeHead(status, {
    ...(body === undefined ? {} : { 'content-type': 'application/json; charset=UTF-8' }),
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  })
  res.end(text)
}

/** `bytes=a-b`, `bytes=a-` or `bytes=-n` against a length; undefined when absent, 416 when unsatisfiable. */
function byteRange(header: string | undefined, length: number): { start: number; end: number } | undefined {
  if (!header) return undefined
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (!m || (m[1] === '' && m[2] === '')) return undefined
  let start: number
  let end: number
  if (m[1] === '') {
    start = Math.max(0, length - Number(m[2]))
    end = length - 1
  } else {
    start = Number(m[1])
    end = m[2] === '' ? length - 1 : Math.min(Number(m[2]), length - 1)
  }
  if (start >= length || start > end)
    throw new GcsApiError(416, 'requestedRangeNotSatisfiable', 'The requested range cannot be satisfied.')
  return { start, end }
}

function sendMedia(req: IncomingMessage, res: ServerResponse, o: StoredObject, head = false): void {
  const range = byteRange(req.headers.range, o.data.length)
  const bytes = range ? o.data.subarray(range.start, range.end + 1) : o.data
  res.writeHead(range ? 206 : 200, {
    'content-type': o.contentType ?? 'application/octet-stream',
    'content-length': String(bytes.length),
    etag: etagOf(o),
    'last-modified': o.updated.toUTCString(),
    'x-goog-generation': String(o.generation),
    'x-goog-metageneration': String(o.metageneration),
    'x-goog-stored-content-length': String(o.data.length),
    'x-goog-stored-content-encoding': o.contentEncoding ?? 'identity',
    'x-goog-hash': `crc32c=${crc32cBase64(o.data)},md5=${createHash('md5').update(o.data).digest('base64')}`,
    'accept-ranges': 'bytes',
    ...(range ? { 'content-range': `bytes ${range.start}-${range.end}/${o.data.length}` } : {}),
    ...(o.cacheControl === undefined ? {} : { 'cache-control': o.cacheControl }),
    ...(o.contentDisposition === undefined ? {} : { 'content-disposition': o.contentDisposition }),
    ...(o.contentEncoding === undefined ? {} : { 'content-encoding': o.contentEncoding }),
    ...Object.fromEntries(Object.entries(o.metadata ?? {}).map(([k, v]) => [`x-goog-meta-${k}`, v])),
  })
  res.end(head ? undefined : bytes)
}

const decode = (segment: string): string => {
  try {
    return decodeURIComponent(segment)
  } catch {
    throw badRequest(`Malformed path segment: ${segment}`)
  }
}

/**
 * Starts the server on an ephemeral loopback port.
 * @example const gcs = await startGcsServer({ buckets: ['b'] }); new Storage({ apiEndpoint: gcs.apiEndpoint, projectId: 'p' })
 */
export async function startGcsServer(options: GcsServerOptions): Promise<LocalGcs> {
  const store = new ObjectStore(options.buckets)
  const signers = options.signers ?? new Map<string, KeyObject>()
  let base = ''
  const uploads = new Uploads(store, () => base)
  const requests: string[] = []

  const list = (bucket: string, query: URLSearchParams): Record<string, unknown> => {
    const prefix = query.get('prefix') ?? ''
    const delimiter = query.get('delimiter') ?? ''
    const max = Math.min(Number(query.get('maxResults') ?? 1000) || 1000, 1000)
    const token = query.get('pageToken')
    const after = token ? Buffer.from(token, 'base64url').toString('utf8') : undefined
    const startOffset = query.get('startOffset')
    const endOffset = query.get('endOffset')
    const cmp = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b))
    const entries = new Map<string, StoredObject | undefined>()
    for (const [name, object] of store.bucket(bucket)) {
      if (!name.startsWith(prefix)) continue
      if (startOffset && cmp(name, startOffset) < 0) continue
      if (endOffset && cmp(name, endOffset) >= 0) continue
      const cut = delimiter ? name.indexOf(delimiter, prefix.length) : -1
      if (cut >= 0) entries.set(name.slice(0, cut + delimiter.length), undefined)
      else entries.set(name, object)
    }
    const sorted = [...entries.keys()].sort(cmp).filter((k) => after === undefined || cmp(k, after) > 0)
    const page = sorted.slice(0, max)
    const items = page.flatMap((k) => (entries.get(k) ? [objectResource(entries.get(k)!, base)] : []))
    const prefixes = page.filter((k) => !entries.get(k))
    return {
      kind: 'storage#objects',
      ...(items.length ? { items } : {}),
      ...(prefixes.length ? { prefixes } : {}),
      ...(sorted.length > max ? { nextPageToken: Buffer.from(page[page.length - 1]!).toString('base64url') } : {}),
    }
  }

  const copyObject = (
    source: StoredObject,
    bucket: string,
    name: string,
    body: Record<string, unknown>,
    query: URLSearchParams,
  ): StoredObject => {
    const given = writableFields(body)
    // The destination takes the metadata in the request body when there is any, else the source's.
    const fields =
      Object.keys(given).length > 0
        ? given
        : {
            contentType: source.contentType,
            cacheControl: source.cacheControl,
            contentDisposition: source.contentDisposition,
            contentEncoding: source.contentEncoding,
            contentLanguage: source.contentLanguage,
            ...(source.metadata ? { metadata: { ...source.metadata } } : {}),
          }
    return store.put(bucket, name, Buffer.from(source.data), fields, query)
  }

  const json_api = async (req: IncomingMessage, res: ServerResponse, parts: string[], query: URLSearchParams) => {
    const method = req.method ?? 'GET'
    const body = await readBody(req)
    // /upload/storage/v1/b/{bucket}/o
    if (parts[0] === 'upload') {
      const bucket = decode(parts[4] ?? '')
      if (method === 'POST') {
        const out = uploads.insert(bucket, query, req, body)
        if ('location' in out) return send(res, 200, undefined, { location: out.location })
        return send(res, 200, objectResource(out.object, base))
      }
      const out = uploads.resume(method, query, req.headers['content-range'], body)
      if ('cancelled' in out) return send(res, 499)
      if ('incomplete' in out) {
        const { persisted } = out.incomplete
        return send(res, 308, undefined, persisted > 0 ? { range: `bytes=0-${persisted - 1}` } : {})
      }
      return send(res, 200, objectResource(out.object, base))
    }
    // /storage/v1/b/{bucket}[/o[/{object}[/{action}...]]] (or /download/storage/v1/...)
    const at = parts[0] === 'download' ? 1 : 0
    const bucket = decode(parts[at + 3] ?? '')
    const rest = parts.slice(at + 4)
    if (rest.length === 0 && method === 'GET') {
      store.bucket(bucket)
      return send(res, 200, { kind: 'storage#bucket', id: bucket, name: bucket, storageClass: 'STANDARD' })
    }
    if (rest[0] !== 'o') throw new GcsApiError(404, 'notFound', `Not found: ${req.url}`)
    if (rest.length === 1 && method === 'GET') return send(res, 200, list(bucket, query))
    const name = decode(rest[1] ?? '')
    if (rest.length === 3 && rest[2] === 'compose' && method === 'POST') {
      const request = json(body)
      const sources = (request.sourceObjects ?? []) as { name?: string }[]
      if (!Array.isArray(sources) || sources.length === 0 || sources.length > 32)
        throw badRequest('compose takes 1 to 32 sourceObjects.')
      const data = Buffer.concat(sources.map((s) => store.get(bucket, String(s.name)).data))
      const fields = writableFields((request.destination ?? {}) as Record<string, unknown>)
      return send(res, 200, objectResource(store.put(bucket, name, data, fields, query), base))
    }
    if (
      rest.length === 7 &&
      rest[5] === 'o' &&
      (rest[2] === 'rewriteTo' || rest[2] === 'copyTo') &&
      method === 'POST'
    ) {
      const source = store.get(bucket, name)
      const copied = copyObject(source, decode(rest[4]!), decode(rest[6]!), json(body), query)
      if (rest[2] === 'copyTo') return send(res, 200, objectResource(copied, base))
      const size = String(copied.data.length)
      return send(res, 200, {
        kind: 'storage#rewriteResponse',
        totalBytesRewritten: size,
        objectSize: size,
        done: true,
        resource: objectResource(copied, base),
      })
    }
    if (rest.length !== 2) throw new GcsApiError(404, 'notFound', `Not found: ${req.url}`)
    const object = store.get(bucket, name)
    if (method === 'GET') {
      checkPreconditions(object, query)
      if (query.get('alt') === 'media' || at === 1) return sendMedia(req, res, object)
      return send(res, 200, objectResource(object, base))
    }
    if (method === 'DELETE') {
      checkPreconditions(object, query)
      store.bucket(bucket).delete(name)
      return send(res, 204)
    }
    if (method === 'PATCH' || method === 'PUT') {
      checkPreconditions(object, query)
      patchFields(object, json(body))
      object.metageneration++
      object.updated = new Date()
      return send(res, 200, objectResource(object, base))
    }
    throw new GcsApiError(405, 'methodNotAllowed', `${method} is not allowed here.`)
  }

  // XML API paths (/{bucket}/{object}) serve only V4-signed requests.
  const xml_api = async (req: IncomingMessage, res: ServerResponse, rawPath: string, rawQuery: string) => {
    const method = req.method ?? 'GET'
    verifySignedRequest(method, rawPath, rawQuery, req.headers, signers)
    const slash = rawPath.indexOf('/', 1)
    if (slash < 0) throw badRequest('A signed URL names an object.')
    const bucket = decode(rawPath.slice(1, slash))
    const name = decode(rawPath.slice(slash + 1))
    if (method === 'PUT') {
      const data = await readBody(req)
      const type = req.headers['content-type']
      const meta: Record<string, string> = {}
      for (const [k, v] of Object.entries(req.headers))
        if (k.startsWith('x-goog-meta-') && typeof v === 'string') meta[k.slice(12)] = v
      const object = store.put(
        bucket,
        name,
        data,
        { ...(type ? { contentType: type } : {}), ...(Object.keys(meta).length ? { metadata: meta } : {}) },
        new URLSearchParams(),
      )
      res.writeHead(200, { etag: `"${createHash('md5').update(object.data).digest('hex')}"`, 'content-length': '0' })
      return res.end()
    }
    if (method === 'GET' || method === 'HEAD') return sendMedia(req, res, store.get(bucket, name), method === 'HEAD')
    throw new GcsApiError(405, 'MethodNotAllowed', `${method} is not allowed on a signed URL.`)
  }

  const server = createServer((req, res) => {
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const rawPath = q < 0 ? url : url.slice(0, q)
    const rawQuery = q < 0 ? '' : url.slice(q + 1)
    requests.push(`${req.method} ${url}`)
    const parts = rawPath.split('/').slice(1)
    const isJson =
      (parts[0] === 'storage' && parts[1] === 'v1') ||
      ((parts[0] === 'upload' || parts[0] === 'download') && parts[1] === 'storage')
    const handled = isJson
      ? json_api(req, res, parts, new URLSearchParams(rawQuery))
      : xml_api(req, res, rawPath, rawQuery)
    handled.catch((err: unknown) => {
      const apiError =
        err instanceof GcsApiError
          ? err
          : err instanceof SyntaxError
            ? badRequest(`Parse error: ${err.message}`)
            : new GcsApiError(500, 'backendError', String(err))
      if (res.headersSent) return res.destroy()
      if (!isJson) {
        const text = xmlError(apiError)
        res.writeHead(apiError.status, { 'content-type': 'application/xml; charset=UTF-8' })
        return res.end(req.method === 'HEAD' ? undefined : text)
      }
      res.writeHead(apiError.status, { 'content-type': 'application/json; charset=UTF-8' })
      res.end(apiError.json())
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    apiEndpoint: base,
    objects: (bucket) => store.bucket(bucket),
    openSessions: () => uploads.open,
    requests,
    async stop() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
