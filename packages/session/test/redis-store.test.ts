// What the Redis store sends for each kind of save, on the shared Redis: a save that only
// changes data is one plain HSET that leaves the expiry alone, and a session revoked while
// such a save was in flight is not written back (no hash is left behind).
import { afterAll, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { requireService, uniqueNamespace } from '@beaver-kit/testkit'
import { createSessions, RedisSessionStore, type RedisSessionClient } from '@beaver-kit/session'
import { Jar, keys, request, response } from './helpers/session-cases.ts'

const url = await requireService('redis')
const opened: Array<{ close(): Promise<unknown> }> = []
afterAll(async () => {
  for (const o of opened) await o.close()
})

/** An ioredis client that counts the commands the store sends, by name. */
function countingClient(): { client: RedisSessionClient; sent: Map<string, number>; raw: Redis } {
  const raw = new Redis(url as string)
  opened.push({ close: () => raw.quit() })
  const sent = new Map<string, number>()
  const client = new Proxy(raw, {
    get(target, name, receiver) {
      const value: unknown = Reflect.get(target, name, receiver)
      if (typeof value !== 'function' || typeof name !== 'string') return value
      return (...args: unknown[]) => {
        sent.set(name, (sent.get(name) ?? 0) + 1)
        return (value as (...a: unknown[]) => unknown).apply(target, args)
      }
    },
  }) as unknown as RedisSessionClient
  return { client, sent, raw }
}

describe.runIf(url)('the Redis session store, command by command', () => {
  const make = (client: RedisSessionClient, prefix: string) =>
    createSessions({ envPrefix: false, keys, store: new RedisSessionStore({ client, prefix }) })

  it('saves a data-only change with one HSET: no script, the expiry left as it was', async () => {
    const prefix = uniqueNamespace('sessr')
    const { client, sent, raw } = countingClient()
    const s = make(client, prefix)
    const jar = new Jar()
    const id = await request(s, jar, (session) => (session.set('n', 1), session.id))
    const key = `${prefix}:s:{${id}}`
    await raw.pexpire(key, 5_000_000) // marked, so a renewal would show
    sent.clear()
    expect(await request(s, jar, (session) => (session.set('n', 2), session.set('m', 'x'), session.get('n')))).toBe(2)
    expect(Object.fromEntries(sent)).toEqual({ hgetall: 1, hset: 1 })
    expect(await raw.pttl(key)).toBeLessThanOrEqual(5_000_000)
    expect(await raw.pttl(key)).toBeGreaterThan(4_000_000)
    expect(await request(s, jar, (session) => session.all())).toEqual({ n: 2, m: 'x' })
    await s.close()
  })

  it('leaves no hash behind when a data-only save meets a revoked session', async () => {
    const prefix = uniqueNamespace('sessr')
    const { client, raw } = countingClient()
    const s = make(client, prefix)
    const jar = new Jar()
    await request(s, jar, async (session) => {
      await session.login('u-gone')
      session.set('a', 1)
    })
    const late = await s.load({ headers: { cookie: jar.header() } })
    expect(await s.revokeAll('u-gone')).toBe(1)
    late.set('b', 2) // a new key: the HSET creates every field it writes
    const res = response()
    await s.commit(late, res)
    expect(res.set.some((c) => c.includes('Max-Age=0'))).toBe(true)
    expect(await raw.exists(`${prefix}:s:{${late.id}}`)).toBe(0)
    await s.close()
  })

  it('keeps a session stored before the marker field existed (its meta is there)', async () => {
    const prefix = uniqueNamespace('sessr')
    const { client, raw } = countingClient()
    const s = make(client, prefix)
    const jar = new Jar()
    const id = await request(s, jar, (session) => (session.set('n', 1), session.id))
    const key = `${prefix}:s:{${id}}`
    await raw.hdel(key, '@e') // as a session written by the previous release
    expect(await request(s, jar, (session) => (session.set('n', 2), session.isNew))).toBe(false)
    expect(await raw.hget(key, '@e')).toBe('1')
    expect(await request(s, jar, (session) => session.get('n'))).toBe(2)
    await s.close()
  })
})
