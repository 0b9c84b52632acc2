import { describe, expect, it } from 'vitest'
import {
  LazyClient,
  parseRedisNode,
  redisClusterSeeds,
  redisSentinelOptions,
  redisTopologyProblem,
  type LifecycleClient,
} from '@beaver-kit/core'

/** A client that records what the lifecycle did to it. */
function fakeClient(connects: 'ok' | 'fail' = 'ok'): LifecycleClient & { calls: string[]; listeners: number } {
  const c = {
    status: 'wait',
    calls: [] as string[],
    listeners: 0,
    on() {
      c.listeners++
      return c
    },
    connect() {
      c.calls.push('connect')
      if (connects === 'fail') return Promise.reject(new Error('ECONNREFUSED'))
      c.status = 'ready'
      return Promise.resolve()
    },
    quit() {
      c.calls.push('quit')
      return Promise.resolve('OK')
    },
    disconnect() {
      c.calls.push('disconnect')
    },
  }
  return c
}

describe('LazyClient', () => {
  it('makes, listens to and connects its own client once however many ask, and quits it on close', async () => {
    const made: Array<ReturnType<typeof fakeClient>> = []
    const lazy = new LazyClient(undefined, () => {
      const c = fakeClient()
      made.push(c)
      return Promise.resolve(c)
    })
    expect(lazy.current).toBeUndefined()
    const [a, b] = await Promise.all([lazy.get(), lazy.get()])
    expect(a).toBe(b)
    expect(made).toHaveLength(1)
    expect(lazy.current).toBe(a)
    expect(made[0]).toMatchObject({ calls: ['connect'], listeners: 1 })
    await lazy.close()
    expect(made[0]?.calls).toEqual(['connect', 'quit'])
    expect(lazy.current).toBeUndefined()
    await lazy.close() // idempotent
    expect(made[0]?.calls).toEqual(['connect', 'quit'])
  })

  it('keeps its own client when the first connect fails (it reconnects), and disconnects it on close', async () => {
    const own = fakeClient('fail')
    const lazy = new LazyClient(undefined, () => Promise.resolve(own))
    expect(await lazy.get()).toBe(own)
    await lazy.close()
    expect(own.calls).toEqual(['connect', 'disconnect'])
  })

  it('reuses a given client as it is: no connect, no listener, never closed', async () => {
    const given = fakeClient()
    const lazy = new LazyClient(given, () => Promise.reject(new Error('must not make one')))
    expect(await lazy.get()).toBe(given)
    expect(lazy.current).toBe(given)
    await lazy.close()
    expect(given).toMatchObject({ calls: [], listeners: 0 })
  })
})

describe('Redis nodes', () => {
  it('reads host:port and [IPv6]:port, and refuses anything else saying what it found', () => {
    expect(parseRedisNode(' cache-1.internal:7000 ')).toEqual({ host: 'cache-1.internal', port: 7000 })
    expect(parseRedisNode('[::1]:7001')).toEqual({ host: '::1', port: 7001 })
    for (const bad of ['cache-1', 'cache-1:', ':7000', 'h:0', 'h:65536', 'h:70x', 'redis://h:7000', '::1:7000']) {
      expect(() => parseRedisNode(bad), bad).toThrow(new RegExp(`"${bad.replace(/[[\]]/g, '\\$&')}" is not host:port`))
    }
  })

  it('seeds a Cluster from its nodes or else the URL, with the URL’s credentials for every node', () => {
    expect(redisClusterSeeds('redis://u:p%40ss@10.0.0.1:7000', ['a:1', 'b:2'])).toEqual({
      nodes: [
        { host: 'a', port: 1 },
        { host: 'b', port: 2 },
      ],
      username: 'u',
      password: 'p@ss',
    })
    expect(redisClusterSeeds('redis://[::1]', [])).toEqual({ nodes: [{ host: '::1', port: 6379 }] })
  })

  it('finds a master through Sentinel with the URL’s user, password and db for the master', () => {
    expect(redisSentinelOptions('redis://u:p%40ss@ignored:1/3', ['s1:26379', '[::1]:26380'], 'main')).toEqual({
      sentinels: [
        { host: 's1', port: 26379 },
        { host: '::1', port: 26380 },
      ],
      name: 'main',
      username: 'u',
      password: 'p@ss',
      db: 3,
    })
    expect(redisSentinelOptions('redis://127.0.0.1:6379', ['s1:26379'], 'mymaster')).toEqual({
      sentinels: [{ host: 's1', port: 26379 }],
      name: 'mymaster',
    })
    expect(() => redisSentinelOptions('redis://h', ['s1'], 'm')).toThrow(/"s1" is not host:port/)
  })

  it('says which Redis topology settings do not fit together, naming the variables', () => {
    const at = 'BEAVER_X_REDIS_'
    expect(redisTopologyProblem({}, at)).toBeUndefined()
    expect(redisTopologyProblem({ mode: 'cluster', clusterNodes: ['a:1'] }, at)).toBeUndefined()
    expect(redisTopologyProblem({ mode: 'sentinel', sentinels: ['a:1'] }, at)).toBeUndefined()
    expect(redisTopologyProblem({ clusterNodes: ['a:1'] }, at)).toMatch(
      /^BEAVER_X_REDIS_CLUSTER_NODES \(redis.clusterNodes\) is set but BEAVER_X_REDIS_MODE is standalone/,
    )
    expect(redisTopologyProblem({ mode: 'cluster', sentinels: ['a:1'] }, at)).toMatch(
      /^BEAVER_X_REDIS_SENTINELS \(redis.sentinels\) is set but BEAVER_X_REDIS_MODE is cluster: set the mode to sentinel/,
    )
    expect(redisTopologyProblem({ mode: 'sentinel', sentinels: [] }, at)).toMatch(
      /^BEAVER_X_REDIS_MODE is sentinel but BEAVER_X_REDIS_SENTINELS \(redis.sentinels\) is empty/,
    )
  })
})
