import { describe } from 'vitest'
import { requireService } from '@beaver-kit/testkit'
import { describeQueueDriver } from '@beaver-kit/testkit/queue'
import { createQueue, defineJob } from '@beaver-kit/queue'

const url = await requireService('rabbitmq')

describe.runIf(url)('rabbitmq', () => {
  describeQueueDriver(
    'rabbitmq',
    (namespace) =>
      createQueue({
        driver: 'rabbitmq',
        // Each test's queues are deleted by the broker a minute after their last use.
        rabbitmq: { url: url as string, expires: '1m' },
        namespace,
        envPrefix: false,
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
