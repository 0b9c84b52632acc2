// The whole conformance suite against the local nats-server with JetStream. Streams get a
// prefix of their own per run and are deleted afterwards: the server is shared.
import { afterAll, describe } from 'vitest'
import { requireService } from '@beaver-kit/testkit'
import { describeQueueDriver } from '@beaver-kit/testkit/queue'
import { createQueue, defineJob } from '@beaver-kit/queue'
import { deleteNatsStreams, natsTestPrefix } from '../support/nats-streams.ts'

const url = await requireService('nats')
const prefix = natsTestPrefix()

afterAll(async () => {
  if (url) await deleteNatsStreams(url, prefix)
})

describe.runIf(url)('nats (JetStream)', () => {
  describeQueueDriver(
    'nats',
    (namespace) =>
      createQueue({
        driver: 'nats',
        nats: { servers: [url as string], prefix },
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
