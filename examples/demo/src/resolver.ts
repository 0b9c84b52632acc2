import { isCacheError, type Cache } from '@beaver-kit/cache'
import type { Logger } from '@beaver-kit/logger'
import type { Link, LinkStore } from './links.ts'

/** Changed codes remembered while the cache is down; past this the whole namespace is cleared on recovery. */
const MAX_PENDING = 10_000

/** A cache failure that means the store is unreachable (not a bad key or a slow loader). */
function isCacheOutage(err: unknown): boolean {
  return isCacheError(err, 'CACHE_CONNECTION') || isCacheError(err, 'CACHE_DRIVER')
}

export interface ResolverOptions {
  ttl: number
  notFoundTtl: number
  /** How often the cache is probed while it is down. */
  retryMs: number
  log: Logger
}

/**
 * Links through the cache, from the database while the cache is unreachable: the first cache
 * failure switches to degraded mode (one warning, `/health` says "degraded"), redirects keep
 * working from the database, and a background probe switches back once the cache answers.
 * Codes changed meanwhile are removed from the cache on recovery, so it never serves a link
 * deleted while it was away.
 */
export class LinkResolver {
  readonly #links: Cache
  readonly #store: LinkStore
  readonly #options: ResolverOptions
  #down: { since: number; error: string; timer: NodeJS.Timeout } | undefined
  readonly #pending = new Set<string>()
  #overflow = false

  constructor(links: Cache, store: LinkStore, options: ResolverOptions) {
    this.#links = links
    this.#store = store
    this.#options = options
  }

  /** 'ok', or 'degraded' while links come from the database alone. */
  get state(): 'ok' | 'degraded' {
    return this.#down ? 'degraded' : 'ok'
  }

  /** Why the cache is considered down, for /health. */
  get problem(): string | undefined {
    return this.#down?.error
  }

  async resolve(code: string): Promise<Link | undefined> {
    if (this.#down) return this.#store.find(code)
    try {
      return await this.#links.getOrSet<Link | undefined>(code, () => this.#store.find(code), {
        ttl: this.#options.ttl,
        negativeTtl: this.#options.notFoundTtl,
      })
    } catch (err) {
      // A database failure inside the loader comes back as itself: not the cache's fault.
      if (!isCacheOutage(err)) throw err
      this.#degrade(err)
      return this.#store.find(code)
    }
  }

  /** Drops a code from the cache after its link changed (now, or on recovery if the cache is down). */
  async forget(code: string): Promise<void> {
    if (!this.#down) {
      try {
        await this.#links.delete(code)
        return
      } catch (err) {
        if (!isCacheOutage(err)) throw err
        this.#degrade(err)
      }
    }
    if (this.#pending.size >= MAX_PENDING) this.#overflow = true
    else this.#pending.add(code)
  }

  /** Checks the cache once (start-up and /health); a failure switches to degraded mode. */
  async probe(timeoutMs: number): Promise<void> {
    if (this.#down) return // the background probe is already on it
    try {
      await this.#links.ready({ signal: AbortSignal.timeout(timeoutMs) })
    } catch (err) {
      this.#degrade(err)
    }
  }

  close(): void {
    if (this.#down) clearInterval(this.#down.timer)
  }

  #degrade(err: unknown): void {
    if (this.#down) return
    const error = err instanceof Error ? err.message : String(err)
    // A background probe: unref'd, so a script or test that is done never waits for it.
    const timer = setInterval(() => void this.#recover(), this.#options.retryMs).unref()
    this.#down = { since: Date.now(), error, timer }
    this.#options.log.warn(
      { err, retryMs: this.#options.retryMs },
      'cache unreachable: redirects are served from the database until it answers again',
    )
  }

  async #recover(): Promise<void> {
    const down = this.#down
    if (!down) return
    try {
      await this.#links.ready({ signal: AbortSignal.timeout(this.#options.retryMs) })
      if (this.#overflow) await this.#links.clear()
      else for (const code of this.#pending) await this.#links.delete(code)
    } catch {
      return // still down: the next tick tries again
    }
    clearInterval(down.timer)
    this.#down = undefined
    this.#pending.clear()
    this.#overflow = false
    this.#options.log.info({ downMs: Date.now() - down.since }, 'cache reachable again: redirects use it')
  }
}
