// Side-by-side benchmark of @beaver-kit/session on the kit's harness (@beaver-kit/testkit/bench):
// load + save of a session per request, through real node:http servers on loopback, 16
// requests in flight over 64 sessions (one per simulated user; each request changes a counter):
//   store mode on Redis: the kit (store mode on a Redis cache) against express-session with
//                        connect-redis (the usual pairing), and a server without sessions (floor)
//   stateless cookie:    the kit's cookie mode against iron-session, same floor
// Run: npm run bench -w @beaver-kit/session   (BENCH_QUICK=1 for a smoke run that writes nothing)
import { createServer, Agent, request, type IncomingMessage, type ServerResponse, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { RedisStore as ConnectRedisStore } from 'connect-redis'
import expressSession from 'express-session'
import { getIronSession } from 'iron-session'
import { createClient } from 'redis'
import { createCache } from '@beaver-kit/cache'
import { generateKeyRingEntry } from '@beaver-kit/krypto'
import { isQuick, runBench } from '@beaver-kit/testkit/bench'
import { createSessions, type Session } from '@beaver-kit/session'

const REDIS_URL = process.env.BEAVER_TEST_REDIS_URL || 'redis://127.0.0.1:6379'
const USERS = 64
const PREFIX = `bench-sess-${process.pid}`
const secret = 'a-bench-secret-of-at-least-32-characters!'

type Handler = (req: IncomingMessage, res: ServerResponse) => void
const servers: Server[] = []
async function listen(handler: Handler): Promise<number> {
  const server = createServer(handler)
  server.keepAliveTimeout = 120_000 // idle between rounds: no reset racing a reused socket
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 })
/** One GET with a cookie; resolves with the Set-Cookie values once the body is read. */
function get(port: number, cookie: string | undefined): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const req = request({ port, host: '127.0.0.1', path: '/', agent, headers: cookie ? { cookie } : {} }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.headers['set-cookie'] ?? []))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

/** A contender: a server, and the cookies of its USERS sessions made by one first request each. */
async function contender(handler: Handler): Promise<() => Promise<unknown>> {
  const port = await listen(handler)
  const jars: Array<string | undefined> = []
  for (let i = 0; i < USERS; i++) {
    const set = await get(port, undefined)
    jars.push(set.length > 0 ? set.map((c) => c.split(';')[0]).join('; ') : undefined)
  }
  let at = 0
  return () => get(port, jars[at++ % USERS])
}

const visit = (session: Session): number => {
  const n = (session.get<number>('n') ?? 0) + 1
  session.set('n', n)
  return n
}

// The kit, store mode: on Redis directly (the redis store: a save is one EVALSHA), and on a
// kit cache with the Redis driver (any cache works; a save takes the session's lock).
const kitRedis = createSessions({
  envPrefix: false,
  keys: [generateKeyRingEntry('bench')],
  secure: false,
  store: 'redis',
  redis: { url: REDIS_URL },
  namespace: `${PREFIX}-kit-redis`,
})
const kitRedisHandle = kitRedis.middleware()
const kitCache = createCache({
  envPrefix: false,
  driver: 'redis',
  redis: { url: REDIS_URL },
  namespace: `${PREFIX}-kit`,
})
const keys = [generateKeyRingEntry('bench')]
const kitCacheStore = createSessions({ envPrefix: false, keys, secure: false, cache: kitCache, mode: 'store' })
const kitCacheStoreHandle = kitCacheStore.middleware()
const kitCookie = createSessions({ envPrefix: false, keys, secure: false, cache: kitCache, mode: 'cookie' })
const kitCookieHandle = kitCookie.middleware()
const kitHandler =
  (handle: typeof kitRedisHandle): Handler =>
  (req, res) => {
    void handle(req, res).then((session) => res.end(String(visit(session as Session))))
  }

// express-session with connect-redis on node-redis (what connect-redis 9 takes).
const nodeRedis = createClient({ url: REDIS_URL })
nodeRedis.on('error', (error: unknown) => console.error('node-redis:', error)) // reconnects by itself
await nodeRedis.connect()
const express = expressSession({
  secret,
  resave: false,
  saveUninitialized: true,
  store: new ConnectRedisStore({ client: nodeRedis, prefix: `${PREFIX}-es:` }),
})
const expressHandler: Handler = (req, res) => {
  express(req as never, res as never, () => {
    const s = (req as unknown as { session: { n?: number } }).session
    s.n = (s.n ?? 0) + 1
    res.end(String(s.n))
  })
}

// iron-session: sealed cookie, saved on every request.
const ironHandler: Handler = (req, res) => {
  void getIronSession<{ n?: number }>(req, res, {
    password: secret,
    cookieName: 'iron',
    cookieOptions: { secure: false },
  }).then(async (s) => {
    s.n = (s.n ?? 0) + 1
    await s.save()
    res.end(String(s.n))
  })
}

const floorHandler: Handler = (_req, res) => void res.end('1')

const kitRedisCall = await contender(kitHandler(kitRedisHandle))
const kitCacheStoreCall = await contender(kitHandler(kitCacheStoreHandle))
const kitCookieCall = await contender(kitHandler(kitCookieHandle))
const expressCall = await contender(expressHandler)
const ironCall = await contender(ironHandler)
const floorCall = await contender(floorHandler)

try {
  await runBench({
    package: 'session',
    url: import.meta.url,
    rounds: isQuick() ? 1 : 5,
    cases: [
      {
        name: 'store on Redis: load+save per request, 16 in flight',
        concurrency: 16,
        latency: true,
        contenders: [
          { contender: 'beaver-kit', variant: 'redis store', fn: kitRedisCall },
          { contender: 'beaver-kit', variant: 'redis cache', fn: kitCacheStoreCall },
          { contender: 'express-session', variant: 'connect-redis', fn: expressCall },
          { contender: 'floor', fn: floorCall },
        ],
      },
      {
        name: 'sealed cookie: load+save per request, 16 in flight',
        concurrency: 16,
        latency: true,
        contenders: [
          { contender: 'beaver-kit', fn: kitCookieCall },
          { contender: 'iron-session', fn: ironCall },
          { contender: 'floor', fn: floorCall },
        ],
      },
    ],
    goals: [
      {
        goal: 'store mode on Redis ≥ 1.0x express-session + connect-redis',
        case: 'store on Redis: load+save per request, 16 in flight',
        of: { contender: 'beaver-kit', variant: 'redis store' },
        over: { contender: 'express-session', variant: 'connect-redis' },
        target: 1,
      },
      {
        goal: 'cookie mode ≥ 1.0x iron-session',
        case: 'sealed cookie: load+save per request, 16 in flight',
        over: 'iron-session',
        target: 1,
      },
    ],
    notes: [
      'Each request loads a session, changes a counter and saves it; 64 users, 16 requests in flight, over keep-alive loopback HTTP from the same process (the client costs every contender the same).',
      'The kit in store mode merges changed keys (no lost updates): the redis store in one EVALSHA that writes only into a session that still exists, a kit cache (any driver; here Redis) under a per-session lock (four round trips); express-session overwrites the whole session. floor: the same server without sessions.',
      'The same work on both sides of the store goal: one counter per session, a 24 h TTL refreshed by each save, a Set-Cookie only for a new session, two Redis round trips per request (the kit HGETALL + EVALSHA, connect-redis GET + SET EX); the kit renews the idle timeout (PEXPIRE, a new cookie) once less than half is left, connect-redis sets the TTL with every SET (and express-session, rolling: false, sends no new cookie). The id cookie: express-session checks its HMAC on every request; the kit opens its sealed (AES-GCM) id once per cookie and remembers it (bounded), a revoked id still refused because the store is asked every time. Clients: connect-redis 9 on node-redis, the kit on ioredis with its socket corked for each event-loop turn (both write the commands of concurrent requests together).',
      'Redis runs on the same 2 vCPUs as the bench.',
    ],
  })
} finally {
  for (const s of servers) s.closeAllConnections()
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
  agent.destroy()
  let cursor = '0'
  do {
    const reply = await nodeRedis.scan(cursor, { MATCH: `${PREFIX}*`, COUNT: 1000 })
    cursor = String(reply.cursor)
    if (reply.keys.length > 0) await nodeRedis.del(reply.keys)
  } while (cursor !== '0')
  await nodeRedis.quit()
  await kitCache.close()
  await kitRedis.close()
}
