import type { Cache } from '@beaver-kit/cache'
import { sleep } from '@beaver-kit/core'
import { SessionError } from './errors.ts'

/** What a session keeps, in the store or in the sealed cookie. */
export interface SessionRecord {
  id: string
  data: Record<string, unknown>
  userId?: string | undefined
  /** When the session began (login regenerates it): the absolute timeout counts from here. */
  created: number
  lastSeen: number
  /** The user's generation when this session was issued (stateless revocation). */
  generation?: number | undefined
  device?: string | undefined
  ip?: string | undefined
}

/** One of a user's sessions, as `listSessions()` shows it. */
export interface SessionInfo {
  id: string
  created: number
  lastSeen: number
  device?: string | undefined
  ip?: string | undefined
}

/** A changed key of a request: its new value, or undefined when the request deleted it. */
export type SessionChange = { value: unknown } | undefined

/** What one request's save writes: its changed keys, merged into what is stored when it saves. */
export interface SessionSave {
  /** The record as the request holds it (with its new id after regenerate()): everything but the data is written as is. */
  record: SessionRecord
  /** The id the session was loaded under, when regenerate() gave it a new one: its data is the base, then it is deleted. */
  previousId?: string | undefined
  changes: ReadonlyMap<string, SessionChange>
  /** No stored session came with the request: nothing has to exist under the id. */
  isNew: boolean
  /** How long the saved session may live from now. */
  ttlMs: number
  /**
   * False when only the data changed: the session was not renewed (its lastSeen is as loaded),
   * so a store may leave the stored lastSeen, metadata and expiry as they are. Default true.
   */
  touch?: boolean | undefined
}

/**
 * Where sessions and the per-user index live. `@beaver-kit/auth` builds on this interface;
 * the kit's implementations are on any `@beaver-kit/cache` (memory, Redis, database) and,
 * for one round trip per save, on Redis directly (`RedisSessionStore`).
 */
export interface SessionStore {
  get(id: string): Promise<SessionRecord | undefined>
  /** Writes the whole record (what it held before is gone). */
  set(record: SessionRecord, ttlMs: number): Promise<void>
  delete(id: string): Promise<void>
  /**
   * Merges the request's changed keys into the stored data and writes the rest of the record,
   * atomically with respect to other saves of the session, so parallel requests that change
   * different keys keep both changes. Resolves false, writing nothing, when a session that
   * existed is gone (revoked or expired while the request ran).
   */
  save(save: SessionSave): Promise<boolean>
  listUser(userId: string): Promise<SessionInfo[]>
  indexUser(userId: string, info: SessionInfo, ttlMs: number): Promise<void>
  unindexUser(userId: string, ids: readonly string[]): Promise<void>
  generation(userId: string): Promise<number>
  bumpGeneration(userId: string): Promise<number>
}

/** `data` with the changes applied (a new object). */
export function mergeChanges(
  data: Readonly<Record<string, unknown>>,
  changes: ReadonlyMap<string, SessionChange>,
): Record<string, unknown> {
  const out = { ...data }
  for (const [k, c] of changes) {
    if (c) out[k] = c.value
    else delete out[k]
  }
  return out
}

const LOCK_TTL = '10s'
const LOCK_WAIT_MS = 5000

/** The SessionStore on a kit cache (its own namespace). */
export class CacheSessionStore implements SessionStore {
  readonly #cache: Cache
  readonly #local = new Map<string, Promise<unknown>>()

  constructor(cache: Cache) {
    this.#cache = cache
  }

  get(id: string): Promise<SessionRecord | undefined> {
    return this.#cache.get<SessionRecord>(`s:${id}`)
  }

  set(record: SessionRecord, ttlMs: number): Promise<void> {
    return this.#cache.set(`s:${record.id}`, record, { ttl: ttlMs })
  }

  async delete(id: string): Promise<void> {
    await this.#cache.delete(`s:${id}`)
  }

  /** Read, merge and write under the session's lock (a cache has no merge of its own). */
  save({ record, previousId, changes, isNew, ttlMs }: SessionSave): Promise<boolean> {
    const loadedAs = previousId ?? record.id
    return this.withLock(`s:${loadedAs}`, async () => {
      const current = await this.get(loadedAs)
      if (!current && !isNew && !previousId) return false
      const data = mergeChanges(current?.data ?? record.data, changes)
      await this.set({ ...record, data }, ttlMs)
      if (previousId) await this.delete(previousId)
      return true
    })
  }

  /**
   * A lock per key: in this process a promise chain; across processes an atomic counter in
   * the cache (the first to take it to 1 holds it; it expires after 10 s if its holder dies).
   * Where the cache cannot increment atomically, only the in-process lock applies.
   */
  async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#local.get(key) ?? Promise.resolve()
    const run = previous.catch(() => undefined).then(() => this.#shared(key, fn))
    this.#local.set(key, run)
    try {
      return await run
    } finally {
      if (this.#local.get(key) === run) this.#local.delete(key)
    }
  }

  async #shared<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const lock = `l:${key}`
    const started = Date.now()
    let held = false
    for (let attempt = 0; !held; attempt++) {
      try {
        held = (await this.#cache.increment(lock, 1, { ttl: LOCK_TTL })) === 1
      } catch (error) {
        if ((error as { code?: string }).code === 'CACHE_UNSUPPORTED') return fn()
        throw error
      }
      if (held) break
      if (Date.now() - started > LOCK_WAIT_MS) {
        throw new SessionError('SESSION_LOCK_TIMEOUT', `The session lock "${key}" was held for more than 5 s`)
      }
      await sleep(Math.min(50, 2 + attempt * 3))
    }
    try {
      return await fn()
    } finally {
      await this.#cache.delete(lock).catch(() => undefined)
    }
  }

  async listUser(userId: string): Promise<SessionInfo[]> {
    const index = (await this.#cache.get<Record<string, SessionInfo>>(`u:${userId}`)) ?? {}
    return Object.values(index).sort((a, b) => b.lastSeen - a.lastSeen)
  }

  indexUser(userId: string, info: SessionInfo, ttlMs: number): Promise<void> {
    return this.withLock(`u:${userId}`, async () => {
      const index = (await this.#cache.get<Record<string, SessionInfo>>(`u:${userId}`)) ?? {}
      index[info.id] = info
      // Entries past the idle timeout are gone from the store too: drop them here.
      const cutoff = Date.now() - ttlMs
      for (const [id, i] of Object.entries(index)) if (i.lastSeen < cutoff) delete index[id]
      await this.#cache.set(`u:${userId}`, index, { ttl: ttlMs })
    })
  }

  unindexUser(userId: string, ids: readonly string[]): Promise<void> {
    return this.withLock(`u:${userId}`, async () => {
      const index = (await this.#cache.get<Record<string, SessionInfo>>(`u:${userId}`)) ?? {}
      for (const id of ids) delete index[id]
      if (Object.keys(index).length === 0) await this.#cache.delete(`u:${userId}`)
      else await this.#cache.set(`u:${userId}`, index)
    })
  }

  async generation(userId: string): Promise<number> {
    return Number((await this.#cache.get<string | number>(`g:${userId}`)) ?? 0)
  }

  async bumpGeneration(userId: string): Promise<number> {
    try {
      return await this.#cache.increment(`g:${userId}`, 1)
    } catch {
      // No atomic counter on this cache: a read and a write under the lock.
      return this.withLock(`g:${userId}`, async () => {
        const next = (await this.generation(userId)) + 1
        await this.#cache.set(`g:${userId}`, next)
        return next
      })
    }
  }
}
