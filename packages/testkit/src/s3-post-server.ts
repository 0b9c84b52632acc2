// A local S3 endpoint for browser-based uploads with POST (Signature Version 4) that enforces the
// policy as AWS documents it (see ./s3-post/policy.ts for the rules and their sources): no S3
// server that runs here does (s3rver and moto store a POST without reading its policy, MinIO
// is not installable). It serves `POST /<bucket>` (path style) with a multipart/form-data body,
// keeps what it accepts in memory for assertions, and answers as S3 does: 204 by default, 200
// or 201 (with the PostResponse XML) by `success_action_status`, a 303 to
// `success_action_redirect`, an S3 error document otherwise. Nothing else of S3 is served.
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { checkPost, PostRefused, type PostForm } from './s3-post/policy.ts'

export { postSignature, signingKey } from './s3-post/policy.ts'

/** An object the endpoint accepted. */
export interface PostedObject {
  body: Buffer
  contentType: string
  /** x-amz-meta-* fields, without the prefix. */
  metadata: Record<string, string>
  /** Cache-Control, Content-Disposition, Content-Encoding, Expires, when the form gave them. */
  headers: Record<string, string>
  etag: string
}

export interface S3PostServerOptions {
  bucket?: string
  region?: string
  credentials?: { accessKeyId: string; secretAccessKey: string }
  /** The clock policies expire by (default the real one). */
  now?: () => Date
  /** Largest request body read (default 16 MiB); a larger one is refused before any check. */
  maxBodyBytes?: number
}

/** A running POST endpoint: give `endpoint` to an S3Client (forcePathStyle) to presign forms for it. */
export interface LocalS3Post {
  endpoint: string
  region: string
  bucket: string
  credentials: { accessKeyId: string; secretAccessKey: string }
  /** What was stored, by key. */
  readonly objects: ReadonlyMap<string, PostedObject>
  stop(): Promise<void>
}

const xmlEscape = (s: string): string => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`)

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error>`
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(body)) })
  res.end(body)
}

async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let total = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length
    if (total > max)
      throw new PostRefused(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size')
    chunks.push(chunk)
  }
  return Buffer.concat(chunks, total)
}

/** The form in order up to the file (S3 ignores fields after it); names lower-cased, each once. */
async function parseForm(contentType: string, body: Buffer): Promise<PostForm> {
  const malformed = (): PostRefused =>
    new PostRefused(
      400,
      'MalformedPOSTRequest',
      'The body of your POST request is not well-formed multipart/form-data.',
    )
  if (!/^multipart\/form-data\s*;/i.test(contentType)) throw malformed()
  let form: FormData
  try {
    form = await new Request('http://local/', {
      method: 'POST',
      headers: { 'content-type': contentType },
      body,
    }).formData()
  } catch {
    throw malformed()
  }
  const fields = new Map<string, string>()
  for (const [rawName, value] of form) {
    const name = rawName.toLowerCase()
    if (name === 'file') {
      if (typeof value === 'string') return { fields, file: { bytes: Buffer.from(value, 'utf8'), filename: '' } }
      return { fields, file: { bytes: Buffer.from(await value.arrayBuffer()), filename: value.name } }
    }
    if (typeof value !== 'string') throw malformed()
    if (fields.has(name))
      throw new PostRefused(400, 'InvalidArgument', `The form gives the field "${rawName}" more than once.`)
    fields.set(name, value)
  }
  throw new PostRefused(400, 'InvalidArgument', 'POST requires exactly one file upload per request.')
}

const STORED_HEADERS = ['cache-control', 'content-disposition', 'content-encoding', 'expires']

/** Starts the endpoint on a free loopback port. */
export async function startS3PostServer(options: S3PostServerOptions = {}): Promise<LocalS3Post> {
  const bucket = options.bucket ?? 'beaver-post'
  const region = options.region ?? 'us-east-1'
  const credentials = options.credentials ?? { accessKeyId: 'BEAVERPOSTKEY', secretAccessKey: 'beaver-post-secret' }
  const now = options.now ?? (() => new Date())
  const maxBodyBytes = options.maxBodyBytes ?? 16 * 1024 * 1024
  const objects = new Map<string, PostedObject>()

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://local').pathname
    const target = path.replace(/^\/|\/$/g, '')
    if (req.method !== 'POST' || target.includes('/'))
      return sendError(res, 405, 'MethodNotAllowed', 'Only POST to a bucket is served here.')
    if (target !== bucket) return sendError(res, 404, 'NoSuchBucket', 'The specified bucket does not exist')
    const form = await parseForm(req.headers['content-type'] ?? '', await readBody(req, maxBodyBytes))
    const fields = checkPost(form, {
      bucket,
      region,
      secretOf: (id) => (id === credentials.accessKeyId ? credentials.secretAccessKey : undefined),
      now: now(),
    })
    const key = fields.get('key')!
    if (key === '') throw new PostRefused(400, 'InvalidArgument', 'User key must have a length greater than 0.')
    const etag = `"${createHash('md5').update(form.file.bytes).digest('hex')}"`
    const metadata: Record<string, string> = {}
    const headers: Record<string, string> = {}
    for (const [name, value] of fields) {
      if (name.startsWith('x-amz-meta-')) metadata[name.slice('x-amz-meta-'.length)] = value
      else if (STORED_HEADERS.includes(name)) headers[name] = value
    }
    objects.set(key, {
      body: form.file.bytes,
      contentType: fields.get('content-type') ?? 'binary/octet-stream',
      metadata,
      headers,
      etag,
    })
    const redirect = fields.get('success_action_redirect') ?? fields.get('redirect')
    if (redirect) {
      const to = new URL(redirect)
      to.searchParams.set('bucket', bucket)
      to.searchParams.set('key', key)
      to.searchParams.set('etag', etag)
      res.writeHead(303, { location: to.toString(), etag, 'content-length': '0' })
      return void res.end()
    }
    const status = fields.get('success_action_status')
    if (status === '201') {
      const location = `http://${req.headers.host ?? '127.0.0.1'}/${bucket}/${encodeURI(key)}`
      const body = `<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse><Location>${xmlEscape(location)}</Location><Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><ETag>${xmlEscape(etag)}</ETag></PostResponse>`
      res.writeHead(201, { 'content-type': 'application/xml', etag, 'content-length': String(Buffer.byteLength(body)) })
      return void res.end(body)
    }
    res.writeHead(status === '200' ? 200 : 204, { etag, 'content-length': '0' })
    res.end()
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof PostRefused) sendError(res, err.status, err.code, err.message)
      else sendError(res, 500, 'InternalError', String(err))
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    endpoint: `http://127.0.0.1:${port}`,
    region,
    bucket,
    credentials,
    objects,
    async stop() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
