import { afterAll, beforeAll, describe } from 'vitest'
import { describeCacheDriver } from '@beaver-kit/testkit/cache'
import { requireService } from '@beaver-kit/testkit'
import { createCache } from '@beaver-kit/cache'
import { clusterAvailable, startRedisCluster, type RedisClusterHandle } from './helpers/redis-cluster.ts'

const url = await requireService('redis')

describe.runIf(url)('redis standalone', () => {
  describeCacheDriver(
    'redis',
    (ns) => createCache({ envPrefix: false, driver: 'redis', redis: { url }, namespace: ns }),
    { shared: true, increment: true, query: false },
  )
})

const withCluster = clusterAvailable()
let cluster: RedisClusterHandle | undefined
beforeAll(async () => {
  if (withCluster) cluster = await startRedisCluster()
}, 60_000)
afterAll(async () => {
  await cluster?.stop()
})

describe.runIf(withCluster)('redis cluster (three real nodes)', () => {
  describeCacheDriver(
    'redis cluster',
    (ns) => {
      if (!cluster) throw new Error('the Redis Cluster did not start')
      return createCache({
        envPrefix: false,
        driver: 'redis',
        redis: { mode: 'cluster', clusterNodes: cluster.nodes },
        namespace: ns,
      })
    },
    { shared: true, increment: true, query: false },
  )
})
