import type { Readable } from 'node:stream'
import type { ResponseHeaders } from './errors.ts'

/**
 * A response. In the default `buffer` mode the body was read within the attempt (so size
 * limits, body timeouts and retries covered it) and `text()`/`json()`/`bytes()` may be called
 * any number of times; in `stream` mode `body` is a Readable that can be consumed once.
 */
export class HttpResponse {
  readonly status: number
  readonly statusText: string
  readonly headers: ResponseHeaders
  /** The final URL, after redirects (query string included). */
  readonly url: string
  /** Attempts made for this call (1 when no retry happened). */
  attempts: number
  readonly #bytes: Buffer | undefined
  readonly #stream: Readable | undefined

  constructor(
    status: number,
    statusText: string,
    headers: ResponseHeaders,
    url: string,
    bytes: Buffer | undefined,
    stream: Readable | undefined,
  ) {
    this.status = status
    this.statusText = statusText
    this.headers = headers
    this.url = url
    this.attempts = 1
    this.#bytes = bytes
    this.#stream = stream
  }

  /** True for a 2xx status. */
  get ok(): boolean {
    return this.status >= 200 && this.status < 300
  }

  /** The first value of a header (names are case-insensitive). */
  header(name: string): string | undefined {
    const value = this.headers[name.toLowerCase()]
    return Array.isArray(value) ? value[0] : value
  }

  /** The live body stream in `stream` mode; undefined in `buffer` mode (use `bytes()`). */
  get body(): Readable | undefined {
    return this.#stream
  }

  /** The body bytes. */
  async bytes(): Promise<Buffer> {
    if (this.#bytes !== undefined) return this.#bytes
    if (this.#stream === undefined) return Buffer.alloc(0)
    const chunks: Buffer[] = []
    for await (const chunk of this.#stream) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks)
  }

  /** The body decoded as UTF-8. */
  async text(): Promise<string> {
    if (this.#bytes !== undefined) return this.#bytes.toString('utf8')
    return (await this.bytes()).toString('utf8')
  }

  /** The body parsed as JSON (an empty body reads as `undefined`). The type is yours to trust or validate. */
  async json<T = unknown>(): Promise<T> {
    const text = this.#bytes !== undefined ? this.#bytes.toString('utf8') : await this.text()
    return (text === '' ? undefined : JSON.parse(text)) as T
  }

  /** The buffered bytes, synchronously, when the body was buffered. */
  bufferedBytes(): Buffer | undefined {
    return this.#bytes
  }
}
