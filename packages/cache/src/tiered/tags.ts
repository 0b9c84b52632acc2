import type { CacheDriver, StoredValue } from '../driver.ts'
import type { Envelope } from './envelope.ts'
import { preciseNow } from './envelope.ts'
import { refOf } from './hot.ts'

/** The tier that tag invalidation times are kept in (the lowest shared one). */
export interface TagTier {
  readonly driver: CacheDriver
  readonly byReference: boolean
}

interface Times {
  soft: number
  hard: number
  fetchedAt: number
}

/**
 * A namespace for the tiered driver's own records under `ns` (tag times, leases): its last
 * segment starts with a control character, which no user namespace may hold, so it can never
 * be a user's, and `clear(ns)` removes it with the rest.
 */
export function internalNamespace(ns: string, name: string): string {
  return ns === '' ? `\u0001${name}` : `${ns}:\u0001${name}`
}

/**
 * When each tag of a namespace was last invalidated (soft and hard), kept in the shared tier
 * so every process sees it, and cached here for `cacheMs`. An entry written before its tag's
 * hard time is dead; before its soft time, stale.
 */
export class TagTimes {
  readonly #times = new Map<string, Times>()
  readonly #shared: TagTier | undefined
  readonly #cacheMs: number

  constructor(shared: TagTier | undefined, cacheMs: number) {
    this.#shared = shared
    this.#cacheMs = cacheMs
  }

  /** fresh / stale / dead for an envelope, given the tag times (undefined when they must be fetched first). */
  state(e: Envelope, ns: string, now: number): 'fresh' | 'stale' | 'dead' | undefined {
    if (now >= e.staleUntil) return 'dead'
    let state: 'fresh' | 'stale' = now >= e.freshUntil ? 'stale' : 'fresh'
    for (const tag of e.tags) {
      const times = this.#times.get(refOf(ns, tag))
      if (times === undefined || now - times.fetchedAt > this.#cacheMs) return undefined
      if (times.hard >= e.createdAt) return 'dead'
      if (times.soft >= e.createdAt) state = 'stale'
    }
    return state
  }

  /** `state`, fetching the tag times it needs first. */
  async stateAsync(e: Envelope, ns: string): Promise<'fresh' | 'stale' | 'dead'> {
    const now = Date.now()
    const known = this.state(e, ns, now)
    if (known !== undefined) return known
    await this.#load(ns, e.tags)
    return this.state(e, ns, now) ?? 'fresh'
  }

  async #load(ns: string, tags: readonly string[]): Promise<void> {
    const now = Date.now()
    const shared = this.#shared
    if (shared === undefined) {
      for (const tag of tags) {
        const ref = refOf(ns, tag)
        const cur = this.#times.get(ref)
        this.#times.set(ref, { soft: cur?.soft ?? 0, hard: cur?.hard ?? 0, fetchedAt: Number.MAX_SAFE_INTEGER })
      }
      return
    }
    const keys = tags.flatMap((t) => [`s:${t}`, `h:${t}`])
    const tagNs = internalNamespace(ns, 'tags')
    const raws = shared.driver.getMany
      ? await shared.driver.getMany(tagNs, keys)
      : await Promise.all(keys.map((k) => shared.driver.get(tagNs, k)))
    tags.forEach((tag, i) => {
      const ref = refOf(ns, tag)
      const cur = this.#times.get(ref)
      this.#times.set(ref, {
        soft: Math.max(cur?.soft ?? 0, readTime(shared, raws[2 * i])),
        hard: Math.max(cur?.hard ?? 0, readTime(shared, raws[2 * i + 1])),
        fetchedAt: now,
      })
    })
  }

  /** Records an invalidation in the shared tier (when there is one) and here; returns its time. */
  async invalidate(ns: string, tags: readonly string[], mode: 'soft' | 'hard'): Promise<number> {
    const at = preciseNow()
    const shared = this.#shared
    if (shared !== undefined) {
      const text = String(at)
      const value = shared.byReference ? text : new TextEncoder().encode(text)
      const entries = tags.map((t) => ({ key: `${mode === 'hard' ? 'h' : 's'}:${t}`, value, ttlMs: undefined }))
      const tagNs = internalNamespace(ns, 'tags')
      if (shared.driver.setMany) await shared.driver.setMany(tagNs, entries)
      else for (const x of entries) await shared.driver.set(tagNs, x.key, x.value, undefined)
    }
    this.apply(ns, tags, at, mode)
    return at
  }

  /** Applies an invalidation (ours, or another process's from the bus) to the cached times. */
  apply(ns: string, tags: readonly string[], at: number, mode: 'soft' | 'hard'): void {
    const fetchedAt = this.#shared === undefined ? Number.MAX_SAFE_INTEGER : Date.now()
    for (const tag of tags) {
      const ref = refOf(ns, tag)
      const cur = this.#times.get(ref)
      if (cur === undefined) {
        // Unknown before: the other time must still be read from the shared tier.
        if (this.#shared !== undefined) continue
        this.#times.set(ref, { soft: mode === 'soft' ? at : 0, hard: mode === 'hard' ? at : 0, fetchedAt })
        continue
      }
      if (mode === 'soft') cur.soft = Math.max(cur.soft, at)
      else cur.hard = Math.max(cur.hard, at)
    }
  }

  /** Forgets the times of a cleared namespace and those nested in it. */
  forget(ns: string): void {
    for (const k of this.#times.keys()) if (k.startsWith(`${ns}\u0000`) || k.startsWith(`${ns}:`)) this.#times.delete(k)
  }

  /** Forgets every cached time (after missed bus messages). */
  clear(): void {
    this.#times.clear()
  }
}

function readTime(tier: TagTier, raw: StoredValue | undefined): number {
  if (raw === undefined) return 0
  const text = tier.byReference ? String(raw) : new TextDecoder().decode(raw as Uint8Array)
  const n = Number(text)
  return Number.isFinite(n) ? n : 0
}
