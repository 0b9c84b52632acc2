import { Readable } from 'node:stream'
import type { ReadableStream as NodeReadableStream } from 'node:stream/web'

/** What a request body may be given as. Plain objects and arrays are sent as JSON. */
export type RequestBodyInit =
  | string
  | Uint8Array
  | ArrayBuffer
  | URLSearchParams
  | FormData
  | Blob
  | Readable
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array>
  | Readonly<Record<string, unknown>>
  | readonly unknown[]
  | null

/** A body as it goes to the wire: replayable when it is not a stream. */
export type RequestBodyData = string | Uint8Array | Readable | null

export interface PreparedBody {
  data: RequestBodyData
  contentType: string | undefined
}

/**
 * Turns what the caller gave into wire data and a default content type. FormData and Blob
 * are serialised to bytes (async), which also makes them replayable for retries.
 */
export function prepareBody(body: RequestBodyInit | undefined, json: unknown): PreparedBody | Promise<PreparedBody> {
  if (json !== undefined) return { data: JSON.stringify(json), contentType: 'application/json' }
  if (body === undefined || body === null) return { data: null, contentType: undefined }
  if (typeof body === 'string') return { data: body, contentType: 'text/plain;charset=UTF-8' }
  if (body instanceof Uint8Array) return { data: body, contentType: undefined }
  if (body instanceof ArrayBuffer) return { data: new Uint8Array(body), contentType: undefined }
  if (body instanceof URLSearchParams)
    return { data: body.toString(), contentType: 'application/x-www-form-urlencoded;charset=UTF-8' }
  if (body instanceof Readable) return { data: body, contentType: undefined }
  if (typeof FormData !== 'undefined' && body instanceof FormData) return serialise(new Response(body))
  if (body instanceof Blob) return serialise(new Response(body), body.type || undefined)
  if (body instanceof ReadableStream)
    return {
      data: Readable.fromWeb(body as NodeReadableStream<Uint8Array>),
      contentType: undefined,
    }
  if (typeof (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === 'function') {
    return { data: Readable.from(body as AsyncIterable<Uint8Array>), contentType: undefined }
  }
  return { data: JSON.stringify(body), contentType: 'application/json' }
}

async function serialise(response: Response, type?: string): Promise<PreparedBody> {
  const bytes = new Uint8Array(await response.arrayBuffer())
  return { data: bytes, contentType: type ?? response.headers.get('content-type') ?? undefined }
}
