import { createHttpClient, type HttpClient } from '@beaver-kit/http'
import { withLogContext, type Logger } from '@beaver-kit/logger'

const TITLE = /<title[^>]*>([^<]{1,512})<\/title>/i
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", apos: "'" }

export interface TitleOptions {
  timeoutMs: number
  /** Most fetches at once; beyond it a link gets no title (each POST must not buy unbounded work). */
  concurrency: number
  /** Private hosts or CIDRs the fetches may reach anyway (tests, an intranet). */
  allow: readonly string[]
  log: Logger
  /** Called with the title of a fetched page. */
  store(code: string, title: string): Promise<void>
  /** A client to use instead of the guarded one the fetcher makes (it is then not closed here). */
  client?: HttpClient
}

/**
 * Fetches the <title> of linked pages in the background, through an HTTP client whose egress
 * guard refuses private, loopback and link-local addresses (cloud metadata included) at
 * connect time and on every redirect, so a visitor cannot make the service read its own
 * network. Never retried; at most `concurrency` at once; aborted on close.
 */
export class TitleFetcher {
  readonly #options: TitleOptions
  readonly #client: HttpClient
  readonly #running = new Set<Promise<void>>()
  readonly #stop = new AbortController()

  constructor(options: TitleOptions) {
    this.#options = options
    this.#client =
      options.client ??
      createHttpClient({ egress: { deny: 'private', allow: options.allow }, userAgent: 'beaver-links-demo' })
  }

  /** The guarded client (for describe()). */
  get client(): HttpClient {
    return this.#client
  }

  /** Starts a fetch for this link unless too many run already. */
  start(code: string, url: string): void {
    const { log } = this.#options
    if (this.#running.size >= this.#options.concurrency) {
      log.info({ code, running: this.#running.size }, 'title fetch skipped: too many running')
      return
    }
    const job = withLogContext({ job: 'title', code }, async () => {
      try {
        const title = await this.fetch(url)
        if (title === undefined) return
        await this.#options.store(code, title)
        log.info({ title }, 'page title stored')
      } catch (err) {
        // The host only: a link's path and query may carry the linker's own tokens.
        log.warn({ err, host: new URL(url).host }, 'could not fetch the page title')
      }
    })
    this.#running.add(job)
    void job.finally(() => this.#running.delete(job))
  }

  /** The page's title, or undefined when it has none. */
  async fetch(url: string): Promise<string | undefined> {
    const text = await this.#client
      .get(url, {
        timeouts: { total: this.#options.timeoutMs },
        maxResponseSize: '1mb',
        signal: this.#stop.signal,
        retry: false,
        route: 'title-fetch',
        headers: { accept: 'text/html' },
      })
      .text()
    const match = TITLE.exec(text)
    if (!match?.[1]) return undefined
    return match[1].replace(/&(amp|lt|gt|quot|#39|apos);/g, (_, e: string) => ENTITIES[e] ?? '').trim()
  }

  /** Resolves when no fetch is running. */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled(this.#running)
  }

  /** Aborts running fetches, waits for them, and closes the client it made. */
  async close(): Promise<void> {
    this.#stop.abort()
    await this.idle()
    if (!this.#options.client) await this.#client.close()
  }
}
