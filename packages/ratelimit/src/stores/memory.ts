import { apply, type Mode, type Rule, type State } from '../algorithms.ts'
import { evaluate, type LimitRequest, type StoreResult } from '../evaluate.ts'
import type { RateLimitStore } from '../store.ts'

interface Entry {
  state: State | undefined
  expiresAt: number
  blockedUntil: number
  /** Read since the evictor last passed it: it gets a second chance (CLOCK), not a re-insert per hit. */
  used: boolean
}

/** Options of the memory store. */
export interface MemoryStoreOptions {
  /** Most keys kept; past it, expired keys go first, then the least recently used. Default 100,000. */
  maxKeys?: number
}

/**
 * State in this process: a Map bounded by `maxKeys`, so a flood of distinct keys (one per
 * spoofed address) costs bounded memory. Evaluation is synchronous, hence atomic.
 * Entries are updated in place and recency is a "used" bit (second-chance eviction), so a
 * hit costs one Map lookup instead of a delete and a re-insert.
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

  /**
   * One limit, the hot path of `limit()`: no arrays, no closures, the entry updated in place.
   * The same decision `applySync([request])` gives (a refusal in `all` mode writes nothing).
   */
  applyOneSync(key: string, rule: Rule, cost: number, mode: Mode, now: number): StoreResult {
    const e = this.#entries.get(key)
    if (e !== undefined && e.blockedUntil > now && (mode === 'all' || mode === 'upTo')) {
      const blockedMs = e.blockedUntil - now
      return { allowed: false, granted: 0, remaining: 0, resetMs: blockedMs, retryAfterMs: blockedMs, blocked: true }
    }
    const o = apply(rule, e !== undefined && e.expiresAt > now ? e.state : undefined, now, cost, mode)
    if (o.allowed || mode !== 'all') {
      if (e === undefined)
        this.#insert(key, { state: o.next, expiresAt: now + o.ttlMs, blockedUntil: 0, used: false }, now)
      else {
        e.state = o.next
        e.expiresAt = now + o.ttlMs
        e.used = true
      }
    } else if (e !== undefined) e.used = true
    return o // an Outcome is a StoreResult (blocked: false) plus the state: no copy on the hot path
  }

  applyOne(key: string, rule: Rule, cost: number, mode: Mode, now: number): Promise<StoreResult> {
    return Promise.resolve(this.applyOneSync(key, rule, cost, mode, now))
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
      const e = this.#entries.get(key)
      if (e === undefined)
        this.#insert(key, { state: w.state, expiresAt: now + w.ttlMs, blockedUntil: 0, used: false }, now)
      else {
        e.state = w.state
        e.expiresAt = now + w.ttlMs
        e.used = true
      }
    })
    return results
  }

  apply(requests: readonly LimitRequest[], now: number, mode: Mode): Promise<StoreResult[]> {
    return Promise.resolve(this.applySync(requests, now, mode))
  }

  block(key: string, ms: number, now: number): Promise<void> {
    const e = this.#entries.get(key)
    const blockedUntil = ms > 0 ? now + ms : 0
    if (e === undefined) this.#insert(key, { state: undefined, expiresAt: 0, blockedUntil, used: false }, now)
    else {
      e.blockedUntil = blockedUntil
      e.used = true
    }
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

  #insert(key: string, entry: Entry, now: number): void {
    if (this.#entries.size >= this.#maxKeys) this.#evict(now)
    this.#entries.set(key, entry)
  }

  /**
   * Makes room for one key: expired keys near the old end go first; then, from the oldest,
   * a key used since the last pass moves to the young end with its bit cleared (second
   * chance) and the first unused one is dropped. Every bit is cleared at most once per pass,
   * so the cost is amortized O(1) per insert.
   */
  #evict(now: number): void {
    let looked = 0
    for (const [k, e] of this.#entries) {
      if (e.expiresAt <= now && e.blockedUntil <= now) this.#entries.delete(k)
      if (++looked >= 64) break
    }
    while (this.#entries.size >= this.#maxKeys) {
      const [oldest, e] = this.#entries.entries().next().value as [string, Entry]
      this.#entries.delete(oldest)
      if (!e.used) break
      e.used = false
      this.#entries.set(oldest, e)
    }
  }
}
