import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import { cache as defaultCache, type Cache } from '@beaver-kit/cache'
import { describeInstance, resolveConfig, type InstanceDescription, type InstanceOptions } from '@beaver-kit/config'
import { redisTopologyProblem, traceAsync, type Instance } from '@beaver-kit/core'
import { createKeyRing, generateKeyRingEntry, type KeyRing } from '@beaver-kit/krypto'
import { channels } from './channels.ts'
import { sessionsSchema, type SessionsSettings } from './config.ts'
import { cookiePayload } from './cookie-payload.ts'
import { CHUNK, parseCookies, serializeCookie, type CookieAttributes } from './cookies.ts'
import { SessionError } from './errors.ts'
import { newSessionId, Session, type SessionHost } from './session.ts'
import { RedisSessionStore } from './redis-store.ts'
import { CacheSessionStore, type SessionInfo, type SessionRecord, type SessionStore } from './store.ts'

export interface SessionsOptions extends Omit<SessionsSettings, 'store'>, InstanceOptions {
  /** The cache of the store mode and the per-user index (default: the default `cache()`). */
  cache?: Cache
  /** `cache` (default), `redis` (a `RedisSessionStore` on `redis.url`), or a store of your own. */
  store?: SessionsSettings['store'] | SessionStore
  /** Milliseconds since the epoch (tests). */
  clock?: () => number
}

/** The request parts a session is loaded from. */
export interface SessionRequest {
  headers: IncomingHttpHeaders
}

/** Sessions: create with `createSessions()`, or use the default `sessions()`. */
export interface Sessions extends Instance<InstanceDescription> {
  readonly mode: 'store' | 'cookie'
  readonly cookieName: string
  /** The request's session: its own if the cookie is valid, else a new empty one. Never throws for a bad cookie. */
  load(req: SessionRequest): Promise<Session>
  /** Writes the session and sets its cookies on the response (call before the body is sent). */
  commit(session: Session, res: HeaderTarget): Promise<void>
  /** Middleware for node:http and Express: `req.session`, saved and its cookie set when the response ends. */
  middleware(): (
    req: IncomingMessage & { session?: Session },
    res: ServerResponse,
    next?: (error?: unknown) => void,
  ) => Promise<Session | undefined>
  /** A user's sessions, most recently seen first. */
  listSessions(userId: string): Promise<SessionInfo[]>
  /** Ends one of a user's sessions. */
  revoke(userId: string, sessionId: string): Promise<void>
  /** Ends every session of a user ("log out everywhere"), except the given one; in both modes. */
  revokeAll(userId: string, options?: { except?: string }): Promise<number>
  /** Cookies refused since creation, by reason. */
  stats(): { rejected: Record<'tampered' | 'expired' | 'revoked' | 'unknown', number> }
  readonly store: SessionStore
}

/** Where commit() puts the Set-Cookie values: a ServerResponse, or anything with appendHeader. */
export interface HeaderTarget {
  appendHeader(name: string, value: string | string[]): unknown
}

/** Most store-mode cookies whose id is remembered (about 200 bytes each). */
const OPENED_IDS_MAX = 10_000

interface CookieState {
  chunks: number
}

/**
 * Builds sessions from options, then `BEAVER_SESSION_*`, then defaults. Does no I/O.
 * @example
 * await using sessions = createSessions({ secure: false })
 * http.createServer(async (req, res) => { const s = await sessions.load(req); ...; await sessions.commit(s, res) })
 */
export function createSessions(options: SessionsOptions = {}): Sessions {
  const { envPrefix, env, cache, store: storeOption, clock = Date.now, ...rest } = options
  const givenStore = typeof storeOption === 'object' ? storeOption : undefined
  const settings: SessionsSettings = typeof storeOption === 'string' ? { ...rest, store: storeOption } : rest
  const resolved = resolveConfig(sessionsSchema, { options: settings, envPrefix, ...(env ? { env } : {}) })
  const v = resolved.values
  const prefix = envPrefix === false ? '' : (envPrefix ?? 'BEAVER_')
  const ring: KeyRing = (() => {
    if (v.keys && v.keys.length > 0) {
      try {
        return createKeyRing(v.keys)
      } catch (error) {
        throw new SessionError('SESSION_OPTIONS_INVALID', `${prefix}SESSION_KEYS: ${(error as Error).message}`)
      }
    }
    if ((env ?? process.env).NODE_ENV === 'production') {
      throw new SessionError(
        'SESSION_KEYS_MISSING',
        `${prefix}SESSION_KEYS is not set: sessions would not survive a restart nor be shared between processes. Set it to a key ring (e.g. the output of generateKeyRingEntry() from @beaver-kit/krypto).`,
      )
    }
    return createKeyRing(generateKeyRingEntry('ephemeral'))
  })()
  const attributes: CookieAttributes = { secure: v.secure, sameSite: v.sameSite, domain: v.domain, path: v.path }
  if (v.sameSite === 'none' && !v.secure) {
    throw new SessionError(
      'SESSION_OPTIONS_INVALID',
      `${prefix}SESSION_SAME_SITE=none needs secure cookies (browsers refuse it otherwise)`,
    )
  }
  const cookieName = v.cookieName ?? (v.secure && v.path === '/' && !v.domain ? '__Host-sid' : 'sid')
  const aad = { associatedData: cookieName }
  const redisStoreWanted = givenStore === undefined && v.store === 'redis'
  const topologyProblem = redisStoreWanted && redisTopologyProblem(v.redis, `${prefix}SESSION_REDIS_`)
  if (topologyProblem) throw new SessionError('SESSION_OPTIONS_INVALID', topologyProblem)
  const ownStore = redisStoreWanted
    ? new RedisSessionStore({
        url: v.redis.url,
        prefix: v.namespace,
        ...(v.redis.mode === 'cluster' ? { cluster: { nodes: v.redis.clusterNodes } } : {}),
        ...(v.redis.mode === 'sentinel'
          ? {
              sentinel: {
                nodes: v.redis.sentinels ?? [],
                name: v.redis.sentinelName,
                password: v.redis.sentinelPassword,
              },
            }
          : {}),
      })
    : undefined
  const store: SessionStore =
    givenStore ?? ownStore ?? new CacheSessionStore((cache ?? defaultCache()).namespace(v.namespace))
  const maxChunks = Math.max(1, Math.ceil(v.maxCookieBytes / CHUNK))
  const cookieState = new WeakMap<Session, CookieState>()
  const rejected = { tampered: 0, expired: 0, revoked: 0, unknown: 0 }
  let closed = false

  const reject = (reason: keyof typeof rejected): void => {
    rejected[reason]++
    if (channels.rejected.hasSubscribers) channels.rejected.publish({ reason })
  }
  // Store mode: the ids of recently opened cookies, so a returning browser's cookie is not
  // decrypted again (AES-GCM is the largest CPU cost of a load). Only cookies that opened under
  // this instance's key ring get in; the store is still asked on every load, so a revoked id
  // stays revoked. Bounded: the oldest go first.
  const openedIds = new Map<string, string>()
  const payload = cookiePayload({ compress: v.compress, maxDataBytes: v.maxDataBytes })
  const rememberId = (sealed: string, id: string): void => {
    if (openedIds.size >= OPENED_IDS_MAX) openedIds.delete(openedIds.keys().next().value as string)
    openedIds.set(sealed, id)
  }
  const lifetime = (r: SessionRecord, now: number): number => Math.min(v.ttl, r.created + v.absolute - now)

  function fresh(): SessionRecord {
    const now = clock()
    return { id: newSessionId(), data: {}, created: now, lastSeen: now }
  }

  /** The record a cookie carries, or undefined with the reason counted. */
  async function read(cookies: Map<string, string>, state: CookieState): Promise<SessionRecord | undefined> {
    const first = cookies.get(cookieName)
    if (!first) return undefined
    let sealed = first
    if (v.mode === 'cookie') {
      const m = /^(\d{1,3})~(.*)$/s.exec(first)
      const count = Number(m?.[1] ?? 0)
      if (!m || count < 1 || count > maxChunks) return (reject('tampered'), undefined)
      state.chunks = count
      sealed = m[2] as string
      for (let i = 1; i < count; i++) sealed += cookies.get(`${cookieName}.${i}`) ?? ''
    } else state.chunks = 1
    let record: SessionRecord | undefined
    if (v.mode === 'store') {
      let id = openedIds.get(sealed)
      if (id === undefined) {
        try {
          id = ring.decryptString(sealed, aad)
        } catch {
          return (reject('tampered'), undefined)
        }
        rememberId(sealed, id)
      }
      record = await store.get(id)
      if (!record) return (reject('unknown'), undefined)
    } else {
      let opened: Buffer
      try {
        opened = ring.decrypt(sealed, aad)
      } catch {
        return (reject('tampered'), undefined)
      }
      record = payload.decode(opened)
      if (!record) return (reject('tampered'), undefined)
    }
    const now = clock()
    if (record.created + v.absolute <= now || record.lastSeen + v.ttl <= now) return (reject('expired'), undefined)
    if (v.mode === 'cookie' && record.userId !== undefined) {
      if ((record.generation ?? 0) < (await store.generation(record.userId))) return (reject('revoked'), undefined)
    }
    return record
  }

  const host: SessionHost = {
    async persist(session) {
      if (!session.dirty) return
      await traceAsync(
        channels.save,
        () => ({ mode: v.mode, changed: session.changes.size }),
        async () => {
          const now = clock()
          if (session.destroyed) {
            await store.delete(session.id)
            if (session.previousId) await store.delete(session.previousId)
            if (session.userId) await store.unindexUser(session.userId, [session.id])
            return
          }
          if (session.isNew && !session.userId && session.all() && Object.keys(session.all()).length === 0) {
            session.reissue = false // nothing worth a cookie yet
            return
          }
          if (v.mode === 'cookie') {
            session.replace({
              ...session.record,
              data: session.all(),
              lastSeen: session.touched ? now : session.record.lastSeen,
            })
            session.changes.clear()
            session.reissue = true
            return
          }
          // The idle timeout is renewed as in cookie mode: when less than half of it was left
          // (touched), or when the session or its id is new. Otherwise only the data changed,
          // and a store may leave the rest (lastSeen, expiry) as stored: cheaper saves.
          const touch = session.touched || session.isNew || session.previousId !== undefined
          const record = { ...session.record, data: session.all(), lastSeen: touch ? now : session.record.lastSeen }
          const saved = await store.save({
            record,
            previousId: session.previousId,
            changes: session.changes,
            isNew: session.isNew,
            // What is left until the idle timeout (from lastSeen) or the absolute one.
            ttlMs: Math.min(record.lastSeen + v.ttl, record.created + v.absolute) - now,
            touch,
          })
          if (!saved) {
            session.destroyed = true // revoked or expired while this request ran
            return
          }
          session.replace(record)
          session.changes.clear()
          if (session.userId && session.touched) {
            const r = session.record
            await store.indexUser(
              session.userId,
              { id: r.id, created: r.created, lastSeen: now, device: r.device, ip: r.ip },
              v.ttl,
            )
          }
        },
      )
    },
    cookies(session) {
      const state = cookieState.get(session) ?? { chunks: 0 }
      const clear = (from: number): string[] =>
        Array.from({ length: Math.max(0, state.chunks - from) }, (_, i) =>
          serializeCookie(i + from === 0 ? cookieName : `${cookieName}.${i + from}`, '', 0, attributes),
        )
      if (session.destroyed)
        return state.chunks > 0 || session.reissue
          ? clear(0).concat(state.chunks === 0 ? [serializeCookie(cookieName, '', 0, attributes)] : [])
          : []
      if (!session.reissue && !session.touched) return []
      const now = clock()
      const maxAge = lifetime(session.record, now) / 1000
      if (v.mode === 'store') return [serializeCookie(cookieName, ring.encrypt(session.id, aad), maxAge, attributes)]
      const plaintext = payload.encode(session.record)
      if (plaintext.jsonBytes > v.maxDataBytes) {
        throw new SessionError(
          'SESSION_TOO_LARGE',
          `The session's data is over ${prefix}SESSION_MAX_DATA_BYTES (${v.maxDataBytes}); keep less in a cookie session or use the store mode`,
        )
      }
      const sealed = ring.encrypt(plaintext.bytes, aad)
      const count = Math.ceil(sealed.length / CHUNK)
      if (count > maxChunks) {
        throw new SessionError(
          'SESSION_TOO_LARGE',
          `The sealed session is ${sealed.length} bytes, over ${prefix}SESSION_MAX_COOKIE_BYTES (${v.maxCookieBytes}); keep less in a cookie session or use the store mode`,
        )
      }
      const out: string[] = []
      for (let i = 0; i < count; i++) {
        const part = sealed.slice(i * CHUNK, (i + 1) * CHUNK)
        out.push(
          serializeCookie(
            i === 0 ? cookieName : `${cookieName}.${i}`,
            i === 0 ? `${count}~${part}` : part,
            maxAge,
            attributes,
          ),
        )
      }
      return out.concat(clear(count))
    },
    async login(session, userId, meta) {
      const r = session.record
      if (v.mode === 'cookie') session.replace({ ...r, generation: await store.generation(userId) })
      await store.indexUser(
        userId,
        { id: r.id, created: r.created, lastSeen: r.lastSeen, device: meta.device, ip: meta.ip },
        v.ttl,
      )
      if (session.previousId) await store.unindexUser(userId, [session.previousId])
    },
  }

  function open(): void {
    if (closed) throw new SessionError('SESSION_CLOSED', 'These sessions are closed; create new ones.')
  }

  async function load(req: SessionRequest): Promise<Session> {
    open()
    return traceAsync(
      channels.load,
      () => ({ mode: v.mode }),
      async () => {
        const state: CookieState = { chunks: 0 }
        const record = await read(parseCookies(req.headers.cookie), state)
        const session = new Session(host, record ?? fresh(), record === undefined)
        cookieState.set(session, state)
        if (record === undefined) session.reissue = true
        else if (v.rolling && clock() - record.lastSeen > v.ttl / 2) session.touched = true
        return session
      },
    )
  }

  async function commit(session: Session, res: HeaderTarget): Promise<void> {
    await host.persist(session)
    const values = host.cookies(session)
    if (values.length > 0) res.appendHeader('set-cookie', values)
  }

  const sessions: Sessions = {
    mode: v.mode,
    cookieName,
    store,
    load,
    commit,
    middleware() {
      return async (req, res, next) => {
        try {
          const session = await load(req)
          req.session = session
          const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse
          let ending = false
          res.end = ((...args: unknown[]) => {
            if (ending) return end(...args)
            ending = true
            host.persist(session).then(
              () => {
                if (!res.headersSent) {
                  const values = host.cookies(session)
                  if (values.length > 0) res.appendHeader('set-cookie', values)
                }
                end(...args)
              },
              (error: unknown) => {
                if (!res.headersSent) res.statusCode = 500
                res.destroy(error as Error)
              },
            )
            return res
          }) as typeof res.end
          next?.()
          return session
        } catch (error) {
          if (next) return (next(error), undefined)
          throw error
        }
      }
    },
    listSessions: (userId) => store.listUser(userId),
    async revoke(userId, sessionId) {
      await store.delete(sessionId)
      await store.unindexUser(userId, [sessionId])
    },
    async revokeAll(userId, o = {}) {
      const list = (await store.listUser(userId)).filter((s) => s.id !== o.except)
      for (const s of list) await store.delete(s.id)
      await store.unindexUser(
        userId,
        list.map((s) => s.id),
      )
      await store.bumpGeneration(userId)
      if (channels.revoked.hasSubscribers) channels.revoked.publish({ userId, sessions: list.length })
      return list.length
    },
    stats: () => ({ rejected: { ...rejected } }),
    ready: async () => {
      open()
      if (ownStore) await ownStore.ready()
      else await (cache ?? (givenStore ? undefined : defaultCache()))?.ready()
    },
    describe: () => describeInstance('session', envPrefix, resolved.entries, { mode: v.mode, cookieName, closed }),
    async close() {
      closed = true
      await ownStore?.close()
    },
    [Symbol.asyncDispose]: () => sessions.close(),
  }
  return sessions
}
