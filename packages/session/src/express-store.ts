import type { Cache } from '@beaver-kit/cache'
import { CacheSessionStore, type SessionStore } from './store.ts'

/** What express-session's `Store` base class gives a store (typed structurally: no express-session import). */
export interface ExpressStoreBase {
  emit(event: string | symbol, ...args: unknown[]): boolean
}

type Done = (error?: unknown) => void

/** Options of `expressSessionStore()`. */
export interface ExpressSessionStoreOptions {
  /** The kit cache to keep sessions in (its own namespace is wise: `cache.namespace('express')`). */
  cache?: Cache
  /** A SessionStore of your own; overrides `cache`. */
  store?: SessionStore
  /** Lifetime of a session whose cookie has no expiry (a browser-session cookie). Default 24 h. */
  ttlMs?: number
  /** Milliseconds since the epoch (tests). */
  clock?: () => number
}

interface ExpressCookie {
  expires?: string | Date | null | undefined
}

/**
 * An `express-session` store on any kit cache (memory, Redis, PostgreSQL, MariaDB, SQLite),
 * for apps that keep express-session and want the kit's stores. Pass express-session's `Store`
 * class, as connect-redis once took `session`: the kit never imports express-session.
 * @example
 * import session from 'express-session'
 * app.use(session({ secret, resave: false, saveUninitialized: false,
 *   store: expressSessionStore(session.Store, { cache: createCache({ driver: 'redis' }) }) }))
 */
export function expressSessionStore<T extends ExpressStoreBase>(
  Base: abstract new () => T,
  options: ExpressSessionStoreOptions,
): T {
  const given = options.store ?? (options.cache ? new CacheSessionStore(options.cache) : undefined)
  if (given === undefined) throw new TypeError('expressSessionStore() needs a cache or a store')
  const store: SessionStore = given
  const ttlMs = options.ttlMs ?? 86_400_000
  const clock = options.clock ?? Date.now
  const lifetime = (sess: { cookie?: ExpressCookie }): number => {
    const expires = sess.cookie?.expires
    return expires ? Math.max(1, new Date(expires).getTime() - clock()) : ttlMs
  }
  const save = async (sid: string, sess: { cookie?: ExpressCookie }): Promise<void> => {
    const now = clock()
    // A plain JSON copy: express-session mutates the object it is given back, and the memory cache keeps references.
    const data = JSON.parse(JSON.stringify(sess)) as Record<string, unknown>
    const current = await store.get(sid)
    await store.set({ id: sid, data, created: current?.created ?? now, lastSeen: now }, lifetime(sess))
  }
  const Concrete = Base as unknown as new () => ExpressStoreBase
  class KitExpressStore extends Concrete {
    get(sid: string, done: (error: unknown, session?: Record<string, unknown> | null) => void): void {
      store.get(sid).then(
        (record) => done(null, record ? record.data : null),
        (error: unknown) => done(error),
      )
    }
    set(sid: string, sess: { cookie?: ExpressCookie }, done?: Done): void {
      save(sid, sess).then(
        () => done?.(),
        (error: unknown) => done?.(error),
      )
    }
    /** Extends the lifetime of what is stored now (not of the request's copy, so no write is lost). */
    touch(sid: string, sess: { cookie?: ExpressCookie }, done?: Done): void {
      const extend = async (): Promise<void> => {
        const current = await store.get(sid)
        if (current) await store.set({ ...current, lastSeen: clock() }, lifetime(sess))
      }
      extend().then(
        () => done?.(),
        (error: unknown) => done?.(error),
      )
    }
    destroy(sid: string, done?: Done): void {
      store.delete(sid).then(
        () => done?.(),
        (error: unknown) => done?.(error),
      )
    }
  }
  return new KitExpressStore() as unknown as T
}
