import { pipeline, Readable, Transform, type TransformCallback } from 'node:stream'
import type { Dispatcher } from 'undici'
import type { RequestBodyData } from './body.ts'
import type { Call } from './call.ts'
import { channels } from './channels.ts'
import { canDecode, decodeBody, decodeStream } from './decompress.ts'
import { EgressRefusal } from './egress.ts'
import { HttpNetworkError, HttpRequestError, timeoutError, type ResponseHeaders, type TimeoutPhase } from './errors.ts'
import type { ClientSettings } from './options.ts'
import { HttpResponse } from './response.ts'
import { withTraceHeaders } from './trace-context.ts'
import { safeUrl } from './url.ts'

/**
 * One request on the wire: the first hop of a call (the `Call` itself), a redirect's next hop,
 * or what an interceptor passed on. Header names are lower-case.
 */
export interface Hop {
  readonly method: string
  readonly origin: string
  /** Path and query, starting with `/`. */
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: RequestBodyData
}

type Controller = Dispatcher.DispatchController

const EMPTY = Buffer.alloc(0)

/**
 * Sends one hop of `call` through `dispatcher`. Each phase limit is clipped to the time the
 * call has left (deadline propagation), and `deadlineHeader` tells the server what that is.
 * The handler becomes the call's current exchange, so an abort or the deadline reaches it.
 */
export function startExchange(
  call: Call,
  hop: Hop,
  dispatcher: Dispatcher,
  settings: ClientSettings,
): Promise<HttpResponse> {
  let headersMs = call.headersMs
  let bodyMs = call.bodyMs
  // Which phase limits the deadline shortened: only their expiry is the deadline's (phase total).
  const clipped = { headers: false, body: false }
  // Per exchange and inside the beaver:http:request span, so a tracer's client span is the
  // parent the server sees; a traceparent the caller set is kept.
  let headers = settings.propagateTrace ? withTraceHeaders(hop.headers) : hop.headers
  if (call.deadlineAt !== Infinity) {
    const remaining = Math.max(1, call.deadlineAt - Date.now())
    if (remaining < headersMs) {
      headersMs = remaining
      clipped.headers = true
    }
    if (remaining < bodyMs) {
      bodyMs = remaining
      clipped.body = true
    }
    if (settings.deadlineHeader !== undefined) headers = { ...headers, [settings.deadlineHeader]: String(remaining) }
  }
  if (call.signal?.aborted) return Promise.reject(call.signal.reason as Error)
  const handler = new ExchangeHandler(call, hop, clipped, settings.decompress)
  call.current = handler
  handler.dispatch(dispatcher, {
    origin: hop.origin,
    path: hop.path,
    method: hop.method,
    headers,
    body: hop.body,
    headersTimeout: headersMs,
    bodyTimeout: bodyMs,
  })
  return handler.promise
}

/**
 * Runs one exchange on a dispatcher through its low-level handler API: the body is collected
 * straight from the parser's chunks (no intermediate stream in buffer mode), the size limit is
 * checked per chunk (and on the decoded size), and the exchange can be aborted at any time,
 * also while still queued or, in stream mode, while the body is being read.
 */
export class ExchangeHandler implements Dispatcher.DispatchHandler {
  readonly promise: Promise<HttpResponse>
  readonly #call: Call
  readonly #hop: Hop
  readonly #clipped: Readonly<{ headers: boolean; body: boolean }>
  readonly #decompress: boolean
  #headersMs = 0
  #bodyMs = 0
  #resolve!: (response: HttpResponse) => void
  #reject!: (error: unknown) => void
  #controller: Controller | undefined
  #abortReason: Error | undefined
  #done = false
  #status = 0
  #statusText = ''
  #headers: ResponseHeaders = {}
  #chunks: Buffer[] = []
  #size = 0
  #encoding: string | undefined
  #stream: Readable | undefined

  constructor(call: Call, hop: Hop, clipped: Readonly<{ headers: boolean; body: boolean }>, decompress: boolean) {
    this.#call = call
    this.#hop = hop
    this.#clipped = clipped
    this.#decompress = decompress
    this.promise = new Promise<HttpResponse>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
  }

  dispatch(dispatcher: Dispatcher, options: Dispatcher.DispatchOptions): void {
    this.#headersMs = options.headersTimeout ?? 0
    this.#bodyMs = options.bodyTimeout ?? 0
    try {
      dispatcher.dispatch(options, this)
    } catch (error) {
      this.#fail(error as Error)
    }
  }

  /** Aborts the exchange with `reason`; the promise (or the body stream) rejects with it at once. */
  abort(reason: Error): void {
    if (this.#abortReason !== undefined) return
    this.#abortReason = reason
    if (this.#controller !== undefined && !this.#controller.aborted) this.#controller.abort(reason)
    this.#fail(reason)
  }

  onRequestStart(controller: Controller): void {
    this.#controller = controller
    if (this.#abortReason !== undefined) controller.abort(this.#abortReason)
  }

  onResponseStart(
    controller: Controller,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ): void {
    if (statusCode < 200) return
    this.#status = statusCode
    this.#statusText = statusMessage ?? ''
    this.#headers = headers
    const length = headers['content-length']
    // A HEAD (or 204/304) declares the size of a body it does not send.
    if (
      typeof length === 'string' &&
      Number(length) > this.#call.maxSize &&
      this.#hop.method !== 'HEAD' &&
      statusCode !== 204 &&
      statusCode !== 304
    ) {
      controller.abort(this.#tooLarge(Number(length)))
      return
    }
    const encoding = this.#decompress ? headers['content-encoding'] : undefined
    if (typeof encoding === 'string' && encoding !== 'identity') {
      const lower = encoding.trim().toLowerCase()
      if (canDecode(lower)) this.#encoding = lower
    }
    if (this.#call.stream) this.#startStream(controller)
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    this.#size += chunk.length
    if (this.#size > this.#call.maxSize) {
      controller.abort(this.#tooLarge(this.#size))
      return
    }
    if (this.#stream === undefined) this.#chunks.push(chunk)
    else if (!this.#stream.push(chunk)) controller.pause()
  }

  onResponseEnd(): void {
    if (this.#stream !== undefined) {
      this.#stream.push(null)
      return
    }
    const chunks = this.#chunks
    const bytes = chunks.length === 1 ? chunks[0]! : chunks.length === 0 ? EMPTY : Buffer.concat(chunks, this.#size)
    if (this.#encoding === undefined || bytes.length === 0) return this.#succeed(bytes)
    decodeBody(this.#encoding, bytes, this.#call.maxSize).then(
      (decoded) => this.#succeed(decoded),
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'ERR_BUFFER_TOO_LARGE') this.#fail(this.#tooLarge(undefined))
        else this.#fail(this.#network(error))
      },
    )
  }

  onResponseError(_controller: Controller, error: Error): void {
    this.#fail(error === this.#abortReason || error instanceof HttpRequestError ? error : this.#map(error))
  }

  #url(): string {
    return this.#hop.origin + this.#hop.path
  }

  #succeed(bytes: Buffer): void {
    if (this.#done) return
    this.#done = true
    this.#resolve(new HttpResponse(this.#status, this.#statusText, this.#headers, this.#url(), bytes, undefined))
  }

  #fail(error: unknown): void {
    if (this.#done) {
      // Already handed out as a stream: the error goes to the body's reader.
      if (this.#stream !== undefined && error instanceof Error) this.#stream.destroy(error)
      return
    }
    this.#done = true
    this.#reject(error)
  }

  #startStream(controller: Controller): void {
    const raw = new Readable({ read: () => controller.resume() })
    this.#stream = raw
    let body: Readable = raw
    if (this.#encoding !== undefined) {
      // The limit applies to what the reader gets, so a small compressed body cannot expand without bound.
      const limit = new DecodedSizeLimit(this.#call.maxSize, () => this.#tooLarge(undefined))
      body = limit
      pipeline(raw, decodeStream(this.#encoding), limit, () => undefined)
    }
    this.#done = true
    this.#resolve(new HttpResponse(this.#status, this.#statusText, this.#headers, this.#url(), undefined, body))
  }

  #tooLarge(size: number | undefined): HttpRequestError {
    const { method } = this.#hop
    const url = safeUrl(this.#hop.origin, this.#hop.path)
    const maxSize = this.#call.maxSize
    return new HttpRequestError(
      'HTTP_RESPONSE_TOO_LARGE',
      `${method} ${url}: the response body${size === undefined ? ' (decompressed)' : ` (${size} bytes so far)`} exceeds the limit of ${maxSize} bytes. Raise maxResponseSize (BEAVER_HTTP_LIMITS_MAX_RESPONSE_SIZE).`,
      { details: { method, url, maxSize, size, attempts: this.#call.attempt } },
    )
  }

  #map(error: Error): HttpRequestError {
    if (error instanceof EgressRefusal) return this.#egressDenied(error)
    const code = (error as { code?: string }).code
    if (code === 'UND_ERR_CONNECT_TIMEOUT') return this.#timeout('connect', this.#call.connectMs, error, code)
    if (code === 'UND_ERR_HEADERS_TIMEOUT') {
      return this.#clipped.headers
        ? this.#timeout('total', this.#call.totalMs, error, code)
        : this.#timeout('headers', this.#headersMs, error, code)
    }
    if (code === 'UND_ERR_BODY_TIMEOUT') {
      return this.#clipped.body
        ? this.#timeout('total', this.#call.totalMs, error, code)
        : this.#timeout('body', this.#bodyMs, error, code)
    }
    return this.#network(error)
  }

  #timeout(phase: TimeoutPhase, timeoutMs: number, cause: Error, causeCode: string): HttpRequestError {
    const { method, origin, path } = this.#hop
    return timeoutError({
      method,
      url: safeUrl(origin, path),
      phase,
      timeoutMs,
      attempts: this.#call.attempt,
      cause,
      causeCode,
    })
  }

  #network(error: Error): HttpNetworkError {
    const { method } = this.#hop
    const url = safeUrl(this.#hop.origin, this.#hop.path)
    const code = (error as { code?: string }).code ?? (error.cause as { code?: string } | undefined)?.code
    return new HttpNetworkError(`${method} ${url} failed: ${error.message}${code ? ` (${code})` : ''}`, code, {
      cause: error,
      details: { method, url, causeCode: code, attempts: this.#call.attempt },
    })
  }

  #egressDenied(refusal: EgressRefusal): HttpRequestError {
    const { method, origin } = this.#hop
    const url = safeUrl(origin, this.#hop.path)
    if (channels.egressDenied.hasSubscribers)
      channels.egressDenied.publish({ method, host: origin, address: refusal.address })
    return new HttpRequestError(
      'HTTP_EGRESS_DENIED',
      `${method} ${url}: the connection to ${refusal.host} (${refusal.address}) is refused by the egress policy (egress.deny / BEAVER_HTTP_EGRESS_DENY). If this host is meant to be reachable, add it to egress.allow (BEAVER_HTTP_EGRESS_ALLOW).`,
      { cause: refusal, details: { method, url, host: refusal.host, address: refusal.address } },
    )
  }
}

/** Passes decoded chunks on until `max` bytes, then fails the stream with the error `tooLarge` builds. */
class DecodedSizeLimit extends Transform {
  readonly #max: number
  readonly #tooLarge: () => Error
  #size = 0

  constructor(max: number, tooLarge: () => Error) {
    super()
    this.#max = max
    this.#tooLarge = tooLarge
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#size += chunk.length
    if (this.#size > this.#max) callback(this.#tooLarge())
    else callback(null, chunk)
  }
}
