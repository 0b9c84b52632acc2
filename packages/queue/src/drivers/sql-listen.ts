import { backoffDelay } from '@beaver-kit/core'
import type { Database } from '@beaver-kit/database'
import type { QueueDriverContext } from '../driver.ts'

interface Notification {
  channel: string
  payload?: string | undefined
}

interface ListenClient {
  query(text: string): Promise<unknown>
  on(event: 'notification', fn: (n: Notification) => void): unknown
  on(event: 'error' | 'end', fn: (error?: unknown) => void): unknown
  removeAllListeners(): unknown
  release(destroy?: boolean | Error): void
}

interface PgPool {
  connect(): Promise<ListenClient>
}

/**
 * One LISTEN connection per PostgreSQL queue driver, taken from the database's own pool
 * (`db.native()`): an idle worker wakes within milliseconds of a commit instead of polling.
 * A lost connection (or a first connect that failed) is reopened with backoff; meanwhile
 * consumers fall back to polling. No notification reaches a session before its LISTEN, so each
 * time LISTEN is in place `onListen` runs: waiting fetches look again for what was committed
 * while nobody listened, instead of sleeping through it until their poll.
 */
export class PostgresListener {
  readonly #db: Database
  readonly #channel: string
  readonly #onNotify: (queue: string) => void
  readonly #onListen: () => void
  readonly #ctx: QueueDriverContext
  #client: ListenClient | undefined
  #connecting: Promise<void> | undefined
  #closed = false
  #failures = 0
  #retry: ReturnType<typeof setTimeout> | undefined

  constructor(
    db: Database,
    channel: string,
    handlers: { onNotify: (queue: string) => void; onListen: () => void },
    ctx: QueueDriverContext,
  ) {
    this.#db = db
    this.#channel = channel
    this.#onNotify = handlers.onNotify
    this.#onListen = handlers.onListen
    this.#ctx = ctx
  }

  /** Resolves once LISTEN is in place (or failed: callers then simply poll). */
  listening(): Promise<void> {
    if (this.#closed || this.#client) return Promise.resolve()
    this.#connecting ??= this.#connect().finally(() => (this.#connecting = undefined))
    return this.#connecting
  }

  async #connect(): Promise<void> {
    let client: ListenClient | undefined
    try {
      const pool = await this.#db.native<PgPool>()
      client = await pool.connect()
      const c = client
      c.on('notification', (n) => {
        if (n.channel === this.#channel && n.payload) this.#onNotify(n.payload)
      })
      const lost = (error?: unknown): void => {
        if (this.#client !== c) return
        this.#client = undefined
        c.removeAllListeners()
        c.release(true)
        if (this.#closed) return
        this.#ctx.onConnection('lost', error)
        this.#schedule()
      }
      c.on('error', lost)
      c.on('end', lost)
      await c.query(`LISTEN "${this.#channel}"`)
      if (this.#closed) {
        c.release(true)
        return
      }
      this.#client = c
      if (this.#failures > 0) this.#ctx.onConnection('restored')
      this.#failures = 0
      this.#onListen()
    } catch {
      client?.release(true)
      this.#failures++
      this.#schedule()
    }
  }

  #schedule(): void {
    if (this.#closed || this.#retry) return
    this.#retry = setTimeout(
      () => {
        this.#retry = undefined
        void this.listening()
      },
      backoffDelay(Math.max(1, this.#failures), { baseMs: 100, maxMs: 5000, jitter: 'equal' }),
    )
    this.#retry.unref()
  }

  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#retry)
    await this.#connecting
    const c = this.#client
    this.#client = undefined
    if (c) {
      c.removeAllListeners()
      c.release(true)
    }
  }
}
