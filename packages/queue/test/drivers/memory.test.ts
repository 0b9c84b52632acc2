import { describeQueueDriver } from '@beaver-kit/testkit/queue'
import { createQueue, defineJob } from '@beaver-kit/queue'
import { createMemoryQueueStore, memoryDriver } from '@beaver-kit/queue/memory'

const stores = new Map<string, ReturnType<typeof createMemoryQueueStore>>()

describeQueueDriver(
  'memory',
  (namespace) => {
    let store = stores.get(namespace)
    if (!store) {
      store = createMemoryQueueStore()
      stores.set(namespace, store)
    }
    return createQueue({
      driver: memoryDriver,
      driverOptions: { store },
      namespace,
      envPrefix: false,
      pollInterval: '50ms',
    })
  },
  {
    rejectingJob: (queue) =>
      defineJob<never>(queue, {
        parse: () => {
          throw new Error('schema rejects it')
        },
      }),
  },
)
