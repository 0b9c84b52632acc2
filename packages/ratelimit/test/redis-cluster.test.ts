// The Redis store on a real three-node Redis Cluster (private redis-server processes): the
// whole conformance suite with a slot per key and with a slot per namespace, keys spread over
// every master, a limitAll() across slots refused as a usage error (never decided by the
// insurance limiter as if Redis were away), and a node that lost its scripts (SCRIPT FLUSH)
// served again in the same call.
import { afterEach, describe, expect, it } from 'vitest'
import { Cluster, Redis } from 'ioredis'
import { eventually, uniqueNamespace } from '@beaver-kit/testkit'
import { describeRateLimitStore, type LimiterRule, type RateLimitSubject } from '@beaver-kit/testkit/ratelimit'
import { startRedisCluster } from '@beaver-kit/testkit/redis-cluster'
import { redisServersAvailable, useRedisProcesses } from '@beaver-kit/testkit/redis-processes'
import { channels, createLimiter, MemoryStore, RedisStore, type RedisStoreClient } from '@beaver-kit/ratelimit'

const withCluster = redisServersAvailable('ratelimit tests')
const cluster = useRedisProcesses(withCluster, startRedisCluster, 'the Redis Cluster')
const opened: Array<{ close(): Promise<unknown> }> = []
afterEach(async () => {
  for (const c of opened.splice(0).reverse()) await c.close()
})

function clusterClient(): Cluster {
  const client = new Cluster(cluster().nodes.map((n) => ({ host: '127.0.0.1', port: Number(n.split(':')[1]) })))
  opened.push({ close: () => client.quit() })
  return client
}

function store(slot: 'key' | 'namespace'): RedisStore {
  const s = new RedisStore({ client: clusterClient() as unknown as RedisStoreClient, slot })
  opened.push(s)
  return s
}

function subject(namespace: string, on: RedisStore): RateLimitSubject {
  const limiters: Array<{ close(): Promise<void> }> = []
  const build = (rule: LimiterRule, clock: () => number, s: RedisStore | MemoryStore) => {
    const l = createLimiter({
      envPrefix: false,
      namespace,
      algorithm: rule.algorithm,
      limit: rule.limit,
      window: rule.window,
      ...(rule.burst ? { burst: rule.burst } : {}),
      storeInstance: s,
      failPolicy: 'closed',
      timeout: '10s',
      clock,
    })
    limiters.push(l)
    return l
  }
  return {
    make: (rule, clock) => build(rule, clock, on),
    reference: (rule, clock) => build(rule, clock, new MemoryStore()),
    async close() {
      for (const l of limiters) await l.close()
    },
  }
}

describe.runIf(withCluster)('ratelimit on a real three-node Redis Cluster', () => {
  describeRateLimitStore('redis cluster, a slot per key', (ns) => subject(ns, store('key')), {
    store: 'redis',
    crossSlotLimitAll: false,
  })
  describeRateLimitStore('redis cluster, a slot per namespace', (ns) => subject(ns, store('namespace')), {
    store: 'redis',
  })

  it('spreads keys over every master with a slot per key, and refuses a limitAll() across slots', async () => {
    const client = clusterClient()
    const namespace = uniqueNamespace('rlc')
    await using limiter = createLimiter({
      envPrefix: false,
      namespace,
      limit: 5,
      failPolicy: 'open',
      storeInstance: store('key'),
    })
    for (let i = 0; i < 60; i++) expect(await limiter.limit(`user:${i}`)).toMatchObject({ source: 'store' })
    await client.ping()
    await eventually(() => client.nodes('master').length === 3)
    const perMaster = await Promise.all(client.nodes('master').map((n) => n.keys(`rl:{${namespace}:*`)))
    expect(perMaster.every((keys) => keys.length > 0)).toBe(true)

    const failures: unknown[] = []
    const listen = (m: unknown): void => void failures.push(m)
    channels.storeError.subscribe(listen)
    try {
      await expect(limiter.limitAll([{ key: 'user:1' }, { key: 'user:2' }])).rejects.toMatchObject({
        code: 'RATELIMIT_OPTIONS_INVALID',
        message: expect.stringContaining("slot: 'namespace'"),
      })
    } finally {
      channels.storeError.unsubscribe(listen)
    }
    expect(failures).toEqual([]) // not counted as the store being away
  })

  it('runs on the Cluster from BEAVER_RATELIMIT_* alone: mode, seed nodes and slot', async () => {
    const client = clusterClient()
    const namespace = uniqueNamespace('rlc')
    const env = {
      BEAVER_RATELIMIT_STORE: 'redis',
      BEAVER_RATELIMIT_REDIS_MODE: 'cluster',
      BEAVER_RATELIMIT_REDIS_CLUSTER_NODES: cluster().nodes.slice(0, 2).join(','), // seeds: it finds the third
      BEAVER_RATELIMIT_NAMESPACE: namespace,
      BEAVER_RATELIMIT_ALGORITHM: 'fixed-window',
      BEAVER_RATELIMIT_LIMIT: '2',
      BEAVER_RATELIMIT_FAIL_POLICY: 'closed',
      BEAVER_RATELIMIT_TIMEOUT: '5s',
    }
    await using limiter = createLimiter({ env })
    await limiter.ready()
    for (let i = 0; i < 60; i++) expect(await limiter.limit(`user:${i}`)).toMatchObject({ source: 'store' })
    expect(await limiter.limit('user:0')).toMatchObject({ source: 'store', allowed: true, remaining: 0 })
    expect(await limiter.limit('user:0')).toMatchObject({ source: 'store', allowed: false, remaining: 0 })
    await client.ping()
    await eventually(() => client.nodes('master').length === 3)
    const perMaster = await Promise.all(client.nodes('master').map((n) => n.keys(`rl:{${namespace}:*`)))
    expect(perMaster.every((keys) => keys.length > 0)).toBe(true)

    await using together = createLimiter({ env: { ...env, BEAVER_RATELIMIT_REDIS_SLOT: 'namespace' } })
    expect(await together.limitAll([{ key: 'a' }, { key: 'b' }])).toMatchObject({ allowed: true })
    expect(await client.exists(`rl:{${namespace}}:a`, `rl:{${namespace}}:b`)).toBe(2)
  })

  it('a master that lost its scripts (SCRIPT FLUSH) answers the same call through EVAL', async () => {
    const namespace = uniqueNamespace('rlc')
    await using limiter = createLimiter({
      envPrefix: false,
      namespace,
      limit: 3,
      failPolicy: 'closed',
      storeInstance: store('key'),
    })
    expect(await limiter.limit('k')).toMatchObject({ source: 'store', remaining: 2 })
    for (const address of cluster().nodes) {
      const node = new Redis(Number(address.split(':')[1]), '127.0.0.1')
      await node.script('FLUSH')
      await node.quit()
    }
    expect(await limiter.limit('k')).toMatchObject({ source: 'store', remaining: 1 })
    expect(await limiter.limitAll([{ key: 'k' }])).toMatchObject({ allowed: true })
  })
})
