import { describe } from 'vitest'
import { describeCacheDriver } from '@beaver-kit/testkit/cache'
import { requireService } from '@beaver-kit/testkit'
import { createCache } from '@beaver-kit/cache'
import { clusterAvailable, startRedisCluster } from './helpers/redis-cluster.ts'
import { useRedisProcesses } from './helpers/redis-processes.ts'

const url = await requireService('redis')

describe.runIf(url)('redis standalone', () => {
  describeCacheDriver(
    'redis',
    (ns) => createCache({ envPrefix: false, driver: 'redis', redis: { url }, namespace: ns }),
    { shared: true, increment: true, query: false },
  )
})

const withCluster = clusterAvailable()
const cluster = useRedisProcesses(withCluster, startRedisCluster, 'the Redis Cluster')

describe.runIf(withCluster)('redis cluster (three real nodes)', () => {
  describeCacheDriver(
    'redis cluster',
    (ns) => {
      return createCache({
        envPrefix: false,
        driver: 'redis',
        redis: { mode: 'cluster', clusterNodes: cluster().nodes },
        namespace: ns,
      })
    },
    { shared: true, increment: true, query: false },
  )
})
