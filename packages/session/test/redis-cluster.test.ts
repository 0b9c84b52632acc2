// The Redis session store on a real three-node Redis Cluster (private redis-server processes):
// every session case in both modes, sessions spread over the masters with each script in one
// slot, and a master that lost its scripts (SCRIPT FLUSH) served again within the same save.
import { afterAll, describe, expect, it } from 'vitest'
import { Cluster, Redis } from 'ioredis'
import { eventually, uniqueNamespace } from '@beaver-kit/testkit'
import { startRedisCluster } from '@beaver-kit/testkit/redis-cluster'
import { redisServersAvailable, useRedisProcesses } from '@beaver-kit/testkit/redis-processes'
import { createSessions, RedisSessionStore, type RedisSessionClient } from '@beaver-kit/session'
import { describeSessions, Jar, keys, request } from './helpers/session-cases.ts'

const withCluster = redisServersAvailable('session tests')
const cluster = useRedisProcesses(withCluster, startRedisCluster, 'the Redis Cluster')
const clients: Cluster[] = []
afterAll(async () => {
  for (const c of clients) await c.quit()
})

function clusterClient(): Cluster {
  const client = new Cluster(cluster().nodes.map((n) => ({ host: '127.0.0.1', port: Number(n.split(':')[1]) })))
  clients.push(client)
  return client
}

const store = (prefix = uniqueNamespace('sessc')): RedisSessionStore =>
  new RedisSessionStore({ client: clusterClient() as unknown as RedisSessionClient, prefix })

describe.runIf(withCluster)('sessions on a real three-node Redis Cluster', () => {
  describeSessions('redis store on a Cluster', () => ({ store: store() }))

  it('spreads sessions over every master; login, index and revokeAll stay in their slots', async () => {
    const prefix = uniqueNamespace('sessc')
    const s = createSessions({ envPrefix: false, keys, store: store(prefix) })
    const jars = Array.from({ length: 30 }, () => new Jar())
    for (const jar of jars) await request(s, jar, (session) => session.login('spread-user', { device: 'd' }))
    const client = clusterClient()
    await client.ping()
    await eventually(() => client.nodes('master').length === 3)
    const perMaster = await Promise.all(client.nodes('master').map((n) => n.keys(`${prefix}:s:*`)))
    expect(perMaster.every((k) => k.length > 0)).toBe(true)
    expect((await s.listSessions('spread-user')).length).toBe(30)
    expect(await s.revokeAll('spread-user')).toBe(30)
    expect(await request(s, jars[0] as Jar, (session) => session.userId)).toBeUndefined()
    expect(await s.listSessions('spread-user')).toEqual([])
  })

  it('runs on the Cluster from BEAVER_SESSION_* alone: the redis store seeded by the node list', async () => {
    const namespace = uniqueNamespace('sessc')
    const s = createSessions({
      keys,
      env: {
        BEAVER_SESSION_STORE: 'redis',
        BEAVER_SESSION_REDIS_MODE: 'cluster',
        BEAVER_SESSION_REDIS_CLUSTER_NODES: cluster().nodes.slice(0, 2).join(','), // seeds: it finds the third
        BEAVER_SESSION_NAMESPACE: namespace,
      },
    })
    try {
      await s.ready()
      const jars = Array.from({ length: 30 }, () => new Jar())
      for (const jar of jars) await request(s, jar, (session) => session.set('n', 1))
      for (const jar of jars) await request(s, jar, (session) => session.set('n', (session.get<number>('n') ?? 0) + 1))
      expect(await request(s, jars[7] as Jar, (session) => session.get('n'))).toBe(2)
      const client = clusterClient()
      await client.ping()
      await eventually(() => client.nodes('master').length === 3)
      const perMaster = await Promise.all(client.nodes('master').map((n) => n.keys(`${namespace}:s:*`)))
      expect(perMaster.every((k) => k.length > 0)).toBe(true)
      expect(perMaster.flat()).toHaveLength(30)
    } finally {
      await s.close()
    }
  })

  it('a master that lost its scripts (SCRIPT FLUSH) still saves, in the same call', async () => {
    const s = createSessions({ envPrefix: false, keys, store: store() })
    const jar = new Jar()
    await request(s, jar, (session) => session.set('n', 1))
    for (const address of cluster().nodes) {
      const node = new Redis(Number(address.split(':')[1]), '127.0.0.1')
      await node.script('FLUSH')
      await node.quit()
    }
    await request(s, jar, (session) => session.set('n', 2))
    expect(await request(s, jar, (session) => session.get('n'))).toBe(2)
  })
})
