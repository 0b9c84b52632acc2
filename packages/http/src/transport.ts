import { Readable } from 'node:stream'
import { pipeline } from 'node:stream'
import type { Dispatcher } from 'undici'
import { HttpNetworkError, HttpRequestError, HttpTimeoutError, type ResponseHeaders } from './errors.ts'
import { channels } from './channels.ts'
import { canDecode, decodeBody, decodeStream } from './decompress.ts'
import { EgressRefusal } from './egress.ts'
import { HttpResponse } from './response.ts'

/** One exchange with one origin, as the client planned it. */
export interface Exchange {
  dispatcher: Dispatcher
  options: Dispatcher.DispatchOptions
  method: string
  /** The full URL, for the response. */
  url: string
  /** The URL without query or credentials, for messages. */
  safeUrl: string
  stream: boolean
  maxSize: number
  decompress: boolean
  connectMs: number
  headersMs: number
  bodyMs: number
  /** True when the deadline, not the phase limit, set headersMs/bodyMs. */
  clipped: boolean
}

type Controller = Dispatcher.DispatchController

/**
 * Runs one exchange on a dispatcher through its low-level handler API: the body is collected
 * straight from the parser's chunks (no intermediate stream in buffer mode), the size limit is
 * checked per chunk, and the exchange can be aborted at any time, also while still queued.
 */
export class ExchangeHandler implements Dispatcher.DispatchHandler {
  readonly promise: Promise<HttpResponse>
  readonly #x: Exchange
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

  constructor(exchange: Exchange) {
    this.#x = exchange
    this.promise = new Promise<HttpResponse>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
    try {
      exchange.dispatcher.dispatch(exchange.options, this)
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
      Number(length) > this.#x.maxSize &&
      this.#x.method !== 'HEAD' &&
      statusCode !== 204 &&
      statusCode !== 304
    ) {
      controller.abort(this.#tooLarge(Number(length)))
      return
    }
    const encoding = this.#x.decompress ? headers['content-encoding'] : undefined
    if (typeof encoding === 'string' && encoding !== 'identity') {
      const lower = encoding.trim().toLowerCase()
      if (canDecode(lower)) this.#encoding = lower
    }
    if (this.#x.stream) this.#startStream(controller)
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    this.#size += chunk.length
    if (this.#size > this.#x.maxSize) {
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
    decodeBody(this.#encoding, bytes, this.#x.maxSize).then(
      (decoded) => this.#succeed(decoded),
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'ERR_BUFFER_TOO_LARGE') this.#fail(this.#tooLarge(undefined))
        else this.#fail(this.#network(error))
      },
    )
  }

  onResponseError(_controller: Controller, error: Error): void {
    const mapped = error === this.#abortReason || error instanceof HttpRequestError ? error : this.#map(error)
    if (this.#stream !== undefined && this.#done) this.#stream.destroy(mapped)
    else this.#fail(mapped)
  }

  #succeed(bytes: Buffer): void {
    if (this.#done) return
    this.#done = true
    this.#resolve(new HttpResponse(this.#status, this.#statusText, this.#headers, this.#x.url, bytes, undefined))
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
      const decoder = decodeStream(this.#encoding)
      pipeline(raw, decoder, () => undefined)
      body = decoder
    }
    this.#done = true
    this.#resolve(new HttpResponse(this.#status, this.#statusText, this.#headers, this.#x.url, undefined, body))
  }

  #tooLarge(size: number | undefined): HttpRequestError {
    const x = this.#x
    return new HttpRequestError(
      'HTTP_RESPONSE_TOO_LARGE',
      `${x.method} ${x.safeUrl}: the response body${size === undefined ? ' (decompressed)' : ` (${size} bytes so far)`} exceeds the limit of ${x.maxSize} bytes. Raise maxResponseSize (BEAVER_HTTP_LIMITS_MAX_RESPONSE_SIZE) or read it with responseType: 'stream'.`,
      { details: { method: x.method, url: x.safeUrl, maxSize: x.maxSize, size } },
    )
  }

  #map(error: Error): HttpRequestError {
    const x = this.#x
    if (error instanceof EgressRefusal) return egressDenied(x, error)
    const code = (error as { code?: string }).code
    const details = { method: x.method, url: x.safeUrl, causeCode: code }
    if (code === 'UND_ERR_CONNECT_TIMEOUT') return timeout(x, 'connect', x.connectMs, error, details)
    if (code === 'UND_ERR_HEADERS_TIMEOUT')
      return x.clipped
        ? timeout(x, 'total', x.headersMs, error, details)
        : timeout(x, 'headers', x.headersMs, error, details)
    if (code === 'UND_ERR_BODY_TIMEOUT')
      return x.clipped ? timeout(x, 'total', x.bodyMs, error, details) : timeout(x, 'body', x.bodyMs, error, details)
    return this.#network(error)
  }

  #network(error: Error): HttpNetworkError {
    const x = this.#x
    const code = (error as { code?: string }).code ?? (error.cause as { code?: string } | undefined)?.code
    return new HttpNetworkError(`${x.method} ${x.safeUrl} failed: ${error.message}${code ? ` (${code})` : ''}`, code, {
      cause: error,
      details: { method: x.method, url: x.safeUrl, causeCode: code },
    })
  }
}

const EMPTY = Buffer.alloc(0)

function egressDenied(x: Exchange, refusal: EgressRefusal): HttpRequestError {
  const host = x.options.origin as string
  if (channels.egressDenied.hasSubscribers)
    channels.egressDenied.publish({ method: x.method, host, address: refusal.address })
  return new HttpRequestError(
    'HTTP_EGRESS_DENIED',
    `${x.method} ${x.safeUrl}: the connection to ${refusal.host} (${refusal.address}) is refused by the egress policy (egress.deny / BEAVER_HTTP_EGRESS_DENY). If this host is meant to be reachable, add it to egress.allow (BEAVER_HTTP_EGRESS_ALLOW).`,
    { cause: refusal, details: { method: x.method, url: x.safeUrl, host: refusal.host, address: refusal.address } },
  )
}

const PHASE_TEXT = {
  connect: 'connecting',
  headers: 'waiting for the response headers',
  body: 'waiting for the next chunk of the body',
  total: 'the call deadline (all attempts)',
} as const

function timeout(
  x: Exchange,
  phase: 'connect' | 'headers' | 'body' | 'total',
  ms: number,
  cause: Error,
  details: Record<string, unknown>,
): HttpTimeoutError {
  return new HttpTimeoutError(
    `${x.method} ${x.safeUrl} timed out after ${ms} ms ${PHASE_TEXT[phase]} (phase ${phase})`,
    phase,
    ms,
    {
      cause,
      details: { ...details, phase, timeoutMs: ms },
    },
  )
}
