import { afterEach, describe, expect, it } from 'vitest'
import { createCache, type Cache } from '@beaver-kit/cache'
import { createKeyRing, generateKeyRingEntry } from '@beaver-kit/krypto'
import {
  CacheSessionStore,
  createSessions,
  initSessions,
  RedisSessionStore,
  resetSessions,
  sessions,
  withPrefix,
  type SessionRecord,
} from '@beaver-kit/session'
import { parseCookies, serializeCookie } from '../src/cookies.ts'
import { setImmediate } from 'node:timers/promises'

describe('cookies', () => {
  it('parses names once (the first wins), arrays of headers, and skips pairs without a name', () => {
    const c = parseCookies(['a=1; b=2', 'a=3; =x; junk; c=='])
    expect([...c]).toEqual([
      ['a', '1'],
      ['b', '2'],
      ['c', '='],
    ])
    expect(parseCookies(undefined).size).toBe(0)
    expect(parseCookies(`a=${'x'.repeat(70_000)}`).size).toBe(0)
  })

  it('writes every attribute, and Expires in the past when deleting', () => {
    expect(
      serializeCookie('s', 'v', 60, { secure: true, sameSite: 'strict', domain: 'example.com', path: '/app' }),
    ).toBe('s=v; Path=/app; Max-Age=60; HttpOnly; Domain=example.com; Secure; SameSite=Strict')
    expect(serializeCookie('s', '', 0, { secure: true, sameSite: 'none', path: '/' })).toBe(
      's=; Path=/; Max-Age=0; HttpOnly; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; SameSite=None',
    )
  })
})

const keys = [generateKeyRingEntry('k1')]
const caches: Cache[] = []
afterEach(async () => {
  for (const c of caches.splice(0)) await c.close()
  await resetSessions()
})
function cache(): Cache {
  const c = createCache({ envPrefix: false })
  caches.push(c)
  return c
}

describe('a session', () => {
  it('reads its own changes, deletes on undefined, and refuses writes once destroyed', async () => {
    const s = await createSessions({ envPrefix: false, keys, cache: cache() }).load({ headers: {} })
    s.set('a', 1)
    s.set('b', 2)
    s.set('b', undefined)
    expect([s.get('a'), s.get('b'), s.all()]).toEqual([1, undefined, { a: 1 }])
    const first = s.id
    s.regenerate()
    s.regenerate()
    expect(s.previousId).toBe(first)
    s.destroy()
    expect(() => s.set('a', 2)).toThrow(expect.objectContaining({ code: 'SESSION_DESTROYED' }))
    expect(() => s.delete('a')).toThrow(expect.objectContaining({ code: 'SESSION_DESTROYED' }))
  })
})

describe('sessions', () => {
  it('names the variable of a bad Redis Cluster node list, and nodes given without the cluster mode', () => {
    const env = { BEAVER_SESSION_STORE: 'redis', BEAVER_SESSION_REDIS_MODE: 'cluster' }
    expect(() =>
      createSessions({ keys, env: { ...env, BEAVER_SESSION_REDIS_CLUSTER_NODES: 'cache-1:7000,cache-2:port' } }),
    ).toThrow(/BEAVER_SESSION_REDIS_CLUSTER_NODES[\s\S]*"cache-2:port" is not host:port/)
    expect(() =>
      createSessions({
        keys,
        env: { BEAVER_SESSION_STORE: 'redis', BEAVER_SESSION_REDIS_CLUSTER_NODES: 'cache-1:7000' },
      }),
    ).toThrow(
      expect.objectContaining({
        code: 'SESSION_OPTIONS_INVALID',
        message: expect.stringMatching(/BEAVER_SESSION_REDIS_CLUSTER_NODES.*BEAVER_SESSION_REDIS_MODE is standalone/),
      }),
    )
  })

  it('names the variable of a bad Sentinel list, and sentinels without the sentinel mode (or the reverse)', () => {
    const env = { BEAVER_SESSION_STORE: 'redis', BEAVER_SESSION_REDIS_MODE: 'sentinel' }
    expect(() => createSessions({ keys, env: { ...env, BEAVER_SESSION_REDIS_SENTINELS: 's-1:26379,s-2' } })).toThrow(
      /BEAVER_SESSION_REDIS_SENTINELS[\s\S]*"s-2" is not host:port/,
    )
    expect(() => createSessions({ keys, env: { ...env, BEAVER_SESSION_REDIS_SENTINEL_NAME: 'my master' } })).toThrow(
      /BEAVER_SESSION_REDIS_SENTINEL_NAME/,
    )
    expect(() => createSessions({ keys, env })).toThrow(
      expect.objectContaining({
        code: 'SESSION_OPTIONS_INVALID',
        message: expect.stringMatching(/BEAVER_SESSION_REDIS_MODE is sentinel but BEAVER_SESSION_REDIS_SENTINELS/),
      }),
    )
    expect(() =>
      createSessions({ keys, env: { BEAVER_SESSION_STORE: 'redis', BEAVER_SESSION_REDIS_SENTINELS: 's-1:26379' } }),
    ).toThrow(/BEAVER_SESSION_REDIS_SENTINELS.*BEAVER_SESSION_REDIS_MODE is standalone/)
    const s = createSessions({ keys, env: { ...env, BEAVER_SESSION_REDIS_SENTINELS: 's-1:26379,[::1]:26380' } })
    expect(s.store).toBeInstanceOf(RedisSessionStore) // nothing connects before first use
  })

  it('refuses a bad key ring naming the variable, and work after close', async () => {
    expect(() => createSessions({ env: { BEAVER_SESSION_KEYS: 'not-a-key' } })).toThrow(
      expect.objectContaining({
        code: 'SESSION_OPTIONS_INVALID',
        message: expect.stringContaining('BEAVER_SESSION_KEYS'),
      }),
    )
    const s = createSessions({ envPrefix: false, keys, cache: cache() })
    await s.ready()
    await s.close()
    await expect(s.load({ headers: {} })).rejects.toMatchObject({ code: 'SESSION_CLOSED' })
    await expect(s.ready()).rejects.toMatchObject({ code: 'SESSION_CLOSED' })
  })

  it('the default instance, init and withPrefix', async () => {
    const first = sessions()
    expect(sessions()).toBe(first)
    expect(() => initSessions()).toThrow(expect.objectContaining({ code: 'CORE_ALREADY_INITIALIZED' }))
    const other = withPrefix('OTHER_', { env: { OTHER_SESSION_COOKIE_NAME: 'app' }, cache: cache() })
    expect(other.cookieName).toBe('app')
    expect(other.describe().envPrefix).toBe('OTHER_')
  })

  it('cookie mode refuses a chunk count out of range and a sealed value that is not a session', async () => {
    const s = createSessions({ envPrefix: false, mode: 'cookie', keys, cache: cache() })
    const sealed = createKeyRing(keys).encrypt('not json', { associatedData: '__Host-sid' })
    for (const cookie of ['__Host-sid=99~abc', '__Host-sid=abc', `__Host-sid=1~${sealed}`]) {
      expect((await s.load({ headers: { cookie } })).isNew).toBe(true)
    }
    expect(s.stats().rejected.tampered).toBe(3)
  })

  it('a session revoked while its request ran is not written back, and its cookie is cleared', async () => {
    const s = createSessions({ envPrefix: false, keys, cache: cache() })
    const first = await s.load({ headers: {} })
    first.set('a', 1)
    const set: string[] = []
    await s.commit(first, { appendHeader: (_n, v) => set.push(...[v].flat()) })
    const cookie = (set[0] as string).split(';')[0] as string
    const again = await s.load({ headers: { cookie } })
    await s.store.delete(again.id)
    again.set('b', 2)
    const cleared: string[] = []
    await s.commit(again, { appendHeader: (_n, v) => cleared.push(...[v].flat()) })
    expect(cleared).toEqual([expect.stringMatching(/^__Host-sid=; .*Max-Age=0/)])
    expect(await s.store.get(again.id)).toBeUndefined()
  })

  it('revoke() ends one session of a user', async () => {
    const s = createSessions({ envPrefix: false, keys, cache: cache() })
    const a = await s.load({ headers: {} })
    await a.login('u')
    await s.commit(a, { appendHeader: () => undefined })
    expect((await s.listSessions('u')).map((i) => i.id)).toEqual([a.id])
    await s.revoke('u', a.id)
    expect(await s.listSessions('u')).toEqual([])
    expect(await s.store.get(a.id)).toBeUndefined()
  })

  it('the middleware passes a failure to next() and rethrows without one', async () => {
    const s = createSessions({ envPrefix: false, keys, cache: cache() })
    await s.close()
    const handle = s.middleware()
    const errors: unknown[] = []
    const req = { headers: {} } as never
    await handle(req, {} as never, (e) => void errors.push(e))
    expect(errors).toEqual([expect.objectContaining({ code: 'SESSION_CLOSED' })])
    await expect(handle(req, {} as never)).rejects.toMatchObject({ code: 'SESSION_CLOSED' })
  })
})

describe('the cache session store', () => {
  it('falls back to an in-process lock and a read-write generation where the cache cannot increment', async () => {
    const data = new Map<string, unknown>()
    const unsupported = Object.assign(new Error('no increment'), { code: 'CACHE_UNSUPPORTED' })
    const plain = {
      get: (k: string) => Promise.resolve(data.get(k)),
      set: (k: string, v: unknown) => Promise.resolve(void data.set(k, v)),
      delete: (k: string) => Promise.resolve(data.delete(k)),
      increment: () => Promise.reject(unsupported),
    } as unknown as Cache
    const store = new CacheSessionStore(plain)
    const order: number[] = []
    await Promise.all(
      [1, 2, 3].map((n) =>
        store.withLock('k', async () => {
          order.push(n)
          // A turn of the event loop inside the lock: every other caller's attempt runs meanwhile.
          await setImmediate()
          order.push(n)
        }),
      ),
    )
    expect(order).toEqual([1, 1, 2, 2, 3, 3])
    expect(await store.bumpGeneration('u')).toBe(1)
    expect(await store.bumpGeneration('u')).toBe(2)
    expect(await store.generation('u')).toBe(2)
    const record: SessionRecord = { id: 'x', data: {}, created: 1, lastSeen: Date.now() }
    await store.indexUser('u', { id: 'x', created: 1, lastSeen: Date.now() }, 60_000)
    await store.indexUser('u', { id: 'old', created: 1, lastSeen: 1 }, 60_000)
    expect((await store.listUser('u')).map((i) => i.id)).toEqual(['x'])
    await store.set(record, 1000)
    await store.unindexUser('u', ['x'])
    expect(data.has('u:u')).toBe(false)
  })

  it('rethrows a cache failure while taking the lock', async () => {
    const broken = { increment: () => Promise.reject(new Error('redis down')) } as unknown as Cache
    await expect(new CacheSessionStore(broken).withLock('k', () => Promise.resolve(1))).rejects.toThrow('redis down')
  })
})
