import { Readable } from 'node:stream'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import { isStorageError } from './errors.ts'
import type { UrlSigner } from './signer.ts'
import type { Storage } from './storage.ts'

function text(status: number, body: string): Response {
  return new Response(body, { status, headers: { 'content-type': 'text/plain; charset=utf-8' } })
}

/**
 * Serves a kit-signed URL: GET/HEAD stream the file with its stored headers, PUT stores the
 * request body (with the signed content type). Anything refused is 403 with no detail beyond
 * the reason, missing files 404, oversized bodies 413.
 */
export async function handleSigned(
  request: Request,
  ctx: { signer: UrlSigner | undefined; unkey: (key: string) => string; namespace: string; storage: Storage },
): Promise<Response> {
  const { signer, unkey, namespace, storage } = ctx
  if (!signer) return text(404, 'Signed URLs are not configured.')
  if (!['GET', 'HEAD', 'PUT'].includes(request.method)) return text(405, 'Method not allowed.')
  let key: string
  let contentType: string | undefined
  try {
    ;({ key, contentType } = signer.verify(new URL(request.url), request.method, Date.now()))
  } catch (err) {
    return text(403, (err as Error).message)
  }
  if (namespace && !key.startsWith(`${namespace}/`)) return text(403, 'The signed URL is for another namespace.')
  const path = unkey(key)
  try {
    if (request.method === 'PUT') {
      if (contentType && request.headers.get('content-type') !== contentType)
        return text(403, `The signed URL requires content-type ${contentType}.`)
      const body = request.body ? Readable.fromWeb(request.body as WebReadableStream<Uint8Array>) : ''
      const result = await storage.put(path, body, { ...(contentType ? { contentType } : {}) })
      return new Response(null, { status: 201, headers: { ...(result.etag ? { etag: result.etag } : {}) } })
    }
    const stat = await storage.stat(path)
    const headers: Record<string, string> = {
      'content-type': stat.contentType,
      'content-length': String(stat.size),
      'last-modified': stat.lastModified.toUTCString(),
    }
    if (stat.etag) headers.etag = stat.etag
    if (stat.cacheControl) headers['cache-control'] = stat.cacheControl
    if (stat.contentDisposition) headers['content-disposition'] = stat.contentDisposition
    if (request.method === 'HEAD') return new Response(null, { status: 200, headers })
    const stream = await storage.getStream(path)
    return new Response(Readable.toWeb(stream) as ReadableStream<Uint8Array>, { status: 200, headers })
  } catch (err) {
    if (isStorageError(err, 'STORAGE_NOT_FOUND')) return text(404, 'Not found.')
    if (isStorageError(err, 'STORAGE_TOO_LARGE')) return text(413, 'Too large.')
    if (isStorageError(err, 'STORAGE_READ_ONLY')) return text(405, 'This disk is read-only.')
    if (isStorageError(err, 'STORAGE_PATH_INVALID', 'STORAGE_CHECKSUM_MISMATCH'))
      return text(400, (err as Error).message)
    if (isStorageError(err, 'STORAGE_REJECTED')) return text(415, (err as Error).message)
    throw err
  }
}
