import { describeCacheDriver } from '@beaver-kit/testkit/cache'
import { createCache } from '@beaver-kit/cache'

describeCacheDriver('memory (by reference)', (ns) => createCache({ envPrefix: false, namespace: ns }), {
  shared: false,
  increment: true,
  query: false,
})

describeCacheDriver(
  'memory (serialized, lru)',
  (ns) =>
    createCache({ envPrefix: false, namespace: ns, memory: { storage: 'serialized', policy: 'lru', maxSize: '64mb' } }),
  { shared: false, increment: true, query: false },
)
