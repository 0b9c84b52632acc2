import type { Mode, State } from '../algorithms.ts'
import { evaluate, type LimitRequest, type StoreResult } from '../evaluate.ts'
import type { RateLimitStore } from '../store.ts'

interface Entry {
  state: State | undefined
  expiresAt: number
  blockedUntil: number
}

/** Options of the memory store. */
export interface MemoryStoreOptions {
  /** Most keys kept; past it, expired keys go first, then the least recently used. Default 100,000. */
  maxKeys?: number
}

/**
 * State in this process: a Map bounded by `maxKeys`, so a flood of distinct keys (one per
 * spoofed address) costs bounded memory. Evaluation is synchronous, hence atomic.
 */
export class MemoryStore implements RateLimitStore {
  readonly name = 'memory'
  readonly #entries = new Map<string, Entry>()
  readonly #maxKeys: number

  constructor(options: MemoryStoreOptions = {}) {
    this.#maxKeys = options.maxKeys ?? 100_000
  }

  /** Keys held now (tests, metrics). */
  get size(): number {
    return this.#entries.size
  }

  applySync(requests: readonly LimitRequest[], now: number, mode: Mode): StoreResult[] {
    const records = requests.map((r) => {
      const e = this.#entries.get(r.key)
      if (!e) return { state: undefined, blockedUntil: 0 }
      return { state: e.expiresAt > now ? e.state : undefined, blockedUntil: e.blockedUntil }
    })
    const { results, writes } = evaluate(requests, records, now, mode)
    writes.forEach((w, i) => {
      if (!w) return
      const key = (requests[i] as LimitRequest).key
      const blockedUntil = this.#entries.get(key)?.blockedUntil ?? 0
      this.#set(key, { state: w.state, expiresAt: now + w.ttlMs, blockedUntil }, now)
    })
    return results
  }

  apply(requests: readonly LimitRequest[], now: number, mode: Mode): Promise<StoreResult[]> {
    return Promise.resolve(this.applySync(requests, now, mode))
  }

  block(key: string, ms: number, now: number): Promise<void> {
    const e = this.#entries.get(key)
    const blockedUntil = ms > 0 ? now + ms : 0
    this.#set(key, { state: e?.state, expiresAt: e?.expiresAt ?? 0, blockedUntil }, now)
    return Promise.resolve()
  }

  reset(key: string): Promise<void> {
    this.#entries.delete(key)
    return Promise.resolve()
  }

  ready(): Promise<void> {
    return Promise.resolve()
  }

  close(): Promise<void> {
    this.#entries.clear()
    return Promise.resolve()
  }

  #set(key: string, entry: Entry, now: number): void {
    this.#entries.delete(key) // re-insert: Map order is recency order
    if (this.#entries.size >= this.#maxKeys) this.#evict(now)
    this.#entries.set(key, entry)
  }

  #evict(now: number): void {
    let looked = 0
    for (const [k, e] of this.#entries) {
      if (e.expiresAt <= now && e.blockedUntil <= now) this.#entries.delete(k)
      if (++looked >= 64) break
    }
    while (this.#entries.size >= this.#maxKeys) {
      const oldest = this.#entries.keys().next().value as string
      this.#entries.delete(oldest)
    }
  }
}
