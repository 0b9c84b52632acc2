// A second process for the revoke-all test: sessions on the Redis named in argv (through a kit
// cache, or the redis store). Reads
// commands on stdin, one JSON per line, and answers one JSON line each:
//   { op: 'login', userId } → { cookie }   (a new session signed in)
//   { op: 'whoami', cookie } → { userId }  (undefined when the cookie no longer holds a session)
import { createInterface } from 'node:readline'
import { createCache } from '@beaver-kit/cache'
import { createSessions } from '@beaver-kit/session'

const { url, namespace, keys, mode, store } = JSON.parse(process.argv[2] as string) as {
  url: string
  namespace: string
  keys: string[]
  mode: 'store' | 'cookie'
  store: 'cache' | 'redis'
}
const cache = createCache({ envPrefix: false, driver: 'redis', redis: { url }, namespace })
const sessions =
  store === 'redis'
    ? createSessions({ envPrefix: false, keys, mode, store, redis: { url }, namespace })
    : createSessions({ envPrefix: false, keys, mode, cache })
const lines = createInterface({ input: process.stdin })
for await (const line of lines) {
  const cmd = JSON.parse(line) as { op: 'login'; userId: string } | { op: 'whoami'; cookie: string }
  const session = await sessions.load({ headers: cmd.op === 'whoami' ? { cookie: cmd.cookie } : {} })
  if (cmd.op === 'login') await session.login(cmd.userId, { device: `pid ${process.pid}` })
  const set: string[] = []
  await sessions.commit(session, { appendHeader: (_name, value) => set.push(...[value].flat()) })
  const cookie = set.map((c) => c.split(';')[0]).join('; ')
  process.stdout.write(`${JSON.stringify(cmd.op === 'login' ? { cookie } : { userId: session.userId ?? null })}\n`)
}
await sessions.close()
await cache.close()
