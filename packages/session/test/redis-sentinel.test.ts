// The Redis session store through a real Sentinel (a private master and sentinel, redis-server
// processes): configured from BEAVER_SESSION_* alone, it asks the sentinel for the master and
// keeps its sessions there; with sentinels that require a password, that password from
// BEAVER_SESSION_REDIS_SENTINEL_PASSWORD (never shown by describe()).
import { afterAll, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { uniqueNamespace } from '@beaver-kit/testkit'
import { redisServersAvailable } from '@beaver-kit/testkit/redis-processes'
import { sentinelAnswerWithoutPassword, sentinelEnv, useSentinelSets } from '@beaver-kit/testkit/redis-sentinel'
import { createSessions } from '@beaver-kit/session'
import { Jar, keys, request } from './helpers/session-cases.ts'

const withSentinel = redisServersAvailable('session tests')
const sentinelPassword = 'sentinel-pw-of-the-session-tests'
const { open: sentinel, guarded } = useSentinelSets(withSentinel, sentinelPassword)
const clients: Redis[] = []
afterAll(async () => {
  for (const c of clients) await c.quit()
})

describe.runIf(withSentinel)('sessions on Redis found through Sentinel', () => {
  it('runs from BEAVER_SESSION_* alone: the sentinels and the master name', async () => {
    const handle = sentinel()
    const namespace = uniqueNamespace('sesss')
    await using s = createSessions({
      keys,
      env: {
        BEAVER_SESSION_STORE: 'redis',
        ...sentinelEnv('BEAVER_SESSION_', handle),
        BEAVER_SESSION_NAMESPACE: namespace,
      },
    })
    await s.ready()
    const jar = new Jar()
    const id = await request(s, jar, (session) => (session.set('n', 1), session.id))
    expect(await request(s, jar, (session) => (session.set('n', 2), session.get('n')))).toBe(2)
    const master = new Redis({ host: '127.0.0.1', port: handle.dataPorts[0] as number })
    clients.push(master)
    expect(await master.hget(`${namespace}:s:{${id}}`, 'd:n')).toBe('2')
  })
})

describe.runIf(withSentinel)('sessions through sentinels that require a password', () => {
  it("takes the sentinels' password from BEAVER_SESSION_REDIS_SENTINEL_PASSWORD, and never shows it", async () => {
    const handle = guarded()
    expect(await sentinelAnswerWithoutPassword(handle)).toMatch(/^NOAUTH/)
    const namespace = uniqueNamespace('sesss')
    await using s = createSessions({
      keys,
      env: {
        BEAVER_SESSION_STORE: 'redis',
        ...sentinelEnv('BEAVER_SESSION_', handle, sentinelPassword),
        BEAVER_SESSION_NAMESPACE: namespace,
      },
    })
    expect(JSON.stringify(s.describe())).not.toContain(sentinelPassword)
    await s.ready()
    const jar = new Jar()
    const id = await request(s, jar, (session) => (session.set('n', 1), session.id))
    const master = new Redis({ host: '127.0.0.1', port: handle.dataPorts[0] as number })
    clients.push(master)
    expect(await master.hget(`${namespace}:s:{${id}}`, 'd:n')).toBe('1')
  })
})
