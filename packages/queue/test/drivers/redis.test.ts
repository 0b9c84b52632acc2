import { describe } from 'vitest'
import { requireService } from '@beaver-kit/testkit'
import { describeQueueDriver } from '@beaver-kit/testkit/queue'
import { createQueue, defineJob } from '@beaver-kit/queue'

const url = await requireService('redis')

describe.runIf(url)('redis', () => {
  describeQueueDriver(
    'redis',
    (namespace) =>
      createQueue({
        driver: 'redis',
        redis: { url: url as string },
        namespace,
        envPrefix: false,
        pollInterval: '200ms',
      }),
    {
      rejectingJob: (queue) =>
        defineJob<never>(queue, {
          parse: () => {
            throw new Error('schema rejects it')
          },
        }),
    },
  )
})
