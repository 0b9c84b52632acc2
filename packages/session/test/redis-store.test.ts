// What the Redis store sends for each kind of save, on the shared Redis: a save that only
// changes data is one EVALSHA that leaves the expiry alone, a session revoked while such a
// save was in flight is not written back (no hash is left behind), and after every single
// command the store sends no session key is left without a TTL (a client that dies between
// two commands leaks nothing).
import { afterAll, describe, expect, it, vi } from 'vitest'
import { Redis } from 'ioredis'
import { requireService, uniqueNamespace } from '@beaver-kit/testkit'
import { createSessions, RedisSessionStore, type RedisSessionClient } from '@beaver-kit/session'
import { Jar, keys, request, response } from './helpers/session-cases.ts'
import { turnWrites } from '../src/turn-writes.ts'

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

  it('saves a data-only change with one EVALSHA, the expiry left as it was', async () => {
    const prefix = uniqueNamespace('sessr')
    const { client, sent, raw } = countingClient()
    const s = make(client, prefix)
    const jar = new Jar()
    const id = await request(s, jar, (session) => (session.set('n', 1), session.id))
    const key = `${prefix}:s:{${id}}`
    await raw.pexpire(key, 5_000_000) // marked, so a renewal would show
    sent.clear()
    expect(await request(s, jar, (session) => (session.set('n', 2), session.set('m', 'x'), session.get('n')))).toBe(2)
    expect(Object.fromEntries(sent)).toEqual({ hgetall: 1, evalsha: 1 })
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

  it('leaves no session key without a TTL after any single command, even when a late save meets a revoked session', async () => {
    const prefix = uniqueNamespace('sessr')
    const raw = new Redis(url as string)
    const inspector = new Redis(url as string)
    opened.push({ close: () => raw.quit() }, { close: () => inspector.quit() })
    // What a client that died right after this command would leave: every key of the store
    // but the per-user generation counters (kept for good: they revoke sealed cookies).
    const withoutTtl: string[] = []
    let commands = 0
    const inspect = async (command: string): Promise<void> => {
      commands++
      for (const key of await inspector.keys(`${prefix}:*`)) {
        if (key.startsWith(`${prefix}:g:`)) continue
        if ((await inspector.pttl(key)) === -1) withoutTtl.push(`${key} after ${command}`)
      }
    }
    const client = new Proxy(raw, {
      get(target, name, receiver) {
        const value: unknown = Reflect.get(target, name, receiver)
        if (typeof value !== 'function' || typeof name !== 'string') return value
        return async (...args: unknown[]) => {
          try {
            return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args)
          } finally {
            await inspect(name)
          }
        }
      },
    }) as unknown as RedisSessionClient
    let now = Date.now()
    const s = createSessions({
      envPrefix: false,
      keys,
      ttl: '1h',
      clock: () => now,
      store: new RedisSessionStore({ client, prefix }),
    })
    const jar = new Jar()
    await request(s, jar, (session) => session.set('n', 1)) // created
    await request(s, jar, async (session) => {
      await session.login('u-ttl') // a new id, the user index
      session.set('a', 1)
    })
    await request(s, jar, (session) => (session.set('n', 2), session.delete('a'))) // data only
    now += 40 * 60_000
    await request(s, jar, (session) => session.set('n', 3)) // renewed
    const late = await s.load({ headers: { cookie: jar.header() } })
    expect(await s.revokeAll('u-ttl')).toBe(1)
    late.set('b', 2) // a data-only save of a session that is gone: the window of the leak
    const res = response()
    await s.commit(late, res)
    expect(res.set.some((c) => c.includes('Max-Age=0'))).toBe(true)
    expect(await raw.exists(`${prefix}:s:{${late.id}}`)).toBe(0)
    expect(commands).toBeGreaterThan(10)
    expect(withoutTtl).toEqual([])
    await s.close()
  })

  it('sends the commands of one event-loop turn in one write (the store corks its own client per turn)', async () => {
    const raw = new Redis(url as string, { enableAutoPipelining: false })
    opened.push({ close: () => raw.quit() })
    await raw.ping()
    const batch = turnWrites(raw)
    const write = vi.spyOn(raw.stream, '_write')
    const writev = vi.spyOn(raw.stream, '_writev')
    const key = `${uniqueNamespace('sessr')}:turn`
    const sent = Array.from({ length: 10 }, (_, i) => (batch(), raw.hset(key, `f${i}`, String(i))))
    expect(write.mock.calls.length + writev.mock.calls.length).toBe(0) // held until the turn ends
    expect(await Promise.all(sent)).toEqual(Array(10).fill(1))
    expect(write.mock.calls.length + writev.mock.calls.length).toBe(1)
    batch() // a later turn corks again
    expect(await raw.del(key)).toBe(1)
    expect(write.mock.calls.length + writev.mock.calls.length).toBe(2)
  })

  it('corks only a connected client (before that, ioredis queues the commands itself)', async () => {
    let corks = 0
    const client = { status: 'connecting', stream: { cork: () => corks++, uncork: () => {} } }
    const batch = turnWrites(client)
    batch()
    expect(corks).toBe(0)
    client.status = 'ready'
    batch()
    batch()
    expect(corks).toBe(1)
  })

  it('loads and saves a session stored by the previous release (with its marker field)', async () => {
    const prefix = uniqueNamespace('sessr')
    const { client, raw } = countingClient()
    const s = make(client, prefix)
    const jar = new Jar()
    const id = await request(s, jar, (session) => (session.set('n', 1), session.id))
    const key = `${prefix}:s:{${id}}`
    await raw.hset(key, '@e', '1') // the previous release marked every session with it
    expect(await request(s, jar, (session) => (session.set('n', 2), session.isNew))).toBe(false)
    expect(await request(s, jar, (session) => session.all())).toEqual({ n: 2 })
    await s.close()
  })
})
